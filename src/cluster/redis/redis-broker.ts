import { Logger } from '@nestjs/common';
import type { Cluster } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { RoomMessage } from '../../protocol/frames.js';
import {
  type Broker,
  type BrokerHandler,
  type HistorySlice,
  IdTakenElsewhere,
  type PublishOptions,
  type RoomEvent,
  type RoomReset,
} from '../broker.js';
import { type DedupEntry, InFlight } from '../idempotency.js';
import { HistoryCache } from './history-cache.js';
import {
  isCluster,
  type RedisClient,
  type RedisSettings,
  sameShard,
  type SharedConnection,
  unavailable,
  waitReady,
} from './connection.js';
import { EventStreamWriter } from './event-stream.js';
import { priorPublication } from './redis-dedup.js';
import { RedisKeys, ROOM_BATCH, ROOM_EVENT, ROOM_MESSAGE } from './keys.js';
import { type Publication, PublishBatcher, type PublishReply } from './publish-batcher.js';
import type { ReplicaConfirmation } from './replica-confirmation.js';
import { RoomTtlRefresh } from './room-ttl-refresh.js';
import { HISTORY_LUA } from './scripts.js';
import { ShardedSubscriber } from './sharded-subscriber.js';
import { type ChannelSubscriber, PlainSubscriber, type SubscriberEvents } from './subscriber.js';

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

type ScriptedRedis = RedisClient & {
  gwHistory(...args: (string | number)[]): Promise<HistoryReply>;
};

/** HISTORY_LUA's answer: seq, epoch, oldestSeq, mode, messages, covered (with mode 'after'). */
type HistoryReply = [number, string, number, string, string[], number?];

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

/**
 * Broker over Redis (centrifuge's RedisBroker, reduced to what the hub needs).
 *
 * - publish: one Lua script assigns the seq, adds to the history, trims it and PUBLISHes: atomic, so
 *   every instance receives a room's messages in seq order on its subscriber connection. The
 *   publications of one room and event-loop turn share one script run and one payload
 *   (publish-batcher.ts).
 * - Own publications come back through the subscription like everyone else's and are delivered there
 *   only: delivering them locally as well would either duplicate them or, when done first, let a lower
 *   seq from another instance arrive after a higher one.
 * - One subscriber connection per instance (in a Redis Cluster one per shard master, with sharded
 *   pub/sub: sharded-subscriber.ts), subscribed to the channels of the rooms and users this instance
 *   has members for, plus the broadcast channel.
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
  private readonly sub: ChannelSubscriber;
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
  /** Redis Cluster with the event stream on: appends the `message` events (see appendMessageEvent). */
  private readonly messageEvents: EventStreamWriter | null = null;
  private readonly batcher: PublishBatcher;

  publishing(): boolean {
    return this.batcher.busy;
  }

  /**
   * The publish script takes the sender's record of a message id itself, and keeps the seq in it (no
   * idempotency key of the room's): a client message costs one round trip and one key, not two of
   * each. On a single Redis always; in a Redis Cluster when the record's `{user}` slot lives on the
   * node of the room's slot (with three masters, a third of senders for any room), and the script
   * reaches it there. Not with REDIS_MIN_REPLICAS, whose scripts do not take it.
   */
  takesSenderRecord(room: string, key: string): boolean {
    if (this.replicas !== null) return false;
    if (!this.keys.cluster) return true;
    return sameShard(this.cmd as Cluster, this.keys.recordSlot(key), this.keys.roomSlot(room));
  }

  sendPending(): void {
    this.shared.turn.sendNow();
  }

  constructor(
    private readonly options: RedisBrokerOptions,
    private readonly shared: SharedConnection,
    /** With REDIS_MIN_REPLICAS > 0: publications are acked once on the replicas. */
    private readonly replicas: ReplicaConfirmation | null = null,
  ) {
    this.cmd = shared.acquire() as ScriptedRedis;
    const cluster = isCluster(this.cmd);
    this.keys = new RedisKeys(options.keyPrefix, cluster);
    this.broadcast = this.keys.broadcastChannel();
    this.cmd.defineCommand('gwHistory', { numberOfKeys: 4, lua: HISTORY_LUA });
    this.batcher = new PublishBatcher(
      this.cmd,
      this.keys,
      {
        historySize: options.historySize,
        roomTtlMs: options.roomTtlMs,
        // In a Redis Cluster the event stream lives in another slot than the room: the script leaves
        // it alone and the `message` events are appended after it (settleBatch).
        eventsMaxlen: cluster ? 0 : (options.eventsMaxlen ?? 0),
      },
      {
        epochCandidate: (room) => this.epochCandidate(room),
        settle: (room, batch, replies) => this.settleBatch(room, batch, replies),
      },
      shared.turn,
    );
    const events: SubscriberEvents = {
      message: (channel, payload) => this.receive(channel, payload),
      resubscribing: (channels) => this.holdLive(channels),
      resubscribed: (channels) => this.catchUpAfterResubscribe(channels),
    };
    this.sub = cluster
      ? new ShardedSubscriber(this.cmd, options, this.logger, events, [this.broadcast])
      : new PlainSubscriber(options, this.logger, events, [this.broadcast]);
    if (options.roomTtlMs > 0) {
      this.ttlRefresh = new RoomTtlRefresh(this.cmd, this.keys, options.roomTtlMs, () => this.rooms.keys());
    }
    const maxlen = options.eventsMaxlen ?? 0;
    if (cluster && maxlen > 0) {
      this.messageEvents = new EventStreamWriter(
        this.cmd,
        options.keyPrefix,
        maxlen,
        this.logger,
        shared.turn,
      );
    }
  }

  /** The subscriptions (startup waits for them; tests drop their connections). */
  get subscriber(): ChannelSubscriber {
    return this.sub;
  }

  setHandler(handler: BrokerHandler): void {
    this.handler = handler;
  }

  // ---------------------------------------------------------------- publishing

  /**
   * Publishes a room message. With an idempotency key, the publish script answers a retry under the
   * same key within its TTL with the original seq and does not publish it again, even when the first
   * attempt's reply was lost (connection dropped or command timed out after Redis had run it). A
   * retry racing its original on this instance gets the same answer: in the same batch the script
   * answers the key's second publication with the first one's seq, and a later batch runs after the
   * original's on the same connection (a room's commands keep their order, in a Redis Cluster too:
   * one slot, one node). With REDIS_MIN_REPLICAS, whose publications are not batched, the retry
   * waits for the original instead.
   * When this instance is subscribed to the room, the promise resolves after the message has been
   * handed to the handler (so a sender sees its message before its ack, as with the memory broker),
   * or after OWN_DELIVERY_WAIT_MS at most.
   */
  publish(message: Omit<RoomMessage, 'seq'>, options?: PublishOptions): Promise<RoomMessage> {
    const key = options?.idempotencyKey ?? '';
    const ttlMs = key === '' ? 0 : Math.max(1, options!.idempotentResultTtlMs ?? 0);
    const skipHistory = options?.skipHistory === true;
    if (this.replicas === null) {
      const takeRecord = key !== '' && options!.takeSenderRecord === true;
      return this.publishBatched(message, key, ttlMs, skipHistory, takeRecord);
    }
    if (key === '') return this.publishReplicated(message, key, ttlMs, skipHistory);
    return this.inflight.once(`${message.room}\u0000${key}`, () =>
      this.publishReplicated(message, key, ttlMs, skipHistory),
    ) as Promise<RoomMessage>;
  }

  private async publishBatched(
    message: Omit<RoomMessage, 'seq'>,
    key: string,
    ttlMs: number,
    skipHistory: boolean,
    takeRecord: boolean,
  ): Promise<RoomMessage> {
    const { id, room, time, sender, content } = message;
    const { head, tail } = jsonAroundSeq(message);
    // Resolves once the batch's messages came back through the subscription (settleBatch).
    const { seq, epoch, elsewhere } = await this.batcher.publish(room, {
      head,
      tail,
      idempotencyKey: key,
      idempotencyTtlMs: ttlMs,
      store: !skipHistory,
      takeRecord,
    });
    let answered = seq;
    if (elsewhere !== undefined) {
      // What RedisDedup.take would have answered; reading the seq failing is `unavailable` too.
      let prior: DedupEntry;
      try {
        prior = await priorPublication(this.cmd, this.keys, JSON.parse(elsewhere) as DedupEntry, key);
      } catch (err) {
        throw unavailable(err);
      }
      if (prior.room !== room) throw new IdTakenElsewhere(prior);
      // This room's record as IdempotencyStore.take writes it (an instance that takes ids in a step
      // of its own, during a rolling upgrade): its seq is in the room's idempotency key. Unknown: the
      // taker's publication did not happen, and the room's key decides.
      if (prior.seq === undefined) return this.publishBatched(message, key, ttlMs, skipHistory, false);
      answered = prior.seq;
    }
    const full: RoomMessage = { id, room, seq: answered, time, sender, content };
    // The event stream names a message by (room, epoch, seq): the epoch rides along, not enumerable,
    // so the message still equals (and serialises as) the one delivered.
    Object.defineProperty(full, 'epoch', { value: epoch });
    return full;
  }

  /**
   * After a batch's script, before its publishers are answered: this instance delivers the batch's
   * messages first (a sender sees its message before its ack), one wait for the batch. In a Redis
   * Cluster the `message` events are appended here too (the appends of one event-loop turn in one
   * pipeline), also for a retry answered with the original seq (the original's append may be what
   * failed): an ack still implies an entry. A failed append answers the batch `unavailable`; the
   * retry with the same id appends again. Consumers dedup by (room, epoch, seq) as they always do.
   */
  private settleBatch(
    room: string,
    batch: readonly Publication[],
    replies: readonly PublishReply[],
  ): Promise<unknown> {
    let last = -1;
    for (const r of replies) if (r.published) last = r.seq;
    const own = last >= 0 ? this.ownDelivery(room, last) : undefined;
    const events = this.messageEvents;
    if (events === null) return own ?? Promise.resolve();
    // A batch has one epoch; its appends join this turn's, and settle with it (one promise).
    const epochField = ',"epoch":' + JSON.stringify(replies[0].epoch);
    let appended: Promise<void> | undefined;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i];
      appended = events.appendJson('message', p.head + replies[i].seq + epochField + p.tail);
    }
    return own === undefined ? appended! : Promise.all([own, appended]);
  }

  /** publish with REDIS_MIN_REPLICAS > 0: acked once on the replicas (replica-confirmation.ts). */
  private async publishReplicated(
    message: Omit<RoomMessage, 'seq'>,
    key: string,
    ttlMs: number,
    skipHistory: boolean,
  ): Promise<RoomMessage> {
    const { id, room, time, sender, content } = message;
    const { head, tail } = jsonAroundSeq(message);
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
      !this.sub.isLive(stream.channel) ||
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
      // In a Redis Cluster, sharded: the channel's own shard only (the subscribers are there).
      await (this.keys.cluster ? this.cmd.spublish(channel, payload) : this.cmd.publish(channel, payload));
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
    let reply: HistoryReply;
    try {
      reply = await this.cmd.gwHistory(
        this.keys.meta(room),
        this.keys.log(room),
        this.keys.generation(room),
        this.keys.skips(room),
        newEpoch(),
        since === undefined ? '' : String(since),
        epoch ?? '',
        this.options.roomTtlMs,
        room,
      );
    } catch (err) {
      throw unavailable(err);
    }
    const [seqRaw, currentEpoch, oldestRaw, mode, raw, coveredRaw] = reply;
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
    // Seqs between since and oldestSeq that were all skipped (skipHistory) are no loss: `covered`.
    const recovered = mode === 'none' || (mode === 'after' && since! + 1 >= Number(coveredRaw ?? oldestSeq));
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
    await this.sub.subscribe(stream.channel);
  }

  async unsubscribeRoom(room: string): Promise<void> {
    const stream = this.rooms.get(room);
    if (stream === undefined) return;
    this.rooms.delete(room);
    this.roomByChannel.delete(stream.channel);
    for (const w of stream.waiters) w.resolve();
    await this.sub.unsubscribe(stream.channel);
  }

  async subscribeUser(userId: string): Promise<void> {
    const channel = this.keys.userChannel(userId);
    this.users.set(channel, userId);
    await this.sub.subscribe(channel);
  }

  async unsubscribeUser(userId: string): Promise<void> {
    const channel = this.keys.userChannel(userId);
    if (!this.users.delete(channel)) return;
    await this.sub.unsubscribe(channel);
  }

  /**
   * Before channels are subscribed again (the subscriber reconnected, or their shard changed): live
   * messages of the rooms whose position is known wait until the history read that follows the
   * subscription has been delivered.
   */
  private holdLive(channels: readonly string[]): void {
    for (const channel of channels) {
      const room = this.roomByChannel.get(channel);
      const s = room === undefined ? undefined : this.rooms.get(room);
      if (s !== undefined && s.seq >= 0) s.buffer ??= [];
    }
  }

  /** They are subscribed again: catch up every room whose position is known from history. */
  private catchUpAfterResubscribe(channels: readonly string[]): void {
    for (const channel of channels) {
      const room = this.roomByChannel.get(channel);
      const s = room === undefined ? undefined : this.rooms.get(room);
      if (room !== undefined && s !== undefined && s.seq >= 0) void this.catchUp(room, s);
    }
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
        } else if (payload.startsWith(ROOM_BATCH)) {
          // One publish batch: consecutive seqs in order, decoded at once.
          const bar = payload.indexOf('|');
          const epoch = payload.slice(1, bar);
          const messages = JSON.parse(payload.slice(bar + 1)) as RoomMessage[];
          for (let i = 0; i < messages.length; i++) this.accept(room, epoch, messages[i], false);
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
        // Not connected (the subscriber came back first): read again as soon as the command
        // connection is, since a busy room's history moves on meanwhile; otherwise after a pause.
        if (this.cmd.status !== 'ready') await waitReady(this.cmd, CATCH_UP_RETRY_MS);
        else await new Promise((r) => setTimeout(r, CATCH_UP_RETRY_MS).unref());
      }
    }
    if (this.rooms.get(room) !== s) return;
    const buffered = s.buffer ?? [];
    s.buffer = null;
    s.catchingUp = false;
    // The buffer holds the live stream from its first message on, in order: history fills only
    // what comes before it. A read slower than a busy room can find history already trimmed past
    // messages the buffer holds; delivered first, it would jump over them.
    const first =
      buffered.length > 0 && buffered[0].epoch === slice.epoch ? buffered[0].message.seq : Infinity;
    if (!slice.recovered && slice.epoch === s.epoch) this.announceLoss(room, s, slice, first);
    for (const m of slice.messages) if (m.seq < first) this.accept(room, slice.epoch, m, true);
    for (const b of buffered) this.accept(room, b.epoch, b.message, true);
  }

  /**
   * History no longer holds part of what the subscription missed (it was cut for longer than
   * HISTORY_SIZE messages take): the members hear `reset` in the same epoch, with the seq delivery
   * resumes after, before the first message after the loss (onRoomReset; the typed client reports a
   * gap). Nothing is lost silently.
   */
  private announceLoss(room: string, s: RoomStream, slice: HistorySlice, first: number): void {
    let next = first;
    for (const m of slice.messages) {
      if (m.seq > s.seq && m.seq < first) {
        next = m.seq;
        break;
      }
    }
    const resumeAfter = next === Infinity ? slice.seq : next - 1;
    if (resumeAfter <= s.seq) return;
    this.logger.warn(
      `room ${room}: history does not cover seqs ${s.seq + 1}..${resumeAfter} missed by this instance; ` +
        'its members get reset',
    );
    s.seq = resumeAfter;
    this.handler?.onRoomReset?.(room, { epoch: slice.epoch, seq: resumeAfter, oldestSeq: slice.oldestSeq });
    this.wake(s, resumeAfter);
  }

  // ---------------------------------------------------------------- health and shutdown

  isHealthy(): boolean {
    return (
      !this.closed &&
      this.cmd.status === 'ready' &&
      this.sub.isHealthy() &&
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
    await Promise.allSettled([this.sub.close(), this.shared.release(), this.replicas?.close()]);
  }
}

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

/** A message's JSON up to `"seq":` and after the seq: the publish scripts put the seq in between. */
function jsonAroundSeq({ id, room, time, sender, content }: Omit<RoomMessage, 'seq'>): {
  head: string;
  tail: string;
} {
  return {
    head: JSON.stringify({ id, room }).slice(0, -1) + ',"seq":',
    tail: ',' + JSON.stringify({ time, sender, content }).slice(1),
  };
}
