import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import { startApp, type TestApp, TEST_SECRET } from '../helpers/app.js';
import { type Frame, join as joinRoom, TestClient } from '../helpers/ws-client.js';
import { until } from '../helpers/wait.js';
import { type ChildGateway, startChild } from '../helpers/child-gateway.js';

export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function uniquePrefix(): string {
  return `test:e2e-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}:`;
}

/** Removes every key under a prefix. */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const admin = new Redis(url, { protocol: 2, maxRetriesPerRequest: 1, lazyConnect: true });
  admin.on('error', () => {});
  try {
    await admin.connect();
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== '0');
  } catch {
    /* the server is gone: nothing to clean */
  } finally {
    admin.disconnect();
  }
}

/** Several gateway instances in this process sharing one Redis under one key prefix. */
export class Cluster {
  readonly prefix = uniquePrefix();
  readonly instances: TestApp[] = [];

  constructor(
    readonly redisUrl = SHARED_REDIS_URL,
    private readonly env: Record<string, string> = {},
  ) {}

  async start(count: number, env: Record<string, string> = {}): Promise<TestApp[]> {
    const started = await Promise.all(
      Array.from({ length: count }, () =>
        startApp({
          REDIS_URL: this.redisUrl,
          REDIS_KEY_PREFIX: this.prefix,
          RATE_LIMIT_PER_SEC: '1000',
          ...this.env,
          ...env,
        }),
      ),
    );
    this.instances.push(...started);
    return started;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.instances.map((t) => t.close()));
    await deleteKeys(this.redisUrl, this.prefix);
  }
}

/** Connects a user to an instance (any instance signs with the same test secret). */
export function connect(url: string, user: string, name = user): Promise<TestClient> {
  const token = jwt.sign({ sub: user, name }, TEST_SECRET, { algorithm: 'HS256', expiresIn: 3600 });
  return TestClient.connect(url, { token });
}

export { joinRoom };

/** The seqs of a room's `message` frames a client has received. */
export function seqs(c: TestClient, room: string): number[] {
  return c
    .all('message')
    .filter((f) => f.room === room)
    .map((f) => f.seq as number);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

export { until };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A redis-server of our own, on a free port with its own directory, stopped and restarted by PID
 * (never the shared one). With `persist`, every write is fsynced to an append-only file, so a restart
 * keeps the data; without it a restart loses everything (a new epoch for every room).
 */
export class PrivateRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'gw-redis-'));
  private proc: ChildProcess | null = null;
  port = 0;

  constructor(private readonly persist: boolean) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', ''];
    args.push(
      ...(this.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    );
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    this.proc = proc;
    await until(() => this.ping(), 10000, `redis-server on port ${this.port}`);
  }

  private async ping(): Promise<boolean> {
    const r = new Redis(this.url, {
      protocol: 2,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    r.on('error', () => {});
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      r.disconnect();
    }
  }

  /** Stops the server (SIGKILL: a crash; nothing unsynced survives) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    this.proc = null;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      process.kill(proc.pid!, signal);
    });
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A gateway as a child process (`node dist/main.js`), so that it can be killed with SIGKILL. */
export class GatewayProcess {
  private constructor(private readonly child: ChildGateway) {}

  get proc(): ChildProcess {
    return this.child.proc;
  }

  get port(): number {
    return this.child.port;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.child.port}/ws`;
  }

  static async spawn(env: Record<string, string>): Promise<GatewayProcess> {
    return new GatewayProcess(
      await startChild({ AUTH_DEV_TOKENS: 'false', RATE_LIMIT_PER_SEC: '1000', ...env }),
    );
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const { proc, exited } = this.child;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    process.kill(proc.pid!, signal);
    await exited;
  }
}

export type { Frame, TestApp };
