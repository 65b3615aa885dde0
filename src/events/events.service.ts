import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig, usesRedis } from '../config/config.js';
import { HubService } from '../hub/hub.service.js';
import { WebhookQueue } from './webhook-queue.js';
import { WebhookSender } from './webhook-sender.js';

/**
 * Connects the hub's events to where they go out of the process: with REDIS_URL the event stream
 * (and the webhook feed reading it), without it the webhook queue of this process. With neither a
 * stream nor webhooks it does nothing, and the hub's events cost nothing but their listener checks.
 */
@Injectable()
export class EventsService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Events');
  private close: (() => Promise<void>) | null = null;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(HubService) private readonly hub: HubService,
  ) {}

  async onModuleInit(): Promise<void> {
    const { config, hub } = this;
    const bus = hub.events;
    if (usesRedis(config) && config.eventsMaxlen > 0) {
      const { createRedisEventFeeds } = await import('../cluster/redis/event-feeds.js');
      const feeds = await createRedisEventFeeds(config, bus, hub.counters);
      bus.sink = feeds.sink;
      this.close = () => feeds.close();
      this.logger.log(
        `events: stream ${config.redisKeyPrefix}events${config.webhook ? `, webhooks to ${origin(config.webhook.url)}` : ''}`,
      );
    } else if (config.webhook) {
      const queue = new WebhookQueue(
        config.webhook,
        new WebhookSender(config.webhook, this.logger),
        bus.instance,
        this.logger,
        hub.counters,
      );
      bus.sink = queue;
      this.close = () => {
        queue.stop();
        return Promise.resolve();
      };
      this.logger.log(`events: webhooks to ${origin(config.webhook.url)}`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.hub.events.sink = null;
    await this.close?.();
    this.close = null;
  }
}

/** The URL without path or query (they may carry a token). */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
