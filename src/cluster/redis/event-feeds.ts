import { Logger } from '@nestjs/common';
import type { GatewayConfig } from '../../config/config.js';
import type { EventSink } from '../../events/event-sink.js';
import type { HubEventBus } from '../../events/event-bus.js';
import { WebhookSender } from '../../events/webhook-sender.js';
import { openRedis, quit, redisSettings, waitReady } from './connection.js';
import { EventStreamWriter } from './event-stream.js';
import { RedisPresenceTracker } from './redis-presence-tracker.js';
import { StreamWebhookFeed } from './webhook-feed.js';

/**
 * The Redis side of the events: the stream writer (the bus's sink), the cluster-wide presence
 * tracker and, with WEBHOOK_URL, the webhook feed.
 */
export interface RedisEventFeeds {
  sink: EventSink;
  close(): Promise<void>;
}

/**
 * Opens the connections of the event stream (its own, so that appends never queue behind the
 * broker's scripts, and a blocking one for the webhook feed's XREADGROUP).
 */
export async function createRedisEventFeeds(
  config: GatewayConfig,
  bus: HubEventBus,
  counters: { webhookEventsDropped: number },
): Promise<RedisEventFeeds> {
  const instance = bus.instance;
  const logger = new Logger('Events');
  const settings = redisSettings(config);
  const redis = openRedis(settings, 'gateway-events', logger);
  const writer = new EventStreamWriter(redis, config.redisKeyPrefix, config.eventsMaxlen, logger);
  const presence = { prefix: config.redisKeyPrefix, maxlen: config.eventsMaxlen };
  bus.useTracker(
    (_record, emitLocal) =>
      new RedisPresenceTracker(
        redis,
        { ...presence, leaseMs: config.presenceTtlMs, graceMs: config.presenceGraceMs },
        emitLocal,
        logger,
      ),
  );
  let feed: StreamWebhookFeed | null = null;
  let feedRedis: ReturnType<typeof openRedis> | null = null;
  const webhook = config.webhook;
  if (webhook) {
    const blocking = { ...settings, commandTimeoutMs: settings.commandTimeoutMs + webhook.batchMs };
    feedRedis = openRedis(blocking, 'gateway-webhooks', logger);
    const sender = new WebhookSender(webhook, logger);
    feed = new StreamWebhookFeed(
      feedRedis,
      config.redisKeyPrefix,
      instance,
      webhook,
      sender,
      config.presenceTtlMs,
      logger,
      counters,
    );
  }
  await waitReady(redis, 3000);
  if (feed !== null) {
    // Before the first connection is accepted: its events are after the group's start.
    await waitReady(feedRedis!, 3000);
    await feed.ensureGroup().catch((err: Error) => logger.warn(`webhook feed: ${err.message}; retrying`));
    feed.start();
  }
  return {
    sink: writer,
    async close() {
      bus.stop();
      await feed?.stop();
      await Promise.all([quit(redis), feedRedis ? quit(feedRedis) : undefined]);
    },
  };
}
