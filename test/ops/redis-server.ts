import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitUntil } from './helpers.js';

/**
 * A redis-server of the test's own (never the shared one): a free port chosen before it starts (so a
 * gateway can be pointed at it first), its own directory, signalled by its PID.
 */
export class OwnRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'gw-ops-redis-'));
  private proc: ChildProcess | null = null;
  port = 0;

  /** With `persist`, every write is fsynced to an append-only file: a restart keeps the data. */
  constructor(private readonly persist = false) {}

  /** Picks the port without starting the server. */
  async reserve(): Promise<string> {
    if (this.port === 0) this.port = await freePort();
    return this.url;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await this.reserve();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir];
    args.push('--save', '', ...(this.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : []));
    this.proc = spawn('redis-server', args, { stdio: 'ignore' });
    await waitUntil(() => this.ping(), 10000, `redis-server on port ${this.port}`);
  }

  /** PONG within 500 ms. */
  async ping(): Promise<boolean> {
    const r = new Redis(this.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      commandTimeout: 500,
      connectTimeout: 500,
    });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      r.disconnect();
    }
  }

  /** SIGSTOP / SIGCONT: the server hangs (the port still accepts connections) and resumes. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    if (this.proc?.pid === undefined) throw new Error('redis-server is not running');
    process.kill(this.proc.pid, signal);
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    this.proc = null;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    process.kill(proc.pid!, 'SIGCONT');
    process.kill(proc.pid!, 'SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** /readyz's status, 0 when it does not answer within 1 s. */
export async function readyz(httpUrl: string): Promise<number> {
  try {
    const res = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}
