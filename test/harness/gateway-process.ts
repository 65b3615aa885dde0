import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST_MAIN, PROJECT_ROOT, requireBuild } from './paths.js';
import { TEST_SECRET } from './tokens.js';

export interface GatewayProcessOptions {
  /** Environment on top of the test defaults (NODE_ENV=test, 127.0.0.1, LOG_LEVEL=info, JWT_SECRET). */
  env?: Record<string, string>;
  /**
   * NODE_ENV=development instead of test: dev tokens (POST /auth/dev-token) exist only there. Unless
   * `cwd` is given, every run gets a fresh working directory, so that without JWT_SECRET the secret
   * development mode keeps in ./.dev-secret lives as long as the run (a restart gets a new one) and
   * no .env of the checkout is read.
   */
  development?: boolean;
  /** Start from PATH alone instead of the test defaults (start-up checks). */
  bare?: boolean;
  /** Working directory (default: the project root). */
  cwd?: string;
  /** The port to listen on; default 0 (the OS picks one, and a restart keeps it). */
  port?: number;
  /** How long `start` waits for the "listening" line; default 20 s. */
  startTimeoutMs?: number;
}

/**
 * The one launcher of the built server (`node dist/main.js`) as a child process: started on a port
 * the OS picked (read from its "gateway listening" log line, so nothing polls the port), killed and
 * restarted by PID on the same port, its output kept for failure messages and log assertions.
 */
export class GatewayProcess {
  /** Every line the current and earlier runs printed (stdout and stderr). */
  readonly output: string[] = [];
  /** Resolves with the exit code (or the signal's name) of the current run. */
  exited: Promise<number | string> = Promise.resolve(-1);
  private child: ChildProcess | null = null;
  private listeningAt: Promise<number> = Promise.resolve(0);

  private constructor(
    public port: number,
    private readonly options: GatewayProcessOptions,
  ) {}

  /** Spawns the server and waits until it listens; rejects (with its output) if it exits first. */
  static async start(options: GatewayProcessOptions = {}): Promise<GatewayProcess> {
    const g = GatewayProcess.spawn(options);
    await g.listening();
    return g;
  }

  /** Spawns the server without waiting for anything (for a start-up that is expected to fail). */
  static spawn(options: GatewayProcessOptions = {}): GatewayProcess {
    const g = new GatewayProcess(options.port ?? 0, options);
    g.run();
    return g;
  }

  get proc(): ChildProcess {
    if (this.child === null) throw new Error('the gateway process is not running');
    return this.child;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** Resolves with the port once the current run has logged that it listens. */
  listening(): Promise<number> {
    return this.listeningAt;
  }

  /** Starts the process again, on the same port, and waits until it listens. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`gateway already running (pid ${this.pid})`);
    this.run();
    await this.listening();
  }

  /** Sends `signal` (SIGKILL by default: a crash, no drain) and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.running) process.kill(this.child!.pid!, signal);
    await this.exited;
  }

  /** Graceful stop (SIGTERM), then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    process.kill(this.child!.pid!, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)),
    );
    const result = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') await this.kill('SIGKILL');
  }

  log(): string {
    return this.output.join('\n');
  }

  /** POST /auth/dev-token {name} -> token (the server must run with dev tokens on). */
  async devToken(name: string): Promise<string> {
    const res = await fetch(`${this.httpUrl}/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    if (!res.ok) throw new Error(`POST /auth/dev-token answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { token?: unknown };
    if (typeof body.token !== 'string')
      throw new Error(`POST /auth/dev-token answered without a token: ${JSON.stringify(body)}`);
    return body.token;
  }

  private run(): void {
    requireBuild([DIST_MAIN]);
    const { env = {}, bare = false, development = false, startTimeoutMs = 20_000 } = this.options;
    const runDir =
      development && this.options.cwd === undefined ? mkdtempSync(join(tmpdir(), 'gw-dev-')) : undefined;
    const cwd = runDir ?? this.options.cwd ?? PROJECT_ROOT;
    const base: Record<string, string> = bare
      ? { PATH: process.env.PATH ?? '' }
      : {
          PATH: process.env.PATH ?? '',
          NODE_ENV: development ? 'development' : 'test',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
          JWT_SECRET: TEST_SECRET,
        };
    const childEnv: Record<string, string> = { ...base, PORT: String(this.port), ...env };
    if (this.port !== 0) childEnv.PORT = String(this.port);
    const level = childEnv.LOG_LEVEL ?? 'info';
    if (!['info', 'debug'].includes(level))
      throw new Error(
        `GatewayProcess reads the "listening" line: LOG_LEVEL must be info or debug, not ${level}`,
      );

    const child = spawn(process.execPath, [DIST_MAIN], {
      cwd,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (runDir !== undefined) rmSync(runDir, { recursive: true, force: true });
        resolve(code ?? signal ?? -1);
      }),
    );
    this.listeningAt = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(new Error(`gateway did not listen within ${startTimeoutMs} ms:\n${this.log()}`));
      }, startTimeoutMs);
      const lines = (onLine: (line: string) => void) => {
        let buffered = '';
        return (chunk: Buffer) => {
          buffered += chunk.toString();
          let nl;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            onLine(buffered.slice(0, nl));
            buffered = buffered.slice(nl + 1);
          }
        };
      };
      child.stdout.on(
        'data',
        lines((line) => {
          this.output.push(line);
          const m = /"port":(\d+)/.exec(line);
          if (m && line.includes('listening')) {
            clearTimeout(timer);
            this.port = Number(m[1]);
            resolve(this.port);
          }
        }),
      );
      child.stderr.on(
        'data',
        lines((line) => this.output.push(line)),
      );
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`gateway exited (${code}) before listening:\n${this.log()}`));
      });
    });
    // A run that is expected to exit (spawn) must not leave an unhandled rejection behind.
    this.listeningAt.catch(() => undefined);
  }
}
