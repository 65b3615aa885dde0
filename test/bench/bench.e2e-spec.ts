import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyEntry, historyTable, historyVerdicts } from '../../bench/lib/history.mjs';
import { betterRun, runsText } from '../../bench/lib/runs.mjs';
import { PROJECT_ROOT } from '../harness/index.js';

/**
 * The bench's own contract, on a short targeted run: a smoke run never replaces the committed
 * results the README embeds, `--save` is refused outside a full run, and the load generator's
 * Engine.IO / Socket.IO framing really drives the Socket.IO peer (connects, joins, acks, deliveries).
 */
const RESULTS = join(PROJECT_ROOT, 'bench', 'results');
const committed = ['latest.json', 'latest.md', 'latest.svg', 'history.jsonl'].map((f) => join(RESULTS, f));
const digest = () =>
  committed.map((f) => createHash('sha256').update(readFileSync(f)).digest('hex')).join(',');

function runBench(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bench', 'run.mjs'), ...args], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`bench did not finish in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('npm run bench', () => {
  it('refuses --save outside a full run and leaves the committed results alone', async () => {
    const before = digest();
    const r = await runBench(['--quick', '--save', '--no-build'], 20_000);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/--save .* needs a full run/);
    expect(digest()).toBe(before);
    // A saved run measures the fan-out servers twice like every full run: --once is not one.
    const once = await runBench(['--save', '--once', '--no-build'], 20_000);
    expect(once.code).toBe(2);
    expect(once.out).toMatch(/--save .* needs a full run/);
    expect(digest()).toBe(before);
  }, 50_000);

  it('of two runs of a server, keeps the faster one and both figures, in the order measured', () => {
    const slow = { best: { deliveredPerSec: 2_160_000, p99Ms: 21 }, steps: ['slow'] };
    const fast = { best: { deliveredPerSec: 3_070_000, p99Ms: 64 }, steps: ['fast'] };
    const late = betterRun(slow, fast);
    expect(late.steps).toEqual(['fast']);
    expect(late.run).toBe(2);
    expect(late.runs).toEqual([
      { deliveredPerSec: 2_160_000, p99Ms: 21 },
      { deliveredPerSec: 3_070_000, p99Ms: 64 },
    ]);
    expect(betterRun(fast, slow)).toMatchObject({ steps: ['fast'], run: 1 });
    // A run where no step passed never wins, and shows as null.
    const none = { steps: ['none'] };
    expect(betterRun(none, slow)).toMatchObject({ steps: ['slow'], run: 2, runs: [null, slow.best] });
    expect(betterRun(slow, none)).toMatchObject({ steps: ['slow'], run: 1, runs: [slow.best, null] });
    expect(runsText(betterRun(none, late))).toBe('none then 3.07M');
  });

  it("judges each target on the median of the last three saved runs' ratios, each run's shown", () => {
    const target = (key: string, a: string, b: string, goal: number, ratio?: number) => ({
      key,
      a,
      b,
      target: goal,
      what: `${key}: ${a} >= ${goal}x ${b}`,
      ratio,
    });
    const run = (date: string, cluster?: number, own?: number) =>
      historyEntry(date, 'abc1234', [
        target('fanout100', 'gateway-rediscluster', 'gateway-redis', 0.8, cluster),
        ...(own === undefined ? [] : [target('fanout100', 'gateway-redis', 'gateway', 0.7, own)]),
      ]);
    const history = [
      run('2026-11-27T01:00:00.000Z', 0.1, 0.1), // the oldest: beyond the last three, not counted
      run('2026-11-28T05:37:27.325Z', 0.8349, 0.74),
      run('2026-11-28T07:47:34.676Z', 0.71, 0.81),
      run('2026-11-28T08:34:19.000Z', 0.95),
    ];
    // Kept whole, so that a verdict rounds once, like the run's own table.
    expect(history[1].targets[0].ratio).toBe(0.8349);
    const [cluster] = historyVerdicts(history);
    const [, own] = historyVerdicts([...history.slice(0, 3), run('2026-11-28T08:34:19.000Z', 0.95, 0.66)]);
    // 0.8349, 0.71, 0.95: the median 0.8349 meets 0.8 although one run missed it.
    expect(cluster).toMatchObject({ ratios: [0.8349, 0.71, 0.95], median: 0.8349, ok: true });
    // 0.74, 0.81, 0.66: median 0.74 >= 0.7.
    expect(own).toMatchObject({ ratios: [0.74, 0.81, 0.66], median: 0.74, ok: true });
    // Two misses of three: the median misses.
    expect(historyVerdicts([run('a', 0.7), run('b', 0.9), run('c', 0.75)])[0]).toMatchObject({
      median: 0.75,
      ok: false,
    });
    // A run with no passing step counts as a miss; a run that did not measure the target is left out.
    const noStep = historyEntry('d', 'abc1234', [
      target('fanout100', 'gateway-rediscluster', 'gateway-redis', 0.8),
    ]);
    expect(noStep.targets[0].ratio).toBeNull();
    expect(historyVerdicts([run('a', 0.9), noStep, run('c', 0.85)])[0]).toMatchObject({
      ratios: [0.9, null, 0.85],
      median: 0.85,
      ok: true,
    });
    expect(historyVerdicts([run('a', 0.9), noStep, noStep])[0]).toMatchObject({ ok: false });
    const table = historyTable(history);
    expect(table[0]).toContain('last 3 full runs (2026-11-28 05:37 (abc1234), 2026-11-28 07:47 (abc1234)');
    expect(table).toContain(
      '| fanout100: gateway-rediscluster >= 0.8x gateway-redis | 0.83 / 0.71 / 0.95 | 0.83x | met (>= 0.8) |',
    );
    // The newest run did not measure gateway+Redis / gateway: the table follows the newest run's targets.
    expect(table.filter((l) => l.startsWith('| fanout100'))).toHaveLength(1);
    expect(historyTable([])).toEqual([]);
  });

  it('a quick run drives Socket.IO over its own framing and writes only results/tmp/', async () => {
    const before = digest();
    const r = await runBench(['--quick', '--only=fanout100', '--servers=socketio', '--no-build'], 90_000);
    expect(r.code).toBe(0);
    expect(digest()).toBe(before);
    const res = JSON.parse(readFileSync(join(RESULTS, 'tmp', 'latest.json'), 'utf8'));
    const sio = res.scenarios.fanout100.socketio;
    expect(sio.error).toBeUndefined();
    expect(sio.generator.connectsOk).toBe(100);
    expect(sio.joinFailures).toBe(0);
    // The first step runs whatever the load: every publication acked, every member got it.
    const first = sio.steps[0];
    expect(first.published).toBeGreaterThan(0);
    expect(first.acked).toBe(first.published);
    expect(first.delivered).toBe(first.published * 100);
  }, 100_000);

  it('--profile samples the gateway under load and writes the profile, the gateway staying up', async () => {
    const r = await runBench(
      [
        '--profile',
        '--quick',
        '--profile-clients=20',
        '--profile-rate=2000',
        '--profile-seconds=1',
        '--no-build',
      ],
      60_000,
    );
    expect(r.code).toBe(0);
    const summary = readFileSync(join(RESULTS, 'tmp', 'profile-latest.txt'), 'utf8').split('\n');
    const step = JSON.parse(summary[1]);
    expect(step.error).toBeUndefined();
    expect(step.loss).toBe(0);
    expect(step.delivered).toBeGreaterThan(0);
    const profile = JSON.parse(readFileSync(join(PROJECT_ROOT, summary[0]), 'utf8'));
    expect(profile.samples.length).toBeGreaterThan(0);
  }, 70_000);
});
