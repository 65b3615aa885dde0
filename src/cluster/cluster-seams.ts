import type { Broker } from './broker.js';
import type { IdempotencyStore } from './idempotency.js';
import type { PresenceStore } from './presence.js';

/** The three seams between this instance's hub and the rest of the cluster. */
export interface ClusterSeams {
  broker: Broker;
  presence: PresenceStore;
  idempotency: IdempotencyStore;
}
