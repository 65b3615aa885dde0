import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import {
  BROKER,
  type Broker,
  type BrokerHandler,
  type RoomEvent,
  type RoomReset,
} from '../cluster/broker.js';
import { IDEMPOTENCY, type IdempotencyStore } from '../cluster/idempotency.js';
import type { MaybeAsync } from '../cluster/maybe-async.js';
import { PRESENCE, type PresenceStore } from '../cluster/presence.js';
import { MemoryUsers } from '../cluster/memory/memory-users.js';
import type { UserDirectory } from '../cluster/users.js';
import { revokes } from '../auth/revocation.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { Close, type ErrorCode, type Refusal } from '../protocol/codes.js';
import { LeftReason } from '../protocol/wire/frames.js';
import type { RoomMessage, ServerFrame, UserRef } from '../protocol/frames.js';
import type { FieldProblem } from '../protocol/ws-error.js';
import { Connection } from './connection.js';
import { type ControlCommand, controlOf } from './control.js';
import { encodeFrame } from './frame.js';
import { HubCounters } from './hub-counters.js';
import { HubEventBus } from './hub-events.js';
import { type PublishOptions, type PublishResult, Publisher, SYSTEM } from './publisher.js';
import { Registry, type RegistryStats } from './registry.js';
import { Rooms } from './rooms.js';
import { UserLeases } from './user-leases.js';
import { Writer } from './writer.js';

export type { HubEvents } from './hub-events.js';
export { HubEventBus } from './hub-events.js';
export type { PublishOptions, PublishResult } from './publisher.js';

export interface HubStats extends RegistryStats {
  rooms: number;
}

/** The sweeper runs at least this often, and four times per heartbeat period when that is shorter. */
const MAX_SWEEP_INTERVAL_MS = 1000;

/**
 * The hub (gorilla's Hub, centrifuge's node.go): wires the registry (connections, admission), the
 * writer (queues and their flushing), the rooms (joins and their catch-up) and the publisher, and is
 * the broker's handler for what the cluster delivers to this instance. Other modules use `publish`,
 * `sendToUser`, `broadcast`, `disconnectUser`, `stats` and `events`; the gateway the rest.
 */
@Injectable()
export class HubService implements BrokerHandler, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Hub');
  private readonly instanceId = randomBytes(4).toString('hex');
  private idCounter = 0;
  readonly events = new HubEventBus();
  readonly counters = new HubCounters();
  private readonly registry: Registry;
  private readonly writer: Writer;
  private readonly rooms: Rooms;
  private readonly publisher: Publisher;
  /** This instance's leases in the cluster-wide user directory. */
  readonly leases: UserLeases;
  private readonly sweepIntervalMs: number;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(BROKER) private readonly broker: Broker,
    @Inject(PRESENCE) private readonly presence: PresenceStore,
    @Inject(IDEMPOTENCY) private readonly idempotency: IdempotencyStore,
    users: UserDirectory = new MemoryUsers(),
  ) {
    this.events.setUp(this.instanceId, config.presenceGraceMs, broker);
    const logFailure = (what: string, err: unknown) => this.logBrokerFailure(what, err);
    this.registry = new Registry(config);
    this.writer = new Writer(this.counters, this.events, config);
    if (broker.publishing) this.writer.holdPassWhile(() => broker.publishing!());
    if (broker.sendPending) this.writer.sendBeforePass(() => broker.sendPending!());
    this.rooms = new Rooms(config, broker, presence, this.writer, this.counters, this.events, logFailure);
    this.publisher = new Publisher(
      broker,
      idempotency,
      this.writer,
      this.counters,
      config.dedupWindowMs,
      () => this.newId(),
      this.events,
    );
    this.broker.setHandler(this);
    this.leases = new UserLeases(users, config.maxConnectionsPerUser);
    this.events.connectionRoomsChanged = (connectionId) => {
      const c = this.registry.get(connectionId);
      if (c !== undefined) this.leases.roomsChanged(c);
    };
    this.sweepIntervalMs = Math.max(10, Math.min(MAX_SWEEP_INTERVAL_MS, Math.floor(config.heartbeatMs / 4)));
  }

  onModuleInit(): void {
    this.sweeper = setInterval(() => this.sweep(Date.now()), this.sweepIntervalMs);
    this.sweeper.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const c of this.registry.all()) c.ws.terminate();
    this.events.stop();
    await Promise.allSettled([
      this.broker.close(),
      this.presence.close(),
      this.idempotency.close(),
      this.leases.directory.close(),
    ]);
  }

  /** A unique id: instance id + counter (cheaper than a UUID, unique across instances). */
  newId(): string {
    return `${this.instanceId}-${(++this.idCounter).toString(36)}`;
  }

  // ---------------------------------------------------------------- connections

  /** Reserves a connection slot for a handshake, or says which limit refuses it (see Registry). */
  admit(ip: string, userId: string): Refusal | null {
    return this.registry.admit(ip, userId);
  }

  release(ip: string, userId: string): void {
    this.registry.release(ip, userId);
  }

  /**
   * The cluster-wide half of admission: a lease in the user directory under the connection id the
   * connection will be registered with (false: MAX_CONNECTIONS_PER_USER reached across instances).
   * A lease whose handshake fails is given back with `abandonLease`.
   */
  admitUser(userId: string, connectionId: string): Promise<boolean> {
    return this.leases.admit(userId, connectionId);
  }

  abandonLease(userId: string, connectionId: string): void {
    this.leases.abandon(userId, connectionId);
  }

  /** Registers an upgraded socket (after `admit`) and sends `welcome`; `id` is the leased one. */
  register(
    ws: WebSocket,
    socket: Socket,
    principal: Principal,
    ip: string,
    deflate: boolean,
    id: string = this.newId(),
  ): Connection {
    const now = Date.now();
    const { config } = this;
    const c = this.registry.add(id, ws, socket, principal, ip, deflate, now);
    this.counters.connects++;
    if (this.registry.ofUser(principal.id)?.size === 1) {
      this.broker.subscribeUser(principal.id).catch((err) => this.logBrokerFailure('subscribeUser', err));
    }
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
    this.events.connectionOpened(c.id, c.user, ip);
    return c;
  }

  /** Forgets a closed connection: leaves its rooms (presence), frees its slot. Idempotent. */
  unregister(c: Connection, code: number, reason: string): void {
    if (!this.registry.has(c)) return;
    if (c.closeDeadline === 0) c.closeDeadline = Date.now();
    c.queue.drop();
    for (const room of c.rooms ?? []) this.rooms.leaveRoom(c, room);
    this.leases.release(c);
    if (this.registry.remove(c) === true) {
      this.broker
        .unsubscribeUser(c.principal.id)
        .catch((err) => this.logBrokerFailure('unsubscribeUser', err));
    }
    this.events.connectionClosed(c.id, c.user, code, reason);
  }

  /** Closes every local connection of a user with 4000 and the reason. */
  disconnectUser(userId: string, reason: string = Close.Disconnected.reason): number {
    const set = this.registry.ofUser(userId);
    if (set === undefined) return 0;
    for (const c of set) this.writer.close(c, Close.Disconnected.code, reason.slice(0, 120));
    return set.size;
  }

  // ---------------------------------------------------------------- outbound (see Writer)

  send<F extends ServerFrame>(c: Connection, frame: F): void {
    this.writer.send(c, frame);
  }

  flush(c: Connection): void {
    this.writer.flush(c);
  }

  close(c: Connection, code: number, reason: string, flushFirst = true): void {
    this.writer.close(c, code, reason, flushFirst);
  }

  /** Sends an `error` frame and closes 1008 after too many of them in the window. */
  sendError(
    c: Connection,
    code: ErrorCode,
    message: string,
    ref?: unknown,
    details?: FieldProblem[],
    counted?: boolean,
  ): void {
    this.writer.error(c, code, message, ref, details, counted);
  }

  // ---------------------------------------------------------------- rooms and publishing

  join(c: Connection, room: string, since?: number, epoch?: string, last?: number): Promise<void> {
    return this.rooms.join(c, room, since, epoch, last);
  }

  leave(c: Connection, room: string, reason?: LeftReason): void {
    this.rooms.leave(c, room, reason);
  }

  /** A client's `message`; `skipHistory` (the publish hook's answer) keeps it out of history. */
  publishFromClient(
    c: Connection,
    room: string,
    content: string,
    clientId?: string,
    skipHistory = false,
  ): MaybeAsync<void> {
    return this.publisher.fromClient(c, room, content, clientId, skipHistory);
  }

  /**
   * Publishes a message to a room on every instance. With an `id`, a retry by the same sender within
   * DEDUP_WINDOW_MS returns the original seq and is not delivered again.
   */
  async publish(room: string, content: string, options: PublishOptions = {}): Promise<PublishResult> {
    return this.publisher.publish(room, content, options.sender ?? SYSTEM, options.id);
  }

  direct(c: Connection, to: string, content: string, clientId?: string): Promise<void> {
    return this.publisher.directFromClient(c, to, content, clientId);
  }

  /** A `direct` frame to every connection of `to` (and of the sender with `echo`), on every instance. */
  sendDirect(
    sender: UserRef,
    to: string,
    content: string,
    options: { id?: string; echo?: boolean } = {},
  ): Promise<{ id: string; duplicate: boolean }> {
    return this.publisher.direct(sender, to, content, options);
  }

  /** Sends a frame to every connection of a user, on every instance. */
  sendToUser(userId: string, payload: object): Promise<void> {
    return this.publisher.toUser(userId, payload);
  }

  /** Sends a frame to every connection on every instance. */
  broadcast(payload: object): Promise<void> {
    return this.publisher.broadcast(payload);
  }

  // ---------------------------------------------------------------- broker handler (inbound fan-out)

  onMessage(m: RoomMessage): void {
    this.counters.busReceived++;
    this.rooms.get(m.room)?.deliver(m, this.writer);
  }

  onRoomEvent(event: RoomEvent): void {
    this.counters.busReceived++;
    const local = this.rooms.get(event.room);
    if (local === undefined) return;
    const { origin, ...wire } = event;
    local.deliverEvent(encodeFrame(wire), origin, this.writer);
  }

  onUserEvent(userId: string, payload: object): void {
    this.counters.busReceived++;
    const set = this.registry.ofUser(userId);
    if (set === undefined) return;
    const command = controlOf(payload);
    if (command !== undefined) return this.control(command, set);
    const frame = encodeFrame(payload);
    for (const c of set) this.writer.enqueue(c, frame);
  }

  onBroadcast(payload: object): void {
    this.counters.busReceived++;
    const command = controlOf(payload);
    if (command !== undefined) return this.control(command, this.registry.all());
    const frame = encodeFrame(payload);
    for (const c of this.registry.all()) this.writer.enqueue(c, frame);
  }

  /** The room's history was lost in the broker (new epoch): members hear `reset`, seqs start over. */
  onRoomReset(room: string, reset: RoomReset): void {
    this.rooms.get(room)?.reset(reset, this.writer);
  }

  /** A server API command for these connections (see control.ts). */
  private control(command: ControlCommand, connections: Iterable<Connection>): void {
    for (const c of [...connections]) {
      if (!c.open) continue;
      switch (command.op) {
        case 'disconnect':
          if (c.principal.id === command.user) this.writer.close(c, command.code, command.reason);
          break;
        case 'leave':
          if (c.principal.id === command.user && c.joined(command.room)) this.removeFromRoom(c, command.room);
          break;
        case 'revoke':
          if (revokes(command.revocation, c.principal))
            this.writer.close(c, Close.TokenRevoked.code, Close.TokenRevoked.reason);
          break;
      }
    }
  }

  /** Takes a connection out of a room on the server's decision: `left {room, reason: "removed"}`. */
  private removeFromRoom(c: Connection, room: string): void {
    this.rooms.leave(c, room, LeftReason.Removed);
  }

  // ---------------------------------------------------------------- housekeeping

  /** The one timer: close deadlines, token expiry, heartbeats (see Registry.sweep). */
  sweep(now: number): void {
    this.registry.sweep(now, this.sweepIntervalMs, this.writer);
  }

  /** Stops admitting connections; DrainService calls it when the drain starts. */
  startDraining(): void {
    this.registry.draining = true;
  }

  /** The one drain flag (admission refuses, readiness is down, the push API answers 503). */
  get isDraining(): boolean {
    return this.registry.draining;
  }

  /** All local connections (for the drain). */
  allConnections(): IterableIterator<Connection> {
    return this.registry.all();
  }

  stats(): HubStats {
    return { ...this.registry.stats(), rooms: this.rooms.size };
  }

  isHealthy(): boolean {
    return this.broker.isHealthy();
  }

  private logBrokerFailure(what: string, err: unknown): void {
    this.logger.warn(`broker ${what} failed: ${(err as Error)?.message ?? err}`);
  }
}
