import { Inject, Injectable } from '@nestjs/common';
import { BrokerUnavailableError } from '../cluster/broker.js';
import { DEDUP, type DedupStore, dedupKey } from '../cluster/dedup.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { DrainService } from '../health/drain.service.js';
import { HubService } from '../hub/hub.service.js';
import { ErrorCode } from '../protocol/codes.js';
import type { DirectFrame, UserRef } from '../protocol/frames.js';
import { WsError } from '../protocol/ws-error.js';
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
  /** True when this was a retry of an already delivered id. */
  duplicate?: boolean;
}

/**
 * What the push API and the hub.publish event do: a room message through HubService.publish (seq,
 * history, dedup by sender + id), or a `direct` frame to every connection of a user through
 * HubService.sendToUser, deduplicated here by the same DEDUP store and key scheme.
 */
@Injectable()
export class PushService {
  private readonly inflight = new Map<string, Promise<PushResult>>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(HubService) private readonly hub: HubService,
    @Inject(DrainService) private readonly drain: DrainService,
    @Inject(DEDUP) private readonly dedup: DedupStore,
  ) {}

  /** Throws a PushHttpError for 400 (content too long) and 503 (draining, bus down). */
  async push(input: PushInput, sender: UserRef): Promise<PushResult> {
    if (input.content.length > this.config.maxContentLength) {
      throw new PushHttpError(PushError.BadRequest, 'content is too long', [
        { field: 'content', problem: `must be at most ${this.config.maxContentLength} characters` },
      ]);
    }
    if (this.drain.isDraining) {
      throw new PushHttpError(
        PushError.Draining,
        'this instance is shutting down; retry on another',
        undefined,
        {
          'Retry-After': '1',
        },
      );
    }
    if (!this.hub.isHealthy()) throw unavailable();
    try {
      if (input.room !== undefined) {
        const r = await this.hub.publish(input.room, input.content, { sender, id: input.id });
        return { id: r.id, seq: r.seq };
      }
      return await this.direct(input.to!, input.content, sender, input.id);
    } catch (err) {
      if (isUnavailable(err)) throw unavailable();
      throw err;
    }
  }

  private direct(to: string, content: string, sender: UserRef, id?: string): Promise<PushResult> {
    if (id === undefined) return this.sendDirect(to, content, sender, this.hub.newId(), null);
    const key = dedupKey(sender.id, 'direct', id);
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    const p = this.sendDirect(to, content, sender, id, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async sendDirect(
    to: string,
    content: string,
    sender: UserRef,
    id: string,
    key: string | null,
  ): Promise<PushResult> {
    if (key !== null && (await this.dedup.get(key)) !== undefined) return { id, duplicate: true };
    const frame: DirectFrame = { type: 'direct', id, time: Date.now(), sender, to, content };
    await this.hub.sendToUser(to, frame);
    if (key !== null) await this.dedup.set(key, {}, this.config.dedupWindowMs);
    return { id };
  }
}

function isUnavailable(err: unknown): boolean {
  return (
    err instanceof BrokerUnavailableError || (err instanceof WsError && err.code === ErrorCode.Unavailable)
  );
}

function unavailable(): PushHttpError {
  return new PushHttpError(
    PushError.Unavailable,
    'the message bus is unavailable; retry with the same Idempotency-Key',
    undefined,
    {
      'Retry-After': '1',
    },
  );
}
