import type { WebhookConfig } from '../config/config.js';
import type { EventSink } from './event-sink.js';
import type { EventType, GatewayEvents } from './events.js';
import type { WebhookEvent, WebhookSender } from './webhook-sender.js';

/**
 * Webhooks without Redis: the events of this process wait in a bounded buffer (WEBHOOK_BUFFER;
 * when full the oldest are dropped, counted and logged once per episode) and go out in batches of
 * WEBHOOK_BATCH after at most WEBHOOK_BATCH_MS, one batch at a time (so in order).
 */
export class WebhookQueue implements EventSink {
  private readonly types: ReadonlySet<string>;
  private readonly buffer = new Fifo<WebhookEvent>();
  private counter = 0;
  private timer: NodeJS.Timeout | null = null;
  private sending = false;
  private dropping = false;

  constructor(
    private readonly config: WebhookConfig,
    private readonly sender: WebhookSender,
    private readonly instance: string,
    private readonly log: { warn(msg: string): void },
    private readonly counters: { webhookEventsDropped: number },
  ) {
    this.types = new Set(config.events);
  }

  append<K extends EventType>(type: K, data: GatewayEvents[K]): void {
    if (!this.types.has(type) || this.sender.isStopped) return;
    if (this.buffer.length >= this.config.buffer) {
      this.buffer.take(1);
      this.counters.webhookEventsDropped++;
      if (!this.dropping) {
        this.dropping = true;
        this.log.warn(
          `webhook buffer full (WEBHOOK_BUFFER=${this.config.buffer}): dropping the oldest events until deliveries catch up`,
        );
      }
    }
    this.buffer.push({ id: `${this.instance}-${(++this.counter).toString(36)}`, type, data });
    this.schedule();
  }

  private schedule(): void {
    if (this.sending || this.timer !== null) return;
    const wait = this.buffer.length >= this.config.batch ? 0 : this.config.batchMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.send();
    }, wait);
    this.timer.unref();
  }

  private async send(): Promise<void> {
    if (this.buffer.length === 0) return;
    this.sending = true;
    const batch = this.buffer.take(this.config.batch);
    const delivered = await this.sender.deliver(batch);
    if (!delivered && !this.sender.isStopped) {
      this.counters.webhookEventsDropped += batch.length;
      this.log.warn(`webhook batch of ${batch.length} events given up after WEBHOOK_MAX_RETRY_SEC`);
    }
    if (this.buffer.length < this.config.buffer) this.dropping = false;
    this.sending = false;
    if (this.buffer.length > 0 && !this.sender.isStopped) this.schedule();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.sender.stop();
  }
}

/** A queue with O(1) amortised removal from the front (Array#shift is O(n) on a long buffer). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  take(n: number): T[] {
    const out = this.items.slice(this.head, this.head + n);
    this.head += out.length;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
