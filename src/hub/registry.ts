import { Logger } from '@nestjs/common';
import type { GatewayConfig } from '../config/config.js';
import { Close, Refusal } from '../protocol/codes.js';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import { monotonicNow } from './clock.js';
import { Connection } from './connection.js';
import { QueueTotals, SendQueue } from './send-queue.js';
import { TokenBucket } from '../protocol/wire/token-bucket.js';
import type { Writer } from './writer.js';

export interface RegistryStats {
  connections: number;
  users: number;
  queuedFrames: number;
  queuedBytes: number;
  /**
   * Queue lengths of the connections waiting for their socket to drain (a peer reading slowly or
   * not at all); every other queue is empty between event-loop turns.
   */
  backedUpDepths: number[];
  draining: boolean;
}

/**
 * This instance's connections (centrifuge's hub.go): by id and by user, admission against the
 * connection limits (a slot is reserved at the handshake, before the connection exists), the drain
 * bit that refuses every new one, and the sweep over all of them.
 */
export class Registry {
  private readonly logger = new Logger('Hub');
  private readonly connections = new Map<string, Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly ipCounts = new Map<string, number>();
  private readonly userCounts = new Map<string, number>();
  /** Admitted connections, including handshakes not yet registered. */
  private admitted = 0;
  /** Frames and bytes queued over all connections, kept by the queues themselves. */
  readonly queueTotals = new QueueTotals();
  /** Set once by the drain (DrainService): no connection is admitted after it. */
  draining = false;

  constructor(private readonly config: GatewayConfig) {}

  /**
   * Reserves a connection slot for a handshake, or says which limit refuses it. A reservation is
   * released by `release` (handshake failed) or when the registered connection is removed.
   */
  admit(ip: string, userId: string): Refusal | null {
    const { maxConnections, maxConnectionsPerIp, maxConnectionsPerUser } = this.config;
    if (this.draining) return Refusal.Draining;
    if (maxConnections > 0 && this.admitted >= maxConnections) return Refusal.ServerFull;
    const perIp = this.ipCounts.get(ip) ?? 0;
    if (maxConnectionsPerIp > 0 && perIp >= maxConnectionsPerIp) return Refusal.TooManyConnections;
    const perUser = this.userCounts.get(userId) ?? 0;
    if (maxConnectionsPerUser > 0 && perUser >= maxConnectionsPerUser) return Refusal.TooManyConnections;
    this.admitted++;
    this.ipCounts.set(ip, perIp + 1);
    this.userCounts.set(userId, perUser + 1);
    return null;
  }

  release(ip: string, userId: string): void {
    this.admitted--;
    decrement(this.ipCounts, ip);
    decrement(this.userCounts, userId);
  }

  /** Adds an admitted connection with its bounded queue and rate bucket. */
  add(
    id: string,
    ws: WebSocket,
    socket: Socket,
    principal: Principal,
    ip: string,
    deflate: boolean,
    _now: number,
  ): Connection {
    const { config } = this;
    const limits = { messages: config.sendQueueMessages, bytes: config.sendQueueBytes };
    // Durations run on the monotonic clock (clock.ts), not on the caller's wall-clock `now`.
    const mono = monotonicNow();
    const bucket = new TokenBucket(config.ratePerSec, config.ratePerSec, mono);
    const queue = new SendQueue(ws, socket, limits, deflate, this.queueTotals);
    const c = new Connection(id, ws, principal, ip, queue, bucket, mono);
    this.connections.set(c.id, c);
    let set = this.byUser.get(principal.id);
    if (set === undefined) this.byUser.set(principal.id, (set = new Set()));
    set.add(c);
    return c;
  }

  /**
   * Removes a connection and frees its slot: null when it was not registered (already removed),
   * else whether it was its user's last on this instance.
   */
  remove(c: Connection): boolean | null {
    if (!this.connections.delete(c.id)) return null;
    let last = false;
    const set = this.byUser.get(c.principal.id);
    if (set !== undefined) {
      set.delete(c);
      if (set.size === 0) {
        this.byUser.delete(c.principal.id);
        last = true;
      }
    }
    this.release(c.ip, c.principal.id);
    return last;
  }

  get(id: string): Connection | undefined {
    return this.connections.get(id);
  }

  has(c: Connection): boolean {
    return this.connections.has(c.id);
  }

  /** The local connections of a user. */
  ofUser(userId: string): ReadonlySet<Connection> | undefined {
    return this.byUser.get(userId);
  }

  all(): IterableIterator<Connection> {
    return this.connections.values();
  }

  get size(): number {
    return this.connections.size;
  }

  /**
   * Costs the number of backed-up connections, not of all connections: the queue totals are kept
   * as frames come and go, not summed here.
   */
  stats(): RegistryStats {
    return {
      connections: this.connections.size,
      users: this.byUser.size,
      queuedFrames: this.queueTotals.frames,
      queuedBytes: this.queueTotals.bytes,
      backedUpDepths: Array.from(this.queueTotals.backedUp, (q) => q.length),
      draining: this.draining,
    };
  }

  /**
   * The one timer's pass: close deadlines, token expiry, heartbeat pings and dead-peer termination,
   * for every connection at once instead of a timer per connection. `now` is the wall clock, for the
   * token's `exp` (an epoch time by definition); everything else runs on the monotonic clock.
   */
  sweep(now: number, sweepIntervalMs: number, writer: Writer): void {
    const hb = this.config.heartbeatMs;
    const mono = monotonicNow();
    for (const c of this.connections.values()) {
      if (c.closeDeadline !== 0) {
        if (mono >= c.closeDeadline) c.ws.terminate();
        continue;
      }
      const exp = c.principal.exp;
      if (exp !== null && now >= exp * 1000) {
        writer.close(c, Close.TokenExpired.code, Close.TokenExpired.reason);
        continue;
      }
      // Two periods without a sign of life, plus one sweep of slack for the sweeper's own jitter.
      if (mono - c.lastSeen > 2 * hb + sweepIntervalMs) {
        this.logger.debug?.(`no pong from ${c.id} for ${mono - c.lastSeen} ms: terminating`);
        c.closeDeadline = mono;
        c.ws.terminate();
        continue;
      }
      if (mono - c.lastPing >= hb - sweepIntervalMs / 2) {
        c.lastPing = mono;
        c.ws.ping();
      }
    }
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
