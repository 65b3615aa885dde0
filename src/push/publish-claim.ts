import { Inject, Injectable } from '@nestjs/common';
import { IDEMPOTENCY, type IdempotencyStore, idempotencyKey } from '../cluster/idempotency.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';

/**
 * Redis pub/sub hands a `hub.publish` event to every gateway instance subscribed to it; exactly one
 * must publish it. Each instance claims the event's (sender, id) in the idempotency store (with Redis:
 * SET NX PX under REDIS_KEY_PREFIX, for DEDUP_WINDOW_MS) and only the winner publishes. The
 * publication's own idempotency cannot do this: two instances publishing at once would both send a
 * direct message before either recorded it.
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
}
