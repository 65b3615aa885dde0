import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedisServer } from '../../scripts/redis-process.mjs';
import { freePort } from './net.js';

/** The shared Redis of the test machine (never flushed: every test works under its own prefix). */
export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test run uses. */
export function uniquePrefix(): string {
  return `test:e2e-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}:`;
}

/** Removes every key under a prefix (SCAN + DEL; quiet when the server is gone). */
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

/**
 * A redis-server of our own, on a free port with its own directory, stopped and restarted by PID
 * (never the shared one). With `persist`, every write is fsynced to an append-only file, so a restart
 * keeps the data; without it a restart loses everything (a new epoch for every room).
 */
export class PrivateRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'gw-redis-'));
  private proc: ChildProcess | null = null;
  port = 0;

  constructor(private readonly persist = false) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Picks the port without starting the server (to point a gateway at a Redis that is not up yet). */
  async reserve(): Promise<string> {
    if (this.port === 0) this.port = await freePort();
    return this.url;
  }

  /**
   * Starts the server and resolves when it logs "Ready to accept connections"; `extra` goes on its
   * command line (`['--replicaof', host, port]`: it comes up as a replica).
   */
  async start(timeoutMs = 10_000, extra: string[] = []): Promise<void> {
    await this.reserve();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', ''];
    args.push(
      ...(this.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ...extra,
    );
    await startRedisServer(args, this.port, timeoutMs, (proc) => (this.proc = proc));
  }

  /** SIGSTOP / SIGCONT: the server hangs (its port still accepts connections) and resumes. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    if (this.proc?.pid === undefined) throw new Error('redis-server is not running');
    process.kill(this.proc.pid, signal);
  }

  /** Stops the server (SIGKILL: a crash; nothing unsynced survives) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    this.proc = null;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      process.kill(proc.pid!, 'SIGCONT'); // a hung (SIGSTOPped) server would not act on SIGTERM
      process.kill(proc.pid!, signal);
    });
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
