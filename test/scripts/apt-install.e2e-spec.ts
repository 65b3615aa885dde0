// scripts/lib/apt-install.sh (used by install-chromium/nginx/promtool.sh) against a fake apt-get on
// PATH: it installs the named package with policy-rc.d answering 101 while apt runs (so a package's
// service is not started), removes that file afterwards, and reports apt's failure as its own.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../harness/paths.js';

const LIB = join(PROJECT_ROOT, 'scripts', 'lib', 'apt-install.sh');

describe('scripts/lib/apt-install.sh', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gw-apt-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A fake apt-get logging its arguments and what policy-rc.d answered while it ran. */
  function fakeApt(exitOnInstall: number): void {
    writeFileSync(
      join(dir, 'apt-get'),
      `#!/bin/sh\n` +
        `policy="$APT_POLICY_RC_D"; answer=none\n` +
        `if [ -x "$policy" ]; then "$policy"; answer=$?; fi\n` +
        `echo "$* policy=$answer" >> "${join(dir, 'log')}"\n` +
        `case "$*" in *install*) exit ${exitOnInstall};; esac\n`,
    );
    chmodSync(join(dir, 'apt-get'), 0o755);
  }

  async function run(): Promise<{ code: number; err: string }> {
    const env = {
      ...process.env,
      PATH: `${dir}:${process.env.PATH}`,
      APT_POLICY_RC_D: join(dir, 'policy-rc.d'),
    };
    try {
      const { stderr } = await promisify(execFile)(
        'bash',
        ['-c', `. "${LIB}"; apt_install who-am-i somepkg`],
        {
          env,
        },
      );
      return { code: 0, err: stderr };
    } catch (e) {
      const x = e as { code: number; stderr: string };
      return { code: x.code, err: x.stderr };
    }
  }

  it('updates, installs the package with services held back, then removes its policy-rc.d', async () => {
    if (process.getuid?.() !== 0) return; // the non-root path needs sudo; CI runs as root
    fakeApt(0);
    const r = await run();
    expect(r.code).toBe(0);
    expect(r.err).toContain('who-am-i: installing Debian somepkg');
    const log = readFileSync(join(dir, 'log'), 'utf8').trim().split('\n');
    expect(log).toEqual([
      'update -qq policy=101',
      'install -y -qq --no-install-recommends somepkg policy=101',
    ]);
    expect(existsSync(join(dir, 'policy-rc.d'))).toBe(false);
  });

  it("fails with apt's failure, and still removes its policy-rc.d", async () => {
    if (process.getuid?.() !== 0) return;
    fakeApt(100);
    const r = await run();
    expect(r.code).toBe(100);
    expect(existsSync(join(dir, 'policy-rc.d'))).toBe(false);
  });

  it('leaves a policy-rc.d it did not create in place', async () => {
    if (process.getuid?.() !== 0) return;
    fakeApt(0);
    writeFileSync(join(dir, 'policy-rc.d'), '#!/bin/sh\nexit 101\n');
    chmodSync(join(dir, 'policy-rc.d'), 0o755);
    expect((await run()).code).toBe(0);
    expect(existsSync(join(dir, 'policy-rc.d'))).toBe(true);
  });
});
