import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RoomMessage } from '../../protocol/frames.js';
import {
  type Broker,
  type BrokerHandler,
  BrokerUnavailableError,
  type HistorySlice,
  type PublishOptions,
  type RoomEvent,
  type RoomReset,
} from '../broker.js';
import { InFlight } from '../idempotency.js';
import { HistoryCache } from './history-cache.js';
import { openRedis, quit, type RedisSettings, type SharedConnection, unavailable } from './connection.js';
import { eventStreamKey } from './event-stream.js';
import { RedisKeys, ROOM_EVENT, ROOM_MESSAGE } from './keys.js';
import type { ReplicaConfirmation } from './replica-confirmation.js';
import { RoomTtlRefresh } from './room-ttl-refresh.js';
import { HISTORY_LUA, PUBLISH_LUA } from './scripts.js';

export interface RedisBrokerOptions extends RedisSettings {
  historySize: number;
  /**
   * Room keys (seq, epoch, history) expire after this long without a publish, a join or a member on
   * any instance (each instance refreshes the rooms it has members in); 0: never.
   */
  roomTtlMs: number;
  /** EVENTS_MAXLEN: the publish script appends the `message` event to the stream; 0: no stream. */
  eventsMaxlen?: number;
}

interface ScriptedRedis extends Redis {
  gwPublish(...args: (string | number)[]): Promise<[number, number, string]>;
  gwHistory(...args: (string | number)[]): Promise<[number, string, number, string, string[]]>;
}

/** This instance's view of a subscribed room's stream. */
interface RoomStream {
  channel: string;
  /** Last seq handed to the handler; -1 until known. */
  seq: number;
  epoch: string | undefined;
  /**
   * `epoch` is a candidate a history read answered for a room nobody has published to yet (seq 0):
   * this instance's next publication there proposes it, so that its joiners keep their epoch.
   */
  unborn: boolean;
  /** Non-null while catching up from history: live messages wait here. */
  buffer: { epoch: string; message: RoomMessage }[] | null;
  catchingUp: boolean;
  /** Publishers on this instance waiting for their message to come back through the subscription. */
  waiters: { seq: number; resolve: () => void }[];
}

/** How long `publish` waits for its own message to be delivered locally (see `publish`). */
const OWN_DELIVERY_WAIT_MS = 1000;
const CATCH_UP_RETRY_MS = 250;
const SUBSCRIBE_CHUNK = 500;

/**
 * Broker over Redis (centrifuge's RedisBroker, reduced to what the hub needs).
 *
 * - publish: one Lua script does HINCRBY seq, ZADD to the history, trim, PUBLISH: atomic, so every
 *   instance receives a room's messages in seq order on its subscriber connection.
 * - Own publications come back through the subscription like everyone else's and are delivered there
 *   only: delivering them locally as well would either duplicate them or, when done first, let a lower
 *   seq from another instance arrive after a higher one.
 * - One subscriber connection per instance, subscribed to the channels of the rooms and users this
 *   instance has members for, plus the broadcast channel.
 * - Each room's stream is checked for continuity (seq + 1, same epoch). A gap (the subscriber lost its
 *   connection, Redis restarted) is filled from history before later messages are delivered; an epoch
 *   change (Redis lost the room) is reported to the handler with onRoomReset.
 * - When Redis is unreachable, commands fail at once with BrokerUnavailableError (no offline queue);
 *   the connections reconnect by themselves and the subscriber re-subscribes and catches up.
 */
export class RedisBroker implements Broker {
  private readonly logger = new Logger('RedisBroker');
  private readonly keys: RedisKeys;
  private readonly cmd: ScriptedRedis;
  private readonly sub: Redis;
  private handler: BrokerHandler | null = null;
  /** Subscribed rooms by name, and by channel. */
  private readonly rooms = new Map<string, RoomStream>();
  private readonly roomByChannel = new Map<string, string>();
  /** Subscribed users: channel -> user id. */
  private readonly users = new Map<string, string>();
  private readonly broadcast: string;
  /** Keyed publications under way on this instance (a racing retry waits for the original). */
  private readonly inflight = new InFlight();
  /** Parsed history messages, so that repeated replays of a room do not parse them again. */
  private readonly historyCache = new HistoryCache();
  private closed = false;
  private readonly ttlRefresh: RoomTtlRefresh | undefined;

  constructor(
    private readonly options: RedisBrokerOptions,
    private readonly shared: SharedConnection,
    /** With REDIS_MIN_REPLICAS > 0: publications are acked once on the replicas. */
    private readonly replicas: ReplicaConfirmation | null = null,
  ) {
    this.keys = new RedisKeys(options.keyPrefix);
    this.broadcast = this.keys.broadcastChannel();
    this.cmd = shared.acquire() as ScriptedRedis;
    this.cmd.defineCommand('gwPublish', { numberOfKeys: 4, lua: PUBLISH_LUA });
    this.cmd.defineCommand('gwHistory', { numberOfKeys: 3, lua: HISTORY_LUA });
    this.sub = openRedis(options, 'gateway-sub', this.logger);
    this.sub.on('message', (channel: string, payload: string) => this.receive(channel, payload));
    this.sub.on('ready', () => void this.resubscribe());
    if (options.roomTtlMs > 0) {
      this.ttlRefresh = new RoomTtlRefresh(this.cmd, this.keys, options.roomTtlMs, () => this.rooms.keys());
    }
  }

  /** The subscriber connection (tests and startup wait for it). */
  get subscriber(): Redis {
    return this.sub;
  }

  setHandler(handler: BrokerHandler): void {
    this.handler = handler;
  }

  // ---------------------------------------------------------------- publishing

  /**
   * Publishes a room message. With an idempotency key, the publish script answers a retry under the
   * same key within its TTL with the original seq and does not publish it again, even when the first
   * attempt's reply was lost (connection dropped or command timed out after Redis had run it); a retry
   * racing its original on this instance waits for the original instead.
   * When this instance is subscribed to the room, the promise resolves after the message has been
   * handed to the handler (so a sender sees its message before its ack, as with the memory broker),
   * or after OWN_DELIVERY_WAIT_MS at most.
   */
  publish(message: Omit<RoomMessage, 'seq'>, options?: PublishOptions): Promise<RoomMessage> {
    const key = options?.idempotencyKey;
    const skipHistory = options?.skipHistory === true;
    if (key === undefined) return this.publishScript(message, '', 0, skipHistory);
    const ttlMs = Math.max(1, options!.idempotentResultTtlMs ?? 0);
    return this.inflight.once(`${message.room}\u0000${key}`, () =>
      this.publishScript(message, key, ttlMs, skipHistory),
    ) as Promise<RoomMessage>;
  }

  private async publishScript(
    message: Omit<RoomMessage, 'seq'>,
    key: string,
    ttlMs: number,
    skipHistory: boolean,
  ): Promise<RoomMessage> {
    const { id, room, time, sender, content } = message;
    const head = JSON.stringify({ id, room }).slice(0, -1) + ',"seq":';
    const tail = ',' + JSON.stringify({ time, sender, content }).slice(1);
    if (this.replicas !== null) return this.publishReplicated(message, key, ttlMs, head, tail, skipHistory);
    let reply: [number, number, string];
    try {
      reply = await this.cmd.gwPublish(
        this.keys.meta(room),
        this.keys.log(room),
        this.keys.idem(room, key),
        eventStreamKey(this.keys.prefix),
        this.epochCandidate(room),
        head,
        tail,
        // A history size of 0 makes the script skip ZADD and the trim: not stored in history.
        skipHistory ? 0 : this.options.historySize,
        ttlMs,
        this.keys.roomChannel(room),
        this.options.roomTtlMs,
        this.options.eventsMaxlen ?? 0,
      );
    } catch (err) {
      throw unavailable(err);
    }
    const [published, seq, epoch] = reply;
    const full: RoomMessage = { id, room, seq: Number(seq), time, sender, content };
    // The event stream names a message by (room, epoch, seq): the epoch rides along, not enumerable,
    // so the message still equals (and serialises as) the one delivered.
    Object.defineProperty(full, 'epoch', { value: epoch });
    if (published === 1) await this.ownDelivery(room, full.seq);
    return full;
  }

  /** publishScript with REDIS_MIN_REPLICAS > 0: acked once on the replicas (replica-confirmation.ts). */
  private async publishReplicated(
    message: Omit<RoomMessage, 'seq'>,
    key: string,
    ttlMs: number,
    head: string,
    tail: string,
    skipHistory: boolean,
  ): Promise<RoomMessage> {
    const { id, room, time, sender, content } = message;
    const [published, seq] = await this.replicas!.publish(
      room,
      key,
      this.epochCandidate(room),
      head,
      tail,
      ttlMs,
      skipHistory,
    );
    if (published === 1) await this.ownDelivery(room, seq);
    return { id, room, seq, time, sender, content };
  }

  private ownDelivery(room: string, seq: number): Promise<void> {
    const stream = this.rooms.get(room);
    if (
      stream === undefined ||
      this.sub.status !== 'ready' ||
      (stream.seq >= seq && stream.buffer === null)
    ) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, OWN_DELIVERY_WAIT_MS);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      stream.waiters.push({ seq, resolve: done });
    });
  }

  publishRoomEvent(room: string, event: RoomEvent): Promise<void> {
    return this.publishRaw(this.keys.roomChannel(room), ROOM_EVENT + JSON.stringify(event));
  }

  publishUserEvent(userId: string, frame: object): Promise<void> {
    return this.publishRaw(this.keys.userChannel(userId), JSON.stringify(frame));
  }

  publishBroadcast(frame: object): Promise<void> {
    return this.publishRaw(this.broadcast, JSON.stringify(frame));
  }

  private async publishRaw(channel: string, payload: string): Promise<void> {
    try {
      await this.cmd.publish(channel, payload);
    } catch (err) {
      throw unavailable(err);
    }
  }

  /**
   * The epoch a publication proposes for a room that has no keys: the one a history read answered
   * this instance's joiners when nobody has published since (every instance computes the same one),
   * else a new one. Never an epoch that had messages: seqs restarting in a known epoch would be
   * dropped as duplicates.
   */
  private epochCandidate(room: string): string {
    const stream = this.rooms.get(room);
    return stream !== undefined && stream.unborn && stream.seq === 0 ? stream.epoch! : newEpoch();
  }

  // ---------------------------------------------------------------- history

  async history(room: string, since?: number, epoch?: string): Promise<HistorySlice> {
    const slice = await this.readHistory(room, since, epoch);
    // The hub subscribes before it reads history: from now on the subscription carries everything
    // after this seq, so a stream whose position was unknown starts here.
    const stream = this.rooms.get(room);
    if (stream !== undefined && stream.seq < 0 && stream.buffer === null) {
      stream.seq = slice.seq;
      stream.epoch = slice.epoch;
      stream.unborn = slice.seq === 0;
    }
    return slice;
  }

  private async readHistory(
    room: string,
    since?: number,
    epoch?: string,
    settled = false,
  ): Promise<HistorySlice> {
    let reply: [number, string, number, string, string[]];
    try {
      reply = await this.cmd.gwHistory(
        this.keys.meta(room),
        this.keys.log(room),
        this.keys.generation(),
        newEpoch(),
        since === undefined ? '' : String(since),
        epoch ?? '',
        this.options.roomTtlMs,
        room,
      );
    } catch (err) {
      throw unavailable(err);
    }
    const [seqRaw, currentEpoch, oldestRaw, mode, raw] = reply;
    const seq = Number(seqRaw);
    if (
      this.replicas !== null &&
      !settled &&
      since !== undefined &&
      since > seq &&
      (epoch === undefined || epoch === currentEpoch) &&
      (await this.replicas.settle(room, currentEpoch))
    ) {
      return this.readHistory(room, since, epoch, true);
    }
    const oldestSeq = Number(oldestRaw);
    const messages = raw.map((json) => this.historyCache.get(json));
    const recovered = mode === 'none' || (mode === 'after' && since! + 1 >= oldestSeq);
    return { messages, seq, epoch: currentEpoch, oldestSeq, recovered };
  }

  // ---------------------------------------------------------------- subscriptions

  async subscribeRoom(room: string): Promise<void> {
    let stream = this.rooms.get(room);
    if (stream === undefined) {
      const channel = this.keys.roomChannel(room);
      stream = {
        channel,
        seq: -1,
        epoch: undefined,
        unborn: false,
        buffer: null,
        catchingUp: false,
        waiters: [],
      };
      this.rooms.set(room, stream);
      this.roomByChannel.set(channel, room);
    }
    await this.subscribeChannel(stream.channel);
  }

  async unsubscribeRoom(room: string): Promise<void> {
    const stream = this.rooms.get(room);
    if (stream === undefined) return;
    this.rooms.delete(room);
    this.roomByChannel.delete(stream.channel);
    for (const w of stream.waiters) w.resolve();
    await this.unsubscribeChannel(stream.channel);
  }

  async subscribeUser(userId: string): Promise<void> {
    const channel = this.keys.userChannel(userId);
    this.users.set(channel, userId);
    await this.subscribeChannel(channel);
  }

  async unsubscribeUser(userId: string): Promise<void> {
    const channel = this.keys.userChannel(userId);
    if (!this.users.delete(channel)) return;
    await this.unsubscribeChannel(channel);
  }

  private async subscribeChannel(channel: string): Promise<void> {
    // Not connected: the channel is remembered and subscribed by resubscribe() on 'ready'; the caller
    // learns that nothing is flowing now.
    if (this.sub.status !== 'ready') throw new BrokerUnavailableError('redis subscriber is not connected');
    try {
      await this.sub.subscribe(channel);
    } catch (err) {
      throw unavailable(err);
    }
  }

  private async unsubscribeChannel(channel: string): Promise<void> {
    if (this.sub.status !== 'ready') return; // a new connection starts with no subscriptions
    try {
      await this.sub.unsubscribe(channel);
    } catch (err) {
      throw unavailable(err);
    }
  }

  /**
   * After (re)connecting: subscribe every wanted channel, then catch up every room whose position is
   * known, since messages published while the subscriber was away never reach it.
   */
  private async resubscribe(): Promise<void> {
    const known = [...this.rooms.entries()].filter(([, s]) => s.seq >= 0);
    // Live messages wait until the history read that follows the subscription has been delivered.
    for (const [, s] of known) s.buffer ??= [];
    const channels = [this.broadcast, ...this.roomByChannel.keys(), ...this.users.keys()];
    try {
      for (let i = 0; i < channels.length; i += SUBSCRIBE_CHUNK) {
        await this.sub.subscribe(...channels.slice(i, i + SUBSCRIBE_CHUNK));
      }
    } catch (err) {
      // The connection dropped again: the next 'ready' starts over. Until then messages stay buffered.
      this.logger.warn(`re-subscribe failed: ${(err as Error).message}`);
      return;
    }
    for (const [room, s] of known) void this.catchUp(room, s);
  }

  // ---------------------------------------------------------------- inbound

  private receive(channel: string, payload: string): void {
    if (this.handler === null || this.closed) return;
    try {
      const room = this.roomByChannel.get(channel);
      if (room !== undefined) {
        if (payload.startsWith(ROOM_MESSAGE)) {
          const bar = payload.indexOf('|');
          const epoch = payload.slice(1, bar);
          this.accept(room, epoch, JSON.parse(payload.slice(bar + 1)) as RoomMessage, false);
        } else if (payload.startsWith(ROOM_EVENT)) {
          this.handler.onRoomEvent(JSON.parse(payload.slice(1)) as RoomEvent);
        }
        return;
      }
      const userId = this.users.get(channel);
      if (userId !== undefined) this.handler.onUserEvent(userId, JSON.parse(payload) as object);
      else if (channel === this.broadcast) this.handler.onBroadcast(JSON.parse(payload) as object);
    } catch (err) {
      this.logger.error(`bad payload on ${channel}: ${(err as Error).message}`);
    }
  }

  /** Hands a room message to the handler in order, exactly once, or starts a catch-up on a gap. */
  private accept(room: string, epoch: string, m: RoomMessage, allowGap: boolean): void {
    const s = this.rooms.get(room);
    if (s === undefined) return;
    if (s.buffer !== null) {
      s.buffer.push({ epoch, message: m });
      return;
    }
    if (s.epoch !== epoch) {
      if (s.epoch === undefined) s.epoch = epoch;
      else if (!this.epochChanged(room, s, epoch, m, allowGap)) return;
    }
    if (s.seq >= 0) {
      if (m.seq <= s.seq) return;
      if (m.seq > s.seq + 1 && !allowGap) {
        s.buffer = [{ epoch, message: m }];
        void this.catchUp(room, s);
        return;
      }
    }
    s.seq = m.seq;
    this.handler?.onMessage(m);
    this.wake(s, m.seq);
  }

  /**
   * A message of another epoch than the stream's: Redis lost the room (restarted empty, flushed,
   * keys expired) and seqs start over, or the room was first published to with another instance's
   * candidate. The handler hears onRoomReset right before the first message of the new epoch it gets;
   * when messages of the new epoch came before this one, they are read from history first.
   * Returns whether `m` is to be delivered now.
   */
  private epochChanged(
    room: string,
    s: RoomStream,
    epoch: string,
    m: RoomMessage,
    allowGap: boolean,
  ): boolean {
    if (m.seq > 1 && !allowGap) {
      // The stream's epoch stays the old one for the catch-up: the history read then answers
      // everything the new epoch holds, and this method runs again for its first message.
      s.seq = 0;
      s.unborn = false;
      s.buffer = [{ epoch, message: m }];
      void this.catchUp(room, s);
      return false;
    }
    if (!s.unborn) this.logger.warn(`room ${room}: epoch changed (history lost in Redis), seq restarts`);
    s.epoch = epoch;
    s.seq = m.seq - 1;
    s.unborn = false;
    const reset: RoomReset = { epoch, seq: m.seq - 1, oldestSeq: m.seq };
    this.handler?.onRoomReset?.(room, reset);
    this.wake(s, Number.MAX_SAFE_INTEGER);
    return true;
  }

  private wake(s: RoomStream, seq: number): void {
    if (s.waiters.length === 0) return;
    s.waiters = s.waiters.filter((w) => {
      if (w.seq > seq) return true;
      w.resolve();
      return false;
    });
  }

  /** Delivers what the subscription missed from history, then what was buffered meanwhile. */
  private async catchUp(room: string, s: RoomStream): Promise<void> {
    if (s.catchingUp) return;
    s.catchingUp = true;
    s.buffer ??= [];
    let slice: HistorySlice | undefined;
    while (slice === undefined) {
      if (this.closed || this.rooms.get(room) !== s) return;
      try {
        slice = await this.readHistory(room, s.seq, s.epoch);
      } catch {
        await new Promise((r) => setTimeout(r, CATCH_UP_RETRY_MS).unref());
      }
    }
    if (this.rooms.get(room) !== s) return;
    const buffered = s.buffer;
    s.buffer = null;
    s.catchingUp = false;
    if (!slice.recovered) {
      this.logger.warn(
        `room ${room}: history does not cover the gap after seq ${s.seq}; delivering what it holds`,
      );
    }
    for (const m of slice.messages) this.accept(room, slice.epoch, m, true);
    for (const b of buffered ?? []) this.accept(room, b.epoch, b.message, true);
  }

  // ---------------------------------------------------------------- health and shutdown

  isHealthy(): boolean {
    return (
      !this.closed &&
      this.cmd.status === 'ready' &&
      this.sub.status === 'ready' &&
      (this.replicas?.isHealthy() ?? true)
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ttlRefresh?.stop();
    for (const s of this.rooms.values()) for (const w of s.waiters) w.resolve();
    this.rooms.clear();
    this.roomByChannel.clear();
    this.users.clear();
    await Promise.allSettled([quit(this.sub), this.shared.release(), this.replicas?.close()]);
  }
}

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}
