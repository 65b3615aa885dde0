import type { Broker } from './broker.js';
import type { IdempotencyStore } from './idempotency.js';
import type { PresenceStore } from './presence.js';
import type { RevocationStore } from '../auth/revocation.js';
import type { UserDirectory } from './users.js';

/** The seams between this instance and the rest of the cluster. */
export interface ClusterSeams {
  broker: Broker;
  presence: PresenceStore;
  idempotency: IdempotencyStore;
  /** Live connections per user (the server API, MAX_CONNECTIONS_PER_USER across instances). */
  users: UserDirectory;
  /** Revoked tokens. */
  revocations: RevocationStore;
}
