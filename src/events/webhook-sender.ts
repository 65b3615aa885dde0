import type { WebhookConfig } from '../config/config.js';
import type { EventType } from './events.js';
import { signWebhook } from './webhook-signature.js';

/** One event of a webhook batch; `id` is stable across retries (the receiver dedups by it). */
export interface WebhookEvent {
  id: string;
  type: EventType;
  data: unknown;
}

/** Backoff between attempts: 0.5 s doubling, capped at 30 s, with ±50% jitter. */
const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const capped = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.min(attempt, 16));
  return Math.round(capped * (0.5 + random()));
}

/**
 * POSTs signed batches to WEBHOOK_URL and retries one batch until a 2xx answer or until
 * WEBHOOK_MAX_RETRY_SEC have passed. Batches go one at a time, so events keep their order.
 */
export class WebhookSender {
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly config: WebhookConfig,
    private readonly log: { warn(msg: string): void; log(msg: string): void },
  ) {}

  /** One attempt: true on a 2xx answer within WEBHOOK_TIMEOUT_MS. */
  async post(events: readonly WebhookEvent[]): Promise<boolean> {
    const body = JSON.stringify({ events });
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const res = await fetch(this.config.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gateway-timestamp': String(timestamp),
          'x-gateway-signature': signWebhook(this.config.secret, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return true;
      this.log.warn(`webhook delivery answered ${res.status}: retrying`);
    } catch (err) {
      this.log.warn(`webhook delivery failed (${(err as Error).message}): retrying`);
    }
    return false;
  }

  /**
   * Delivers a batch, retrying with backoff: true once delivered, false when it was given up
   * (WEBHOOK_MAX_RETRY_SEC passed) or the sender was stopped.
   */
  async deliver(events: readonly WebhookEvent[]): Promise<boolean> {
    const deadline = Date.now() + this.config.maxRetrySec * 1000;
    for (let attempt = 0; !this.stopped; attempt++) {
      if (await this.post(events)) {
        if (attempt > 0) this.log.log(`webhook delivery succeeded after ${attempt + 1} attempts`);
        return true;
      }
      const delay = retryDelayMs(attempt);
      if (Date.now() + delay > deadline) return false;
      await this.sleep(delay);
    }
    return false;
  }

  /** Ends retries (shutdown). */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
