import { Inject, Injectable } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { DrainService } from '../health/drain.service.js';
import { HubError, HubErrorCode } from '../hub/hub-error.js';
import { HubService } from '../hub/hub.service.js';
import type { UserRef } from '../protocol/frames.js';
import { PushError, PushHttpError } from './push-errors.js';

export interface PushInput {
  room?: string;
  to?: string;
  content: string;
  /** Idempotency key (the message id); a retry within DEDUP_WINDOW_MS is not delivered again. */
  id?: string;
}

export interface PushResult {
  id: string;
  /** The room seq (room messages only). */
  seq?: number;
  /**
   * With `duplicate` for a room message: the room the id was first published in, when that is not
   * the requested one (`seq` is the seq there).
   */
  room?: string;
  /** True when this was a retry of an already delivered id. */
  duplicate?: boolean;
}

/**
 * What the push API and the hub.publish event do: a room message through HubService.publish (seq,
 * history, dedup by sender + id), or a `direct` frame to every connection of a user through
 * HubService.sendDirect (dedup by sender + id as well).
 */
@Injectable()
export class PushService {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(HubService) private readonly hub: HubService,
    @Inject(DrainService) private readonly drain: DrainService,
  ) {}

  /**
   * Throws a PushHttpError for 400 (content too long) and 503 (draining; not with `whileDraining`,
   * for work this instance already took on), and the hub's HubError (bus down), which
   * PushExceptionFilter answers 503.
   */
  async push(
    input: PushInput,
    sender: UserRef,
    options: { whileDraining?: boolean } = {},
  ): Promise<PushResult> {
    if (input.content.length > this.config.maxContentLength) {
      throw new PushHttpError(PushError.BadRequest, 'content is too long', [
        { field: 'content', problem: `must be at most ${this.config.maxContentLength} characters` },
      ]);
    }
    if (this.drain.isDraining && options.whileDraining !== true) {
      throw new PushHttpError(
        PushError.Draining,
        'this instance is shutting down; retry on another',
        undefined,
        {
          'Retry-After': '1',
        },
      );
    }
    if (!this.hub.isHealthy()) {
      throw new HubError(HubErrorCode.Unavailable, 'the message bus is unavailable', true);
    }
    if (input.room !== undefined) {
      const r = await this.hub.publish(input.room, input.content, { sender, id: input.id });
      return r.duplicate === true
        ? { id: r.id, seq: r.seq, room: r.room, duplicate: true }
        : { id: r.id, seq: r.seq };
    }
    const r = await this.hub.sendDirect(sender, input.to!, input.content, { id: input.id });
    return r.duplicate ? { id: r.id, duplicate: true } : { id: r.id };
  }
}
