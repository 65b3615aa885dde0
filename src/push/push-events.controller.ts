import { Controller, Inject, Logger } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { DrainService } from '../health/drain.service.js';
import { MetricsService } from '../health/metrics.service.js';
import { PublishEvent } from './publish.dto.js';
import { fieldProblems, PushHttpError } from './push-errors.js';
import { PublishClaim } from './publish-claim.js';
import { PushService } from './push.service.js';

/** A claim that could not be released (store unreachable) is tried again this often, this many times. */
const RELEASE_RETRY_MS = 1000;
const RELEASE_RETRIES = 10;

/**
 * `ClientProxy.emit(hubPublishChannel(prefix), {room | to, content, id, sender?})` over the Nest Redis
 * transport (the gateway runs as a hybrid app when REDIS_URL is set; `attachHubPublish` routes the
 * prefixed channel here). Events have no answer: an invalid or failed event is logged and counted
 * (gateway_push_events_total{result}).
 *
 * Every instance receives every event: one claims it (PublishClaim) and publishes it. A draining
 * instance leaves it to the others (`result="draining"`, no claim), and a publication that fails
 * releases its claim (`result="failed"`), so that the producer's re-emit with the same id is
 * published, once.
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
    @Inject(DrainService) private readonly drain: DrainService,
  ) {}

  async onPublish(payload: unknown): Promise<void> {
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
    if (this.drain.isDraining) {
      // The instances that stay up got the same event; a claim here would make them skip it.
      this.metrics.pushEvent('draining');
      return;
    }
    let claimed = false;
    try {
      if (!(await this.claims.claim(senderId, event.id))) {
        this.metrics.pushEvent('already_claimed');
        return;
      }
      claimed = true;
      // Claimed: this instance publishes it even if a drain started meanwhile (the bus is up until
      // the drain ends), rather than losing an event the others now skip.
      const result = await this.push.push(
        { room: event.room, to: event.to, content: event.content, id: event.id },
        { id: senderId, name: senderId },
        { whileDraining: true },
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
      const released = claimed ? await this.release(senderId, event.id) : false;
      this.logger.warn({ msg: 'hub.publish event failed', id: event.id, error: message, released });
    }
  }

  /**
   * True when the claim is gone. When the store cannot be reached (the failure was most likely Redis
   * itself), the release is tried again every RELEASE_RETRY_MS a few times, so that a re-emit after
   * Redis is back is published rather than refused until the claim expires.
   */
  private async release(sender: string, id: string, attempt = 0): Promise<boolean> {
    try {
      await this.claims.release(sender, id);
      return true;
    } catch {
      if (attempt < RELEASE_RETRIES) {
        setTimeout(() => void this.release(sender, id, attempt + 1), RELEASE_RETRY_MS).unref();
      } else {
        this.logger.warn({ msg: 'hub.publish claim not released: it expires after DEDUP_WINDOW_MS', id });
      }
      return false;
    }
  }
}
