import { EventEmitter } from 'node:events';
import type { MaybeAsync } from '../cluster/maybe-async.js';
import type { DirectFrame, RoomMessage, UserRef } from '../protocol/frames.js';
import type { EventSink } from './event-sink.js';
import type { EventType, GatewayEvents, HubEvents, LeftReason, MessageEvent } from './events.js';
import { LocalPresenceTracker, type PresenceEmit, type PresenceTracker } from './presence-tracker.js';

/** Emits an event in this process only. */
export type EmitLocal = <K extends EventType>(type: K, data: GatewayEvents[K]) => void;

/** A published message as the broker answers it: with its epoch when the broker knows it. */
export type PublishedMessage = RoomMessage & { epoch?: string };

/**
 * `HubService.events`: an EventEmitter of the typed events (events.ts) that also feeds the sink (the
 * Redis Stream or the webhooks) and turns per-connection facts into debounced presence through the
 * tracker. The hub calls the methods below at its few emit points; a module subscribes with `on`.
 *
 * `message` and `direct` are on the per-message path: with no listener and no sink they cost one
 * null check and one `listenerCount`, no allocation.
 */
export class HubEventBus extends EventEmitter<HubEvents> {
  /** Set by EventsService when a stream or webhooks are configured. */
  sink: EventSink | null = null;
  /** This instance's name in `connected`/`disconnected`. */
  instance = '';
  /** The epoch of a broker that does not answer one with each publication (memory). */
  localEpoch = '';
  private tracker: PresenceTracker;

  constructor() {
    super();
    this.tracker = new LocalPresenceTracker(0, (type, data) => this.record(type, data));
  }

  /**
   * Called once by the hub: its instance name, PRESENCE_GRACE_MS, and the broker (a broker in this
   * process has one epoch, `broker.epoch`, instead of answering it with each publication).
   */
  setUp(instance: string, graceMs: number, broker: object): void {
    this.instance = instance;
    const epoch = (broker as { epoch?: unknown }).epoch;
    if (typeof epoch === 'string') this.localEpoch = epoch;
    this.useTracker((emit) => new LocalPresenceTracker(graceMs, emit));
  }

  /**
   * Replaces the presence tracker (the cluster-wide one with Redis). `record` emits and appends to
   * the sink; `emitLocal` only emits, for a tracker that appends to the stream itself.
   */
  useTracker(factory: (record: PresenceEmit, emitLocal: EmitLocal) => PresenceTracker): void {
    this.tracker.stop();
    this.tracker = factory(
      (type, data) => this.record(type, data),
      (type, data) => this.emitAny(type, data),
    );
  }

  /** A room publication the broker accepted; the ack waits for what this answers. */
  message(m: PublishedMessage): MaybeAsync<void> {
    if (this.sink === null && this.listenerCount('message') === 0) return;
    const data: MessageEvent = {
      room: m.room,
      epoch: m.epoch ?? this.localEpoch,
      seq: m.seq,
      id: m.id,
      time: m.time,
      sender: m.sender,
      content: m.content,
    };
    this.emit('message', data);
    return this.sink?.append('message', data);
  }

  /**
   * `result` once the message event is recorded (at once without a sink or with one in this
   * process), else a promise of it; a failed append rejects with `mapError(err)`.
   */
  acked<T>(m: PublishedMessage, result: T, mapError: (err: unknown) => unknown): MaybeAsync<T> {
    const recorded = this.message(m);
    if (recorded === undefined) return result;
    return recorded.then(
      () => result,
      (err: unknown) => {
        throw mapError(err);
      },
    );
  }

  /** A direct message that was delivered to the cluster; the ack waits for what this answers. */
  direct(frame: DirectFrame): MaybeAsync<void> {
    if (this.sink === null && this.listenerCount('direct') === 0) return;
    const { id, time, sender, to, content } = frame;
    const data = { id, time, sender, to, content };
    this.emit('direct', data);
    return this.sink?.append('direct', data);
  }

  connectionOpened(connectionId: string, user: UserRef, ip: string): void {
    this.record('connected', { connectionId, user, ip, instance: this.instance, time: Date.now() });
    this.tracker.open(user, connectionId);
  }

  connectionClosed(connectionId: string, user: UserRef, code: number, reason: string): void {
    this.record('disconnected', {
      connectionId,
      user,
      code,
      reason,
      instance: this.instance,
      time: Date.now(),
    });
    this.tracker.close(user, connectionId);
  }

  /**
   * Called with a connection's id whenever one of its rooms changes (the hub keeps the cluster-wide
   * user directory's room list up to date with it). `joined`/`left` are per user, not per connection.
   */
  connectionRoomsChanged: ((connectionId: string) => void) | null = null;

  roomJoined(connectionId: string, user: UserRef, room: string): void {
    this.tracker.join(room, user, connectionId);
    this.connectionRoomsChanged?.(connectionId);
  }

  roomLeft(connectionId: string, user: UserRef, room: string, reason: LeftReason): void {
    this.tracker.leave(room, user, connectionId, reason);
    this.connectionRoomsChanged?.(connectionId);
  }

  evicted(connectionId: string, user: UserRef, queued: number): void {
    this.record('evicted', { connectionId, user, queued });
  }

  /** Emits in process and appends to the sink; a failed append is the sink's to log. */
  record<K extends EventType>(type: K, data: GatewayEvents[K]): void {
    this.emitAny(type, data);
    const done = this.sink?.append(type, data);
    if (done instanceof Promise) done.catch(() => undefined);
  }

  stop(): void {
    this.tracker.stop();
  }

  /** `emit` for a type known only at run time (the typed overloads want a literal). */
  private emitAny(type: EventType, data: unknown): void {
    (this as EventEmitter).emit(type, data);
  }
}
