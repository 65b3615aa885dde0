import type { MaybeAsync } from '../cluster/maybe-async.js';
import type { EventType, GatewayEvents } from './events.js';

/**
 * Where the hub's events go besides in-process listeners: the Redis Stream (with REDIS_URL) or the
 * webhook buffer (without). `append` of a `message` or `direct` event is awaited before the sender's
 * ack, so an answer that is a promise means "not acked until it is durable"; a rejection refuses the
 * message `unavailable` (the sender retries with the same id).
 */
export interface EventSink {
  append<K extends EventType>(type: K, data: GatewayEvents[K]): MaybeAsync<void>;
}
