import { Inject, Injectable } from '@nestjs/common';
import { IDEMPOTENCY, type IdempotencyStore, idempotencyKey } from '../cluster/idempotency.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';

/**
 * Redis pub/sub hands a `hub.publish` event to every gateway instance subscribed to it; exactly one
 * must publish it. Each instance claims the event's (sender, id) in the idempotency store (with Redis:
 * SET NX PX under REDIS_KEY_PREFIX, for DEDUP_WINDOW_MS) and only the winner publishes. The
 * publication's own idempotency cannot do this: two instances publishing at once would both send a
 * direct message before either recorded it. The claim key carries REDIS_KEY_PREFIX, like the channel
 * (`hubPublishChannel`). A claim is taken only by an instance that can publish (not draining) and is
 * released when the publication fails, so a re-emit is published once instead of being refused as
 * `already_claimed` for the whole window.
 */
@Injectable()
export class PublishClaim {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(IDEMPOTENCY) private readonly store: IdempotencyStore,
  ) {}

  /** True when this instance won the event. */
  async claim(sender: string, id: string): Promise<boolean> {
    const ttl = Math.max(this.config.dedupWindowMs, 1000);
    return this.store.claim(idempotencyKey(sender, 'push', id), ttl);
  }

  /** Gives up a won event whose publication failed: a re-emit with the same id is then published. */
  async release(sender: string, id: string): Promise<void> {
    await this.store.release(idempotencyKey(sender, 'push', id));
  }
}
