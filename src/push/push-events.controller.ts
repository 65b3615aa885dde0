import { Controller, Inject, Logger } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { MetricsService } from '../health/metrics.service.js';
import { PublishEvent } from './publish.dto.js';
import { fieldProblems, PushHttpError } from './push-errors.js';
import { PublishClaim } from './publish-claim.js';
import { PushService } from './push.service.js';

/** The microservice event pattern other Nest services emit to publish without HTTP. */
export const HUB_PUBLISH_PATTERN = 'hub.publish';

/**
 * `ClientProxy.emit('hub.publish', {room | to, content, id, sender?})` over the Nest Redis transport
 * (the gateway runs as a hybrid app when REDIS_URL is set). Events have no answer: an invalid or
 * failed event is logged and counted (gateway_push_events_total{result}).
 *
 * Trust: anyone who can publish on the Redis server can use this; keep Redis private.
 */
@Controller()
export class PushEventsController {
  private readonly logger = new Logger('PushEvents');

  constructor(
    @Inject(PushService) private readonly push: PushService,
    @Inject(PublishClaim) private readonly claims: PublishClaim,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  @EventPattern(HUB_PUBLISH_PATTERN)
  async onPublish(@Payload() payload: unknown): Promise<void> {
    const event = plainToInstance(PublishEvent, payload ?? {});
    const errors =
      typeof payload === 'object' && payload !== null
        ? await validate(event, { whitelist: true, forbidUnknownValues: true })
        : [];
    if (
      typeof payload !== 'object' ||
      payload === null ||
      errors.length > 0 ||
      (event.room !== undefined && event.to !== undefined)
    ) {
      const details =
        errors.length > 0 ? fieldProblems(errors) : [{ field: 'room', problem: 'give either room or to' }];
      this.logger.warn({ msg: 'invalid hub.publish event dropped', details });
      this.metrics.pushEvent('invalid');
      return;
    }
    const senderId = event.sender ?? 'service';
    try {
      if (!(await this.claims.claim(senderId, event.id))) {
        this.metrics.pushEvent('already_claimed');
        return;
      }
      const result = await this.push.push(
        { room: event.room, to: event.to, content: event.content, id: event.id },
        { id: senderId, name: senderId },
      );
      this.metrics.pushEvent(result.duplicate ? 'duplicate' : 'published');
      this.logger.debug({
        msg: 'hub.publish event',
        id: result.id,
        seq: result.seq,
        room: event.room,
        to: event.to,
      });
    } catch (err) {
      this.metrics.pushEvent('failed');
      const message =
        err instanceof PushHttpError ? JSON.stringify(err.getResponse()) : (err as Error)?.message;
      this.logger.warn({ msg: 'hub.publish event failed', id: event.id, error: message });
    }
  }
}
