/**
 * Where a producer emits `hub.publish` events: the Redis channel `<REDIS_KEY_PREFIX>hub.publish`
 * (`gw:hub.publish` by default), which is also the Nest event pattern a `ClientProxy` emits to.
 * The prefix keeps two deployments that share one Redis apart: each consumes its own events only.
 * Kept free of Nest and Node imports so that a producer can import it alone.
 */
export const HUB_PUBLISH_PATTERN = 'hub.publish';

/** The channel, and the pattern to `emit` to: `hubPublishChannel('gw:')` is `'gw:hub.publish'`. */
export function hubPublishChannel(redisKeyPrefix: string): string {
  return `${redisKeyPrefix}${HUB_PUBLISH_PATTERN}`;
}
