import { type INestApplication, Logger } from '@nestjs/common';
import { ServerRedis } from '@nestjs/microservices';
import type { Redis } from 'ioredis';
import { DrainService } from '../health/drain.service.js';
import { hubPublishChannel } from './hub-publish-channel.js';
import { PushEventsController } from './push-events.controller.js';

/**
 * Puts the `hub.publish` handler on the Nest Redis transport under the prefixed channel (the
 * pattern is a setting, REDIS_KEY_PREFIX, so it cannot be a decorator's constant), and stops
 * consuming the channel the moment a drain starts: every instance receives every event and one
 * claims it, so an instance on its way out must leave the event to the others instead of claiming
 * it and then refusing it.
 */
export function attachHubPublish(app: INestApplication, keyPrefix: string): void {
  const microservice = app.getMicroservices().find((m) => m.getTransportServer() instanceof ServerRedis);
  if (microservice === undefined)
    throw new Error('hub.publish needs the Nest Redis transport connected first');
  const server = microservice.getTransportServer() as ServerRedis;
  const channel = hubPublishChannel(keyPrefix);
  const events = app.get(PushEventsController);
  server.addHandler(channel, (payload: unknown) => events.onPublish(payload), true);
  app.get(DrainService).onStart(async () => {
    let subscriber: Redis | undefined;
    try {
      subscriber = microservice.unwrap<[Redis, Redis]>()[1];
    } catch {
      return; // not started: nothing subscribed
    }
    await subscriber.unsubscribe(channel);
    new Logger('PushEvents').log(`draining: no longer consuming ${channel}`);
  });
}
