import type { UserRef } from '../protocol/frames.js';

/** Lifecycle events other modules can subscribe to through `HubService.events`. */
export interface HubEvents {
  connected: [{ connectionId: string; user: UserRef; ip: string }];
  disconnected: [{ connectionId: string; user: UserRef; code: number; reason: string }];
  joined: [{ connectionId: string; user: UserRef; room: string }];
  left: [{ connectionId: string; user: UserRef; room: string }];
  /** A connection closed 1013 because its queue overflowed. */
  evicted: [{ connectionId: string; user: UserRef; queued: number }];
}
