import type { WebhookConfig } from '../config/config.js';
import { WebhookQueue } from './webhook-queue.js';
import { retryDelayMs, type WebhookEvent, type WebhookSender } from './webhook-sender.js';

const config: WebhookConfig = {
  url: 'http://127.0.0.1:1/x',
  secret: 's',
  events: ['message', 'online'],
  batch: 3,
  batchMs: 0,
  timeoutMs: 1000,
  maxRetrySec: 10,
  buffer: 5,
};

/** A sender whose deliveries finish when the test says so. */
class HeldSender {
  readonly batches: WebhookEvent[][] = [];
  private release: (() => void)[] = [];
  private waiters: (() => void)[] = [];
  isStopped = false;
  deliver(events: readonly WebhookEvent[]): Promise<boolean> {
    this.batches.push([...events]);
    for (const w of this.waiters.splice(0)) w();
    return new Promise((resolve) => this.release.push(() => resolve(true)));
  }
  /** Resolves when `n` batches have been handed over. */
  async handed(n: number): Promise<void> {
    while (this.batches.length < n) await new Promise<void>((r) => this.waiters.push(r));
  }
  finishAll(): void {
    for (const r of this.release.splice(0)) r();
  }
  stop(): void {
    this.isStopped = true;
  }
}

describe('WebhookQueue (webhooks without Redis)', () => {
  const user = { id: 'u', name: 'U' };

  it('sends batches in order, one at a time; a full buffer drops the oldest, counted and logged once', async () => {
    const sender = new HeldSender();
    const warnings: string[] = [];
    const counters = { webhookEventsDropped: 0 };
    const queue = new WebhookQueue(
      config,
      sender as unknown as WebhookSender,
      'i1',
      { warn: (m) => warnings.push(m) },
      counters,
    );
    const online = (n: number) => queue.append('online', { user, time: n });
    online(1);
    queue.append('connected', { connectionId: 'c', user, ip: '', instance: 'i1', time: 0 }); // not subscribed
    await sender.handed(1);
    for (let n = 2; n <= 9; n++) online(n); // 8 while the first batch is out: buffer of 5
    expect(counters.webhookEventsDropped).toBe(3);
    expect(warnings).toHaveLength(1);
    sender.finishAll();
    await sender.handed(2);
    sender.finishAll();
    await sender.handed(3);
    sender.finishAll();
    const times = sender.batches.map((b) => b.map((e) => (e.data as { time: number }).time));
    expect(times).toEqual([[1], [5, 6, 7], [8, 9]]);
    expect(sender.batches[0][0]).toMatchObject({ id: 'i1-1', type: 'online' });
    queue.stop();
  });

  it('backs off exponentially from 0.5 s with jitter, capped at 30 s (±50%)', () => {
    expect(retryDelayMs(0, () => 0.5)).toBe(500);
    expect(retryDelayMs(3, () => 0.5)).toBe(4000);
    expect(retryDelayMs(20, () => 0.5)).toBe(30000);
    expect(retryDelayMs(20, () => 0)).toBe(15000);
    expect(retryDelayMs(20, () => 0.999)).toBeLessThan(45000);
  });
});
