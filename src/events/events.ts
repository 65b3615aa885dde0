import type { UserRef } from '../protocol/frames.js';
import type { LeftReason as LeftFrameReason } from '../protocol/wire/frames.js';

/**
 * The gateway's events, typed once: what `HubService.events` emits in process, what the Redis
 * Stream `<REDIS_KEY_PREFIX>events` holds (`type` and `data` as JSON) and what webhooks deliver.
 * `time` is in epoch milliseconds, as in frames. docs/protocol.md ("Events") is the contract.
 */
export interface GatewayEvents {
  /** A room message, once per publication (not per recipient), before its ack is sent. */
  message: MessageEvent;
  /** A direct message, once per publication, before its ack is sent. */
  direct: DirectEvent;
  /** The user's first connection anywhere opened (debounced by PRESENCE_GRACE_MS). */
  online: UserPresenceEvent;
  /** The user's last connection closed, and no new one opened within PRESENCE_GRACE_MS. */
  offline: UserPresenceEvent;
  /** The user's first connection in the room joined. */
  joined: JoinedEvent;
  /** The user's last connection in the room left, and none joined again within PRESENCE_GRACE_MS. */
  left: LeftEvent;
  /** One connection opened on `instance`. */
  connected: ConnectedEvent;
  /** One connection closed on `instance`. */
  disconnected: DisconnectedEvent;
  /** A connection closed 1013 because its send queue overflowed. */
  evicted: EvictedEvent;
}

export type EventType = keyof GatewayEvents;

/** Every event type, in the order of the docs. */
export const EVENT_TYPES: readonly EventType[] = [
  'message',
  'direct',
  'online',
  'offline',
  'joined',
  'left',
  'connected',
  'disconnected',
  'evicted',
];

export function isEventType(s: string): s is EventType {
  return (EVENT_TYPES as readonly string[]).includes(s);
}

export interface MessageEvent {
  room: string;
  /** With `seq`, names the message: consumers dedup by (room, epoch, seq). */
  epoch: string;
  seq: number;
  id: string;
  time: number;
  sender: UserRef;
  content: string;
}

export interface DirectEvent {
  id: string;
  time: number;
  sender: UserRef;
  to: string;
  content: string;
}

export interface UserPresenceEvent {
  user: UserRef;
  time: number;
}

export interface JoinedEvent {
  room: string;
  user: UserRef;
  time: number;
}

/**
 * Why a user's last connection left a room: a `left` frame's reasons, or `disconnect` (it closed), or
 * `crash` (its instance stopped refreshing presence).
 */
export type LeftReason = LeftFrameReason | 'disconnect' | 'crash';

export interface LeftEvent {
  room: string;
  user: UserRef;
  reason: LeftReason;
  time: number;
}

export interface ConnectedEvent {
  connectionId: string;
  user: UserRef;
  ip: string;
  instance: string;
  time: number;
}

export interface DisconnectedEvent {
  connectionId: string;
  user: UserRef;
  code: number;
  reason: string;
  instance: string;
  time: number;
}

export interface EvictedEvent {
  connectionId: string;
  user: UserRef;
  queued: number;
}

/** The EventEmitter map of `HubService.events`: one argument per event, its data. */
export type HubEvents = { [K in EventType]: [GatewayEvents[K]] };

/** An event as the stream and webhooks carry it. */
export interface EventEnvelope<K extends EventType = EventType> {
  type: K;
  data: GatewayEvents[K];
}
