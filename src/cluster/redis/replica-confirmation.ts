import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { BrokerUnavailableError } from '../broker.js';
import { openRedis, quit, type RedisClient, type RedisSettings, unavailable } from './connection.js';
import { RedisKeys } from './keys.js';
import { CONFIRM_LUA, SETTLE_LUA, STORE_UNCONFIRMED_LUA } from './replica-scripts.js';

export interface ReplicaConfirmationOptions extends RedisSettings {
  /** REDIS_MIN_REPLICAS (> 0). */
  minReplicas: number;
  /** REDIS_WAIT_MS: WAIT's timeout. */
  waitMs: number;
  historySize: number;
  roomTtlMs: number;
}

interface ScriptedRedis extends Redis {
  gwStoreUnconfirmed(...args: (string | number)[]): Promise<[number, number, string]>;
  gwConfirm(...args: (string | number)[]): Promise<number>;
  gwSettle(...args: (string | number)[]): Promise<number>;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Publishing with REDIS_MIN_REPLICAS > 0: a room message is acked, delivered and counted in the
 * room's seq only once WAIT has seen it on that many replicas, so a failover to one of them loses
 * no acked message.
 *
 * 1. The store script (on the dedicated connection) assigns the seq and keeps the message out of
 *    sight (replica-scripts.ts).
 * 2. WAIT on the same connection: it waits for that connection's writes, so the stores and the WAIT
 *    must share it; it blocks the connection, so it is not the one the other commands use. Stores
 *    whose replies arrived before a WAIT goes out share it: one replica round trip per batch.
 * 3. The confirm script (on the shared command connection) adds the message to the history,
 *    advances the room's seq and PUBLISHes it, with any lower stored ones, in seq order.
 *
 * WAIT short of replicas within REDIS_WAIT_MS, or any connection failure, answers `unavailable`:
 * the message stays stored and a retry with the same id is answered with its seq (and confirms it);
 * a later confirmation in the room confirms it too.
 */
export class ReplicaConfirmation {
  private readonly logger = new Logger('RedisReplicas');
  private readonly keys: RedisKeys;
  private readonly conn: ScriptedRedis;
  /** Stores that wait for the next WAIT (one not sent yet); null when none is scheduled. */
  private next: Waiter[] | null = null;

  constructor(
    private readonly options: ReplicaConfirmationOptions,
    /** The shared command connection (never a Cluster client: config refuses REDIS_MIN_REPLICAS there). */
    private readonly cmd: RedisClient,
  ) {
    this.keys = new RedisKeys(options.keyPrefix);
    this.conn = openRedis(options, 'gateway-wait', this.logger, {
      // WAIT holds a reply for up to waitMs; a hung server is still caught after that.
      overrides: { commandTimeout: options.waitMs + options.commandTimeoutMs },
      heartbeat: false,
    }) as ScriptedRedis;
    this.conn.defineCommand('gwStoreUnconfirmed', { numberOfKeys: 4, lua: STORE_UNCONFIRMED_LUA });
    this.conn.defineCommand('gwSettle', { numberOfKeys: 2, lua: SETTLE_LUA });
    (this.cmd as ScriptedRedis).defineCommand('gwConfirm', {
      numberOfKeys: 4,
      lua: CONFIRM_LUA,
    });
  }

  /** The dedicated connection (readiness, tests). */
  get connection(): Redis {
    return this.conn;
  }

  isHealthy(): boolean {
    return this.conn.status === 'ready';
  }

  /**
   * Stores, waits for the replicas, confirms. Resolves like the publish script:
   * [published (1, or 0 for a retry of a stored key), seq, epoch].
   */
  async publish(
    room: string,
    idemKey: string,
    epochCandidate: string,
    head: string,
    tail: string,
    idemTtlMs: number,
    skipHistory = false,
  ): Promise<[number, number, string]> {
    const { keys, options } = this;
    let stored: [number, number, string];
    try {
      stored = await this.conn.gwStoreUnconfirmed(
        keys.meta(room),
        keys.pending(room),
        keys.idem(room, idemKey),
        keys.skips(room),
        epochCandidate,
        head,
        tail,
        idemTtlMs,
        options.roomTtlMs,
        skipHistory ? 1 : 0,
      );
    } catch (err) {
      throw unavailable(err);
    }
    await this.replicated();
    const [, seq, epoch] = stored;
    const confirmed = await this.confirm(room, seq, epoch);
    if (confirmed < 0) {
      throw new BrokerUnavailableError(`redis: room ${room} lost seq ${seq} before it was confirmed`);
    }
    return [stored[0], Number(seq), epoch];
  }

  /** Runs the confirm script: the room's confirmed seq, or -1 (see CONFIRM_LUA). */
  private async confirm(room: string, seq: number, epoch: string): Promise<number> {
    const { keys, options } = this;
    try {
      return Number(
        await (this.cmd as ScriptedRedis).gwConfirm(
          keys.meta(room),
          keys.pending(room),
          keys.log(room),
          keys.skips(room),
          seq,
          epoch,
          options.historySize,
          keys.roomChannel(room),
          options.roomTtlMs,
        ),
      );
    } catch (err) {
      throw unavailable(err);
    }
  }

  /**
   * Confirms whatever a room holds stored but unconfirmed, once it is on the replicas. A crash can
   * cut off a confirmation's replication after its fan-out: the promoted replica then holds, as
   * pending, a message members already have, and a resume past the room's seq would look like a
   * lost history. The broker calls this when a history read meets a `since` past the room's seq;
   * true when something was confirmed (read again).
   */
  async settle(room: string, epoch: string): Promise<boolean> {
    try {
      const aseq = Number(await this.conn.gwSettle(this.keys.meta(room), this.keys.pending(room)));
      if (aseq < 0) return false;
      await this.replicated();
      return (await this.confirm(room, aseq, epoch)) >= 0;
    } catch {
      return false;
    }
  }

  /** Resolves once a WAIT sent after the caller's store has seen enough replicas. */
  private replicated(): Promise<void> {
    let batch = this.next;
    if (batch === null) {
      const waiters: Waiter[] = [];
      batch = this.next = waiters;
      setImmediate(() => void this.wait(waiters));
    }
    return new Promise((resolve, reject) => batch.push({ resolve, reject }));
  }

  private async wait(waiters: Waiter[]): Promise<void> {
    if (this.next === waiters) this.next = null;
    const { minReplicas, waitMs } = this.options;
    let failure: unknown = null;
    try {
      const acked = Number(await this.conn.wait(minReplicas, waitMs));
      if (acked < minReplicas) {
        failure = new BrokerUnavailableError(
          `redis: WAIT saw ${acked} of ${minReplicas} replicas within ${waitMs} ms`,
        );
      }
    } catch (err) {
      failure = unavailable(err);
    }
    for (const w of waiters) {
      if (failure === null) w.resolve();
      else w.reject(failure);
    }
  }

  async close(): Promise<void> {
    await quit(this.conn);
  }
}
