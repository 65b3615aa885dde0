import { mayPublish } from '../auth/principal.js';
import type { Connection } from '../hub/connection.js';
import { HubError, HubErrorCode } from '../hub/hub-error.js';
import type { HubService } from '../hub/hub.service.js';
import type { HooksService } from './hooks.service.js';

interface Lane {
  pending: number;
  /** Settles when the lane's last message has been published (or refused). */
  tail: Promise<unknown>;
}

/**
 * Client messages through the publish hook, in order per connection: each message's hook call
 * starts at once (calls are pipelined, so a connection's throughput is not one round trip per
 * message), but a message is published only after the one sent before it on the same connection
 * was published or refused. A slow hook delays that connection's messages; it never reorders them.
 * Past HOOK_PUBLISH_MAX_PENDING waiting messages (HooksService.maxPendingPublishes) the next is
 * answered `rate_limited` (retry with the same id) instead of queued: a slow hook holds a
 * connection's messages back, bounded, and never makes the gateway drop the connection for its own
 * backlog. Only used when a publish hook exists.
 */
export class PublishLanes {
  private readonly lanes = new WeakMap<Connection, Lane>();

  constructor(
    private readonly hub: HubService,
    private readonly hooks: HooksService,
  ) {}

  submit(c: Connection, room: string, content: string, id: string | undefined): Promise<void> {
    // Refusals the hub would give anyway come first, without asking the backend.
    if (!c.joined(room))
      throw new HubError(HubErrorCode.NotJoined, `join room "${room}" before sending to it`);
    if (!mayPublish(c.principal, room)) {
      throw new HubError(HubErrorCode.Forbidden, `your token does not allow publishing to room "${room}"`);
    }
    let lane = this.lanes.get(c);
    if (lane === undefined) this.lanes.set(c, (lane = { pending: 0, tail: Promise.resolve() }));
    if (lane.pending >= this.hooks.maxPendingPublishes) {
      // The backend's slowness, not the client's doing: no ERROR_LIMIT count.
      throw new HubError(
        HubErrorCode.RateLimited,
        `${this.hooks.maxPendingPublishes} messages are already waiting for the publish hook; retry with the same id`,
        true,
        false,
      );
    }
    lane.pending++;
    const decided = this.hooks.publish(c, room, content, id);
    decided.catch(noop); // handled below, once the messages before it are out
    const published = lane.tail
      .then(() => decided)
      .then((v) => this.hub.publishFromClient(c, room, v.content, id, v.skipHistory));
    lane.tail = published.catch(noop);
    const own = lane;
    return published.finally(() => {
      own.pending--;
    });
  }
}

function noop(): void {}
