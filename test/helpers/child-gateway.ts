import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_SECRET } from './app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The built server (dist/main.js). `npm test` builds first; run `npm run build` before running these alone. */
export const DIST_MAIN = join(ROOT, 'dist', 'main.js');

export function requireBuild(): void {
  if (!existsSync(DIST_MAIN)) throw new Error(`${DIST_MAIN} is missing: run "npm run build" first`);
}

export interface ChildGateway {
  proc: ChildProcess;
  port: number;
  output: string[];
  /** Resolves with the exit code (or signal name) when the process exits. */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

/** Starts `node dist/main.js` as a child process on a free port and waits until it listens. */
export async function startChild(env: Record<string, string>): Promise<ChildGateway> {
  requireBuild();
  const proc = spawn(process.execPath, [DIST_MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      JWT_SECRET: TEST_SECRET,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | string>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const port = await new Promise<number>((resolveListen, rejectListen) => {
    const resolve = (port: number): void => {
      clearTimeout(timer);
      resolveListen(port);
    };
    const reject = (err: Error): void => {
      clearTimeout(timer);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      rejectListen(err);
    };
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        output.push(line);
        const m = /"port":(\d+)/.exec(line);
        if (m && line.includes('listening')) resolve(Number(m[1]));
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', (c: Buffer) => output.push(c.toString()));
    void exited.then((code) =>
      reject(new Error(`gateway exited (${code}) before listening:\n${output.join('\n')}`)),
    );
    const timer = setTimeout(
      () => reject(new Error(`gateway did not listen within 15 s:\n${output.join('\n')}`)),
      15000,
    );
  });
  return {
    proc,
    port,
    output,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
}
