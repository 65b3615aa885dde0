import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { killByPid, withAdmin } from '../../scripts/redis-process.mjs';
import { freePort } from './net.js';
import { PrivateRedis } from './redis.js';
import { poll } from './wait.js';

/** The master name the sentinels monitor. */
export const SENTINEL_MASTER = 'gwmaster';

/**
 * How the set's two nodes replicate. A full sync goes through an RDB file (BGSAVE), not straight to
 * the replica's socket: with diskless sync (Redis 7's default) a replica that connected, was told
 * REPLICAOF again by a sentinel and connected anew could wait behind a transfer child still writing
 * to its first connection, while the master answered every WAIT with 0 replicas (seen about once in
 * seven failover runs: `wait_bgsave` for over 15 s).
 */
const REPLICATION = ['--repl-diskless-sync', 'no', '--repl-timeout', '5'];

/**
 * One master, one replica and three sentinels from the machine's own redis-server (no Docker), each
 * on a free port in a temporary directory, stopped by PID. The sentinels fail over quickly: the
 * master counts as down after `downAfterMs` without an answer (2 of 3 must agree).
 */
export class SentinelSet {
  readonly master = new PrivateRedis();
  readonly replica = new PrivateRedis();
  readonly dir = mkdtempSync(join(tmpdir(), 'gw-sentinel-'));
  readonly sentinelPorts: number[] = [];
  private readonly sentinels: ChildProcess[] = [];

  constructor(private readonly downAfterMs = 1000) {}

  /** REDIS_SENTINELS for a gateway. */
  get sentinelList(): string {
    return this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',');
  }

  /** The gateway's environment for Sentinel mode (no REDIS_URL). */
  get env(): Record<string, string> {
    return { REDIS_SENTINELS: this.sentinelList, REDIS_SENTINEL_MASTER: SENTINEL_MASTER };
  }

  /** Starts everything and resolves once every sentinel knows the replica and the other two. */
  async start(timeoutMs = 15_000): Promise<void> {
    await Promise.all([this.master.start(10_000, REPLICATION), this.replica.start(10_000, REPLICATION)]);
    await this.admin(this.replica.port, (r) => r.replicaof('127.0.0.1', this.master.port));
    for (let i = 0; i < 3; i++) this.sentinelPorts.push(await freePort());
    for (const port of this.sentinelPorts) this.sentinels.push(this.startSentinel(port));
    await poll(
      async () => {
        for (const port of this.sentinelPorts) {
          const ok = await this.admin(port, async (r) => {
            const replicas = (await r.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER)) as string[][];
            const peers = (await r.call('SENTINEL', 'SENTINELS', SENTINEL_MASTER)) as string[][];
            const online = replicas.filter((fields) =>
              flags(fields).every((f) => !/down|disconnected/.test(f)),
            );
            return online.length >= 1 && peers.length >= 2;
          }).catch(() => false);
          if (!ok) return false;
        }
        return (await this.admin(this.replica.port, (r) => r.info('replication'))).includes(
          'master_link_status:up',
        );
      },
      timeoutMs,
      'the sentinels to know the replica and each other',
    );
  }

  /** The port of the master the sentinels name now. */
  async masterPort(): Promise<number> {
    for (const port of this.sentinelPorts) {
      try {
        const addr = (await this.admin(port, (r) =>
          r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER),
        )) as string[] | null;
        if (addr) return Number(addr[1]);
      } catch {
        /* try the next sentinel */
      }
    }
    throw new Error('no sentinel answered');
  }

  /** The node that is master now (the other one is its replica, or down). */
  async current(): Promise<{ master: PrivateRedis; replica: PrivateRedis }> {
    const port = await this.masterPort();
    return port === this.master.port
      ? { master: this.master, replica: this.replica }
      : { master: this.replica, replica: this.master };
  }

  /** Resolves once every sentinel names a master other than the one on `oldPort`. */
  async failedOver(oldPort: number, timeoutMs = 20_000): Promise<void> {
    await poll(
      async () => {
        for (const port of this.sentinelPorts) {
          const addr = await this.admin(port, (r) =>
            r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER),
          ).catch(() => null);
          if (!Array.isArray(addr) || Number(addr[1]) === oldPort) return false;
        }
        return true;
      },
      timeoutMs,
      `the sentinels to promote a replica (the master on port ${oldPort} is down)`,
    );
  }

  /**
   * Brings a node that was stopped back as the current master's replica (empty: it syncs; started
   * with --replicaof, never a master). What an orchestrator does; the sentinels would do it too, but
   * only after watching it as a master for a while (seconds).
   */
  async rejoin(node: PrivateRedis): Promise<void> {
    const masterPort = await this.masterPort();
    if (masterPort === node.port) throw new Error('rejoin: the sentinels still name this node the master');
    // A replica from its first moment: started empty as a master and turned into a replica
    // afterwards, it would be a writable empty master for a while, for the sentinels and clients.
    await node.start(10_000, [...REPLICATION, '--replicaof', '127.0.0.1', String(masterPort)]);
  }

  /** One command connection to a node of the set, closed afterwards. */
  admin<T>(port: number, run: (r: Redis) => Promise<T>): Promise<T> {
    return withAdmin(port, run);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.sentinels.map((p) => killByPid(p)));
    await Promise.all([this.master.dispose(), this.replica.dispose()]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private startSentinel(port: number): ChildProcess {
    const conf = join(this.dir, `sentinel-${port}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${this.master.port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} ${this.downAfterMs}`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
        '',
      ].join('\n'),
    );
    const proc = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.resume();
    proc.stderr.resume();
    return proc;
  }
}

/** The `flags` field of a SENTINEL REPLICAS entry (a flat name/value list). */
function flags(fields: string[]): string[] {
  const i = fields.indexOf('flags');
  return i >= 0 ? fields[i + 1].split(',') : [];
}
