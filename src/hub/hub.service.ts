import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { mayJoin, type Principal } from '../auth/principal.js';
import {
  BROKER,
  type Broker,
  type BrokerHandler,
  BrokerUnavailableError,
  type RoomEvent,
} from '../cluster/broker.js';
import { DEDUP, type DedupStore, dedupKey } from '../cluster/dedup.js';
import { after, type MaybeAsync, mapFailure } from '../cluster/maybe-async.js';
import { PRESENCE, type PresenceStore } from '../cluster/presence.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { Close, ErrorCode, Refusal } from '../protocol/codes.js';
import type { DirectFrame, ErrorFrame, JoinedFrame, RoomMessage, UserRef } from '../protocol/frames.js';
import { type FieldProblem, WsError } from '../protocol/ws-error.js';
import { Connection } from './connection.js';
import { HubCounters } from './hub-counters.js';
import { encodeFrame, textFrame } from './frame.js';
import { type JoinState, LocalRoom } from './local-room.js';
import { BatchCache, SendQueue } from './send-queue.js';
import { TokenBucket } from '../protocol/wire/token-bucket.js';

export interface PublishOptions {
  /** Shown as the sender; defaults to `{id: 'system', name: 'system'}`. */
  sender?: UserRef;
  /** Message id; with it, a retry within DEDUP_WINDOW_MS is not delivered twice. */
  id?: string;
}

export interface PublishResult {
  id: string;
  seq: number;
}

export interface HubStats {
  connections: number;
  users: number;
  rooms: number;
  queuedFrames: number;
  queuedBytes: number;
  draining: boolean;
}

/** Lifecycle events other modules can subscribe to through `HubService.events`. */
export interface HubEvents {
  connected: [{ connectionId: string; user: UserRef; ip: string }];
  disconnected: [{ connectionId: string; user: UserRef; code: number; reason: string }];
  joined: [{ connectionId: string; user: UserRef; room: string }];
  left: [{ connectionId: string; user: UserRef; room: string }];
  /** A connection closed 1013 because its queue overflowed. */
  evicted: [{ connectionId: string; user: UserRef; queued: number }];
  /** An error frame was sent. */
  errorSent: [{ connectionId: string; code: string }];
}

/** The sweeper runs at least this often, and four times per heartbeat period when that is shorter. */
const MAX_SWEEP_INTERVAL_MS = 1000;
const SYSTEM: UserRef = { id: 'system', name: 'system' };

/**
 * The registry and delivery engine (gorilla's Hub): connections by id and by user, rooms and their
 * members, each connection's bounded queue and writer, presence, dedup, and one sweeping timer for
 * heartbeats, token expiry and close deadlines. Exported for other modules: `publish`, `sendToUser`,
 * `broadcast`, `disconnectUser`, `stats` and `events`.
 */
@Injectable()
export class HubService implements BrokerHandler, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Hub');
  readonly instanceId = randomBytes(4).toString('hex');
  private idCounter = 0;

  private readonly connections = new Map<string, Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly ipCounts = new Map<string, number>();
  private readonly userCounts = new Map<string, number>();
  /** Admitted connections, including handshakes not yet registered. */
  private admitted = 0;
  private readonly rooms = new Map<string, LocalRoom>();

  /** Publications with a client id still under way, so that a racing retry is not published twice. */
  private readonly inflight = new Map<string, Promise<unknown>>();
  private dirty: Connection[] = [];
  /**
   * Batches written this turn, shared by every flush until the turn's flushAll: the mid-turn
   * flushes of a busy room's members (each passing its queue bound at the same frame) write one
   * concatenation instead of one each. Without it, at 3.5M deliveries/s 75% of the server's
   * Buffer.concat time was such per-member copies.
   */
  private turnCache = new BatchCache();
  private flushScheduled = false;
  private sweeper: NodeJS.Timeout | null = null;
  private draining = false;

  readonly events = new EventEmitter<HubEvents>();
  readonly counters = new HubCounters();
  private readonly sweepIntervalMs: number;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(BROKER) private readonly broker: Broker,
    @Inject(PRESENCE) private readonly presence: PresenceStore,
    @Inject(DEDUP) private readonly dedup: DedupStore,
  ) {
    this.broker.setHandler(this);
    this.sweepIntervalMs = Math.max(10, Math.min(MAX_SWEEP_INTERVAL_MS, Math.floor(config.heartbeatMs / 4)));
  }

  onModuleInit(): void {
    this.sweeper = setInterval(() => this.sweep(Date.now()), this.sweepIntervalMs);
    this.sweeper.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const c of this.connections.values()) c.ws.terminate();
    await Promise.allSettled([this.broker.close(), this.presence.close(), this.dedup.close()]);
  }

  /** A unique id: instance id + counter (cheaper than a UUID, unique across instances). */
  newId(): string {
    return `${this.instanceId}-${(++this.idCounter).toString(36)}`;
  }

  // ---------------------------------------------------------------- admission and registry

  /**
   * Reserves a connection slot for a handshake, or says which limit refuses it. A reservation is
   * released by `release` (handshake failed) or when the registered connection closes.
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

  /** Registers an upgraded socket (after `admit`) and sends `welcome`. */
  register(ws: WebSocket, socket: Socket, principal: Principal, ip: string, deflate: boolean): Connection {
    const now = Date.now();
    const { config } = this;
    const queue = new SendQueue(
      ws,
      socket,
      { messages: config.sendQueueMessages, bytes: config.sendQueueBytes },
      deflate,
    );
    const c = new Connection(
      this.newId(),
      ws,
      socket,
      principal,
      ip,
      queue,
      new TokenBucket(config.ratePerSec, config.ratePerSec, now),
      now,
    );
    this.connections.set(c.id, c);
    this.counters.connects++;
    let set = this.byUser.get(principal.id);
    if (set === undefined) {
      this.byUser.set(principal.id, (set = new Set()));
      this.broker.subscribeUser(principal.id).catch((err) => this.logBrokerFailure('subscribeUser', err));
    }
    set.add(c);
    this.send(c, {
      type: 'welcome',
      session: c.id,
      user: { id: principal.id, name: principal.name },
      time: now,
      heartbeatMs: config.heartbeatMs,
      limits: {
        maxMessageBytes: config.maxMessageBytes,
        maxContentLength: config.maxContentLength,
        ratePerSec: config.ratePerSec,
        queueMessages: config.sendQueueMessages,
      },
    });
    this.events.emit('connected', { connectionId: c.id, user: c.user, ip });
    return c;
  }

  /** Forgets a closed connection: leaves its rooms (presence), frees its slot. Idempotent. */
  unregister(c: Connection, code: number, reason: string): void {
    if (!this.connections.delete(c.id)) return;
    if (c.closeDeadline === 0) c.closeDeadline = Date.now();
    c.queue.drop();
    for (const room of c.rooms ?? []) this.leaveRoom(c, room);
    const set = this.byUser.get(c.principal.id);
    if (set !== undefined) {
      set.delete(c);
      if (set.size === 0) {
        this.byUser.delete(c.principal.id);
        this.broker
          .unsubscribeUser(c.principal.id)
          .catch((err) => this.logBrokerFailure('unsubscribeUser', err));
      }
    }
    this.release(c.ip, c.principal.id);
    this.events.emit('disconnected', { connectionId: c.id, user: c.user, code, reason });
  }

  // ---------------------------------------------------------------- outbound path

  /** Encodes a frame for one connection and queues it. */
  send<F extends { readonly type: string }>(c: Connection, frame: F): void {
    HubCounters.bump(this.counters.framesOut, frame.type);
    this.enqueue(c, encodeFrame(frame));
  }

  /** Queues a pre-built frame; the writer runs once per event-loop turn for all dirty connections. */
  enqueue(c: Connection, frame: Buffer): void {
    const queue = c.queue;
    this.counters.bytesOut += frame.length;
    if (!queue.push(frame, this.turnCache)) {
      this.evict(c);
      return;
    }
    if (!queue.scheduled) {
      queue.scheduled = true;
      this.dirty.push(c);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushAll);
      }
    }
  }

  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    const cache = this.turnCache;
    this.turnCache = new BatchCache();
    for (let i = 0; i < dirty.length; i++) {
      const c = dirty[i];
      c.queue.scheduled = false;
      if (!c.queue.flush(cache)) this.evict(c);
    }
  };

  /** Flushes queued frames now (used before closing a connection). */
  flush(c: Connection): void {
    if (!c.queue.flush()) this.evict(c);
  }

  /** Queue overflow: the connection is dead or stuck. Drop its frames and close 1013. */
  private evict(c: Connection): void {
    if (!c.open) return;
    const queued = c.queue.length;
    this.counters.evictions++;
    this.logger.warn(`slow consumer ${c.id} (user ${c.principal.id}): ${queued} frames queued, closing 1013`);
    this.events.emit('evicted', { connectionId: c.id, user: c.user, queued });
    this.close(c, Close.SlowConsumer.code, Close.SlowConsumer.reason, false);
  }

  /**
   * Starts closing a connection: optionally flushes what is queued, then sends the close frame. The
   * sweeper destroys the socket if the close handshake has not finished by CLOSE_TIMEOUT_MS.
   */
  close(c: Connection, code: number, reason: string, flushFirst = true): void {
    if (!c.open) return;
    if (flushFirst) c.queue.flush();
    c.queue.drop();
    c.closeDeadline = Date.now() + this.config.closeTimeoutMs;
    try {
      c.ws.close(code, reason);
    } catch {
      c.ws.terminate();
    }
  }

  /** Sends an `error` frame and closes 1008 after too many of them in the window. */
  sendError(c: Connection, code: ErrorCode, message: string, ref?: unknown, details?: FieldProblem[]): void {
    if (!c.open) return;
    const frame: ErrorFrame = { type: 'error', code, message };
    if (typeof ref === 'string' && ref.length > 0 && ref.length <= 64) frame.ref = ref;
    if (details) frame.details = details;
    this.send(c, frame);
    HubCounters.bump(this.counters.errors, code);
    this.events.emit('errorSent', { connectionId: c.id, code });
    const now = Date.now();
    const times = (c.errorTimes ??= []);
    times.push(now);
    while (times.length > 0 && times[0] <= now - this.config.errorWindowMs) times.shift();
    if (times.length >= this.config.errorLimit) {
      this.close(c, Close.TooManyErrors.code, Close.TooManyErrors.reason);
    }
  }

  // ---------------------------------------------------------------- rooms

  /**
   * Joins a room: replays history after `since`, then `joined`, then live messages, with no gap and
   * no duplicate even while the room is busy (live messages are held while history is read).
   */
  async join(c: Connection, room: string, since?: number, epoch?: string): Promise<void> {
    if (!mayJoin(c.principal, room)) {
      throw new WsError(ErrorCode.Forbidden, `your token does not allow room "${room}"`);
    }
    const rejoin = c.joined(room);
    if (!rejoin && (c.rooms?.size ?? 0) >= this.config.maxRoomsPerConnection) {
      throw new WsError(
        ErrorCode.Forbidden,
        `at most ${this.config.maxRoomsPerConnection} rooms per connection`,
      );
    }
    let local = this.rooms.get(room);
    const firstLocal = local === undefined;
    if (local === undefined) this.rooms.set(room, (local = new LocalRoom(room)));
    const state: JoinState = { pending: [], after: 0 };
    local.members.delete(c);
    local.joining.set(c, state);
    (c.rooms ??= new Set()).add(room);

    let slice;
    try {
      if (firstLocal) await this.broker.subscribeRoom(room);
      slice = await this.broker.history(room, since, epoch);
    } catch (err) {
      if (!rejoin) {
        this.dropMembership(c, room);
      } else {
        local.joining.delete(c);
        local.members.add(c);
      }
      throw toWsError(err);
    }
    if (!c.open || local.joining.get(c) !== state) return;

    for (const m of slice.messages) this.enqueue(c, messageFrame(m));
    if (since !== undefined) {
      this.counters.historyReplays++;
      this.counters.replayedMessages += slice.messages.length;
      if (!slice.recovered) this.counters.notRecovered++;
    }
    state.after = slice.seq;
    // A room new to this instance has delivered nothing yet: publications up to the history's seq
    // that are still in flight from the broker are covered by the replay, not to be delivered again.
    if (local.members.size === 0 && local.joining.size === 1 && local.deliveredSeq < slice.seq) {
      local.deliveredSeq = slice.seq;
    }
    let members: UserRef[] | undefined;
    if (!rejoin) {
      const user = c.user;
      const first = await this.presence.add(room, user, c.id).catch(() => false);
      const count = await this.presence.count(room).catch(() => 0);
      if (count <= this.config.presenceMaxMembers) {
        members = await this.presence.members(room, this.config.presenceMaxMembers).catch(() => undefined);
        if (first) {
          const event: RoomEvent = { type: 'presence', room, user, status: 'joined', origin: c.id };
          this.counters.busPublished++;
          this.broker.publishRoomEvent(room, event).catch((err) => this.logBrokerFailure('presence', err));
        }
      }
      if (!c.open || local.joining.get(c) !== state) return;
    }
    const joined: JoinedFrame = {
      type: 'joined',
      room,
      seq: slice.seq,
      epoch: slice.epoch,
      recovered: slice.recovered,
      oldestSeq: slice.oldestSeq,
    };
    if (members) joined.members = members;
    this.send(c, joined);
    const pending = state.pending ?? [];
    state.pending = null;
    for (const m of pending) {
      if (m.seq > state.after) {
        this.enqueue(c, messageFrame(m));
        state.after = m.seq;
      }
    }
    if (local.deliveredSeq >= state.after) {
      local.joining.delete(c);
      local.members.add(c);
    }
    if (!rejoin) this.events.emit('joined', { connectionId: c.id, user: c.user, room });
  }

  /** Leaves a room and answers `left`. */
  leave(c: Connection, room: string): void {
    if (!c.joined(room)) throw new WsError(ErrorCode.NotJoined, `you have not joined room "${room}"`);
    this.leaveRoom(c, room);
    this.send(c, { type: 'left', room });
  }

  private leaveRoom(c: Connection, room: string): void {
    this.dropMembership(c, room);
    const user = c.user;
    this.presence
      .remove(room, user.id, c.id)
      .then(async (last) => {
        if (!last) return;
        if ((await this.presence.count(room)) >= this.config.presenceMaxMembers) return;
        this.counters.busPublished++;
        await this.broker.publishRoomEvent(room, {
          type: 'presence',
          room,
          user,
          status: 'left',
          origin: c.id,
        });
      })
      .catch((err) => this.logBrokerFailure('presence', err));
    this.events.emit('left', { connectionId: c.id, user, room });
  }

  private dropMembership(c: Connection, room: string): void {
    c.rooms?.delete(room);
    const local = this.rooms.get(room);
    if (local === undefined) return;
    local.delete(c);
    if (local.size === 0) {
      this.rooms.delete(room);
      this.broker.unsubscribeRoom(room).catch((err) => this.logBrokerFailure('unsubscribeRoom', err));
    }
  }

  // ---------------------------------------------------------------- publishing

  /**
   * A client's `message`: dedup by (user, id), publish, ack with the seq. With the seams in this
   * process (memory) it all happens now, with no promise.
   */
  publishFromClient(c: Connection, room: string, content: string, clientId?: string): MaybeAsync<void> {
    if (!c.joined(room)) throw new WsError(ErrorCode.NotJoined, `join room "${room}" before sending to it`);
    return after(this.publishMessage(room, content, c.user, clientId), (result) => {
      this.send(c, { type: 'ack', id: result.id, room, seq: result.seq });
    });
  }

  /**
   * Publishes a message to a room on every instance. With an `id`, a retry by the same sender within
   * DEDUP_WINDOW_MS returns the original seq and is not delivered again.
   */
  async publish(room: string, content: string, options: PublishOptions = {}): Promise<PublishResult> {
    return this.publishMessage(room, content, options.sender ?? SYSTEM, options.id);
  }

  private publishMessage(
    room: string,
    content: string,
    sender: UserRef,
    clientId: string | undefined,
  ): MaybeAsync<PublishResult> {
    if (clientId === undefined) return this.publishOnce(room, content, sender, undefined, null);
    const key = dedupKey(sender.id, 'message', clientId);
    return this.once(key, () => this.publishOnce(room, content, sender, clientId, key));
  }

  /**
   * A retry racing its original on this instance waits for the original's answer. An answer given
   * at once (seams in this process) cannot be raced, so it is not recorded.
   */
  private once<T>(key: string, run: () => MaybeAsync<T>): MaybeAsync<T> {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running !== undefined) return running;
    const result = run();
    if (!(result instanceof Promise)) return result;
    const p = result.finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private publishOnce(
    room: string,
    content: string,
    sender: UserRef,
    clientId: string | undefined,
    key: string | null,
  ): MaybeAsync<PublishResult> {
    const ttlMs = this.config.dedupWindowMs;
    const publish = (): MaybeAsync<PublishResult> => {
      const id = clientId ?? this.newId();
      // [cluster] the key also makes the broker's publish idempotent: a retry after a lost reply
      // (connection dropped after Redis ran the publish) is not published twice.
      const dedup = key === null ? undefined : { key, ttlMs };
      this.counters.busPublished++;
      return after(this.broker.publish({ id, room, time: Date.now(), sender, content }, dedup), (m) =>
        key === null
          ? { id, seq: m.seq }
          : after(this.dedup.set(key, { room, seq: m.seq }, ttlMs), () => ({ id, seq: m.seq })),
      );
    };
    return mapFailure(() => {
      if (key === null) return publish();
      return after(this.dedup.get(key), (prior) =>
        prior?.seq !== undefined && prior.room === room ? { id: clientId!, seq: prior.seq } : publish(),
      );
    }, toWsError);
  }

  /** A client's `direct`: to every connection of `to` and of the sender, acked with the id. */
  async direct(c: Connection, to: string, content: string, clientId?: string): Promise<void> {
    const { id } = await this.sendDirect(c.user, to, content, { id: clientId, echo: true });
    this.send(c, { type: 'ack', id });
  }

  /**
   * A `direct` frame to every connection of `to` (and of the sender with `echo`), on every instance.
   * With an `id`, a retry by the same sender within DEDUP_WINDOW_MS is not delivered again.
   */
  async sendDirect(
    sender: UserRef,
    to: string,
    content: string,
    options: { id?: string; echo?: boolean } = {},
  ): Promise<{ id: string; duplicate: boolean }> {
    const { id, echo = false } = options;
    if (id === undefined) return this.directOnce(sender, to, content, this.newId(), null, echo);
    const key = dedupKey(sender.id, 'direct', id);
    return this.once(key, () => this.directOnce(sender, to, content, id, key, echo));
  }

  private async directOnce(
    sender: UserRef,
    to: string,
    content: string,
    id: string,
    key: string | null,
    echo: boolean,
  ): Promise<{ id: string; duplicate: boolean }> {
    try {
      if (key !== null && (await this.dedup.get(key)) !== undefined) return { id, duplicate: true };
      const frame: DirectFrame = { type: 'direct', id, time: Date.now(), sender, to, content };
      await this.sendToUser(to, frame);
      if (echo && to !== sender.id) await this.sendToUser(sender.id, frame);
      if (key !== null) await this.dedup.set(key, {}, this.config.dedupWindowMs);
      return { id, duplicate: false };
    } catch (err) {
      throw toWsError(err);
    }
  }

  /** Sends a frame to every connection of a user, on every instance. */
  async sendToUser(userId: string, payload: object): Promise<void> {
    this.counters.busPublished++;
    await this.broker.publishUserEvent(userId, payload);
  }

  /** Sends a frame to every connection on every instance. */
  async broadcast(payload: object): Promise<void> {
    this.counters.busPublished++;
    await this.broker.publishBroadcast(payload);
  }

  /** Closes every local connection of a user with 4000 and the reason. */
  disconnectUser(userId: string, reason: string = Close.Disconnected.reason): number {
    const set = this.byUser.get(userId);
    if (set === undefined) return 0;
    for (const c of set) this.close(c, Close.Disconnected.code, reason.slice(0, 120));
    return set.size;
  }

  // ---------------------------------------------------------------- broker handler (inbound fan-out)

  onMessage(m: RoomMessage): void {
    this.counters.busReceived++;
    const local = this.rooms.get(m.room);
    if (local === undefined) return;
    if (m.seq <= local.deliveredSeq) return; // already delivered here (a replayed publication)
    local.deliveredSeq = m.seq;
    const frame = messageFrame(m);
    for (const c of local.members) this.enqueue(c, frame);
    HubCounters.bump(this.counters.framesOut, 'message', local.members.size);
    this.counters.onFanout?.(Date.now() - m.time, local.size);
    if (local.joining.size === 0) return;
    for (const [c, state] of local.joining) {
      if (state.pending !== null) {
        state.pending.push(m);
        continue;
      }
      if (m.seq > state.after) this.enqueue(c, frame);
      if (m.seq >= state.after) {
        local.joining.delete(c);
        local.members.add(c);
      }
    }
  }

  onRoomEvent(event: RoomEvent): void {
    this.counters.busReceived++;
    const local = this.rooms.get(event.room);
    if (local === undefined) return;
    const { origin, ...wire } = event;
    const frame = encodeFrame(wire);
    for (const c of local.members) if (c.id !== origin) this.enqueue(c, frame);
    for (const c of local.joining.keys()) if (c.id !== origin) this.enqueue(c, frame);
  }

  onUserEvent(userId: string, payload: object): void {
    this.counters.busReceived++;
    const set = this.byUser.get(userId);
    if (set === undefined) return;
    const frame = encodeFrame(payload);
    for (const c of set) this.enqueue(c, frame);
  }

  onBroadcast(payload: object): void {
    this.counters.busReceived++;
    const frame = encodeFrame(payload);
    for (const c of this.connections.values()) this.enqueue(c, frame);
  }

  /** [cluster] The room's history was lost in the broker (new epoch): its seqs start over. */
  onRoomReset(room: string): void {
    const local = this.rooms.get(room);
    if (local !== undefined) local.deliveredSeq = 0;
  }

  // ---------------------------------------------------------------- housekeeping

  /**
   * The one timer: close deadlines, token expiry, heartbeat pings and dead-peer termination, for
   * every connection in one pass a second instead of a timer per connection.
   */
  sweep(now: number): void {
    const hb = this.config.heartbeatMs;
    for (const c of this.connections.values()) {
      if (c.closeDeadline !== 0) {
        if (now >= c.closeDeadline) c.ws.terminate();
        continue;
      }
      const exp = c.principal.exp;
      if (exp !== null && now >= exp * 1000) {
        this.close(c, Close.TokenExpired.code, Close.TokenExpired.reason);
        continue;
      }
      // Two periods without a sign of life, plus one sweep of slack for the sweeper's own jitter.
      if (now - c.lastSeen > 2 * hb + this.sweepIntervalMs) {
        this.logger.debug?.(`no pong from ${c.id} for ${now - c.lastSeen} ms: terminating`);
        c.closeDeadline = now;
        c.ws.terminate();
        continue;
      }
      if (now - c.lastPing >= hb - this.sweepIntervalMs / 2) {
        c.lastPing = now;
        c.ws.ping();
      }
    }
  }

  /** Stops admitting connections (graceful drain). */
  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** All local connections (for the drain). */
  allConnections(): IterableIterator<Connection> {
    return this.connections.values();
  }

  stats(): HubStats {
    let queuedFrames = 0;
    let queuedBytes = 0;
    for (const c of this.connections.values()) {
      queuedFrames += c.queue.length;
      queuedBytes += c.queue.queuedBytes;
    }
    return {
      connections: this.connections.size,
      users: this.byUser.size,
      rooms: this.rooms.size,
      queuedFrames,
      queuedBytes,
      draining: this.draining,
    };
  }

  isHealthy(): boolean {
    return this.broker.isHealthy();
  }

  private logBrokerFailure(what: string, err: unknown): void {
    this.logger.warn(`broker ${what} failed: ${(err as Error)?.message ?? err}`);
  }
}

/** The `message` frame of a room message: the stored object's JSON with `type` in front. */
function messageFrame(m: RoomMessage): Buffer {
  return textFrame('{"type":"message",' + JSON.stringify(m).slice(1));
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

function toWsError(err: unknown): unknown {
  if (err instanceof BrokerUnavailableError) {
    return new WsError(ErrorCode.Unavailable, 'the message bus is unavailable; retry with the same id');
  }
  return err;
}
