// Runs the real gateway (`node dist/main.js`) as a child process for the client and browser e2e
// tests: on a port the OS picked, bound to 127.0.0.1, stopped and restarted by PID.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const CLIENT_BUNDLE = fileURLToPath(new URL('../../dist/public/js/gateway-client.js', import.meta.url));

/** A port nothing listens on right now, picked by the OS on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Fails with a clear message when the project has not been built. */
export function assertBuilt(): void {
  const missing = [MAIN, CLIENT_BUNDLE].filter((f) => !existsSync(f));
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(', ')}: run \`npm run build\` first (npm test does it)`);
  }
}

export interface GatewayServerOptions {
  /** Extra environment for the server (RATE_LIMIT_PER_SEC, HISTORY_SIZE, JWT_SECRET...). */
  env?: Record<string, string>;
  /** Reuse this port (restart on the same port); default: one from the OS. */
  port?: number;
  startTimeoutMs?: number;
}

export class GatewayServer {
  private child: ChildProcess | null = null;
  private exited: Promise<number | null> = Promise.resolve(null);
  /** The last lines the server printed, for failure messages. */
  private output: string[] = [];

  private constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly startTimeoutMs: number,
  ) {}

  static async start(options: GatewayServerOptions = {}): Promise<GatewayServer> {
    assertBuilt();
    const server = new GatewayServer(
      options.port ?? (await freePort()),
      options.env ?? {},
      options.startTimeoutMs ?? 20_000,
    );
    await server.start();
    return server;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts the process (again, on the same port) and waits until the port accepts connections. */
  async start(): Promise<void> {
    if (this.child) throw new Error(`server already running (pid ${this.child.pid})`);
    const child = spawn(process.execPath, [MAIN], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'development', // dev tokens (POST /auth/dev-token) exist only there
        NODE_OPTIONS: '',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        ...this.env,
        PORT: String(this.port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output.push(...chunk.toString().split('\n').filter(Boolean));
      if (this.output.length > 200) this.output.splice(0, this.output.length - 200);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const exitedEarly = this.exited.then((code) => {
      throw new Error(`server exited with code ${code} before listening:\n${this.log()}`);
    });
    try {
      await Promise.race([
        waitForPort(this.port, this.startTimeoutMs, () => this.child === child),
        exitedEarly,
      ]);
    } catch (err) {
      await this.kill();
      throw err;
    }
    exitedEarly.catch(() => undefined);
  }

  /** Kills the process by PID (SIGKILL by default: a crash, no drain) and waits for its exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) return;
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, signal);
    await this.exited;
    this.child = null;
  }

  /** Graceful stop (SIGTERM), then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) return;
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)),
    );
    const result = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') await this.kill('SIGKILL');
    this.child = null;
  }

  log(): string {
    return this.output.join('\n');
  }

  /** POST /auth/dev-token {name} -> token. */
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
}

/** Resolves once a TCP connection to 127.0.0.1:port succeeds; retries refused connections. */
function waitForPort(port: number, timeoutMs: number, stillWanted: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (delayMs: number) => {
      if (!stillWanted()) return reject(new Error('server process went away while starting'));
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline)
          return reject(new Error(`port ${port} not accepting connections after ${timeoutMs} ms`));
        setTimeout(() => attempt(Math.min(delayMs * 2, 200)), delayMs);
      });
    };
    attempt(20);
  });
}
