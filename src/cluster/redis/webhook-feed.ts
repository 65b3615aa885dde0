import type { WebhookConfig } from '../../config/config.js';
import { isEventType } from '../../events/events.js';
import type { WebhookEvent, WebhookSender } from '../../events/webhook-sender.js';
import { isCluster, type RedisClient } from './connection.js';
import { RedisKeys } from './keys.js';

/** The consumer group all instances share for webhook delivery. */
export const WEBHOOK_GROUP = 'gateway-webhooks';

type StreamEntry = [id: string, fields: string[] | null];
type ReadReply = [key: string, entries: StreamEntry[]][] | null;

/** Renews the leader key only while it is still ours. */
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/**
 * Webhooks with Redis: fed from the event stream through one consumer group shared by all instances.
 * One instance at a time delivers (it holds a leader key renewed every third of the lease), so the
 * stream's order, and with it every room's, is the delivery order. An entry is acknowledged (XACK)
 * once its batch was delivered or given up; a new leader first claims (XAUTOCLAIM) what the previous
 * one read but did not acknowledge, and delivers it again: at least once, receivers dedup by `id`
 * (the stream entry id).
 */
export class StreamWebhookFeed {
  private readonly key: string;
  private readonly leaderKey: string;
  private readonly types: ReadonlySet<string>;
  private stopped = false;
  private leader = false;
  private claimed = false;
  private renewTimer: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  private failing = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly consumer: string,
    private readonly config: WebhookConfig,
    private readonly sender: WebhookSender,
    private readonly leaseMs: number,
    private readonly log: { warn(msg: string): void; log(msg: string): void },
    private readonly counters: { webhookEventsDropped: number },
  ) {
    const keys = new RedisKeys(prefix, isCluster(redis));
    this.key = keys.eventStream();
    this.leaderKey = keys.webhookLeader();
    this.types = new Set(config.events);
  }

  start(): void {
    this.renewTimer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.renewTimer !== null) clearInterval(this.renewTimer);
    this.sender.stop();
    this.wake?.();
    await this.loop;
    if (this.leader) {
      // Hand over at once rather than after the lease: what is unacknowledged is claimed by the next.
      await this.redis.call('EVAL', RENEW_LUA, 1, this.leaderKey, this.consumer, 1).catch(() => undefined);
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!(await this.lead())) {
          await this.sleep(Math.max(50, Math.floor(this.leaseMs / 3)));
          continue;
        }
        await this.step();
        if (this.failing) this.log.log('webhook feed reads the event stream again');
        this.failing = false;
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        if (!this.failing) this.log.warn(`webhook feed: ${(err as Error).message}; retrying`);
        this.failing = true;
        this.claimed = false;
        await this.sleep(Math.min(5000, 100 * 2 ** Math.min(failures++, 6)));
      }
    }
  }

  /** Whether this instance is the leader (taking the key when it is free). */
  private async lead(): Promise<boolean> {
    if (this.leader) return true;
    const took = await this.redis.set(this.leaderKey, this.consumer, 'PX', this.leaseMs, 'NX');
    if (took !== 'OK') return false;
    this.leader = true;
    this.claimed = false;
    return true;
  }

  private async renew(): Promise<void> {
    if (!this.leader || this.stopped) return;
    try {
      const kept = await this.redis.call('EVAL', RENEW_LUA, 1, this.leaderKey, this.consumer, this.leaseMs);
      if (kept !== 1) {
        this.leader = false;
        this.log.warn('webhook feed: lost the leader key (another instance delivers now)');
      }
    } catch {
      // Redis is unreachable: the loop notices too; the key expires unless renewed in time.
    }
  }

  private async step(): Promise<void> {
    if (!this.claimed) {
      await this.ensureGroup();
      await this.claimAll();
      this.claimed = true;
    }
    // What this consumer read but did not acknowledge first (a failed XACK), then new entries.
    let entries = await this.read('0', 0);
    if (entries.length === 0) entries = await this.read('>', Math.max(1, this.config.batchMs));
    if (entries.length === 0 || this.stopped) return;
    const batch: WebhookEvent[] = [];
    for (const [id, fields] of entries) {
      if (fields === null) {
        this.counters.webhookEventsDropped++; // trimmed (EVENTS_MAXLEN) before it was delivered
        continue;
      }
      const type = field(fields, 'type');
      const data = field(fields, 'data');
      if (type === undefined || data === undefined || !isEventType(type) || !this.types.has(type)) continue;
      batch.push({ id, type, data: JSON.parse(data) as unknown });
    }
    if (batch.length > 0) {
      const delivered = await this.sender.deliver(batch);
      if (!delivered) {
        if (this.stopped || !this.leader) return; // left pending: the next leader delivers it
        this.counters.webhookEventsDropped += batch.length;
        this.log.warn(`webhook batch of ${batch.length} events given up after WEBHOOK_MAX_RETRY_SEC`);
      }
    }
    await this.redis.call('XACK', this.key, WEBHOOK_GROUP, ...entries.map(([id]) => id));
  }

  /** Creates the group at the stream's end (once per stream): events from then on are delivered. */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.call('XGROUP', 'CREATE', this.key, WEBHOOK_GROUP, '$', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  /** Takes over every entry another consumer of the group read and did not acknowledge. */
  private async claimAll(): Promise<void> {
    let cursor = '0-0';
    do {
      const reply = (await this.redis.call(
        'XAUTOCLAIM',
        this.key,
        WEBHOOK_GROUP,
        this.consumer,
        0,
        cursor,
        'COUNT',
        1000,
        'JUSTID',
      )) as [string, string[]];
      cursor = reply[0];
    } while (cursor !== '0-0' && !this.stopped);
  }

  private async read(from: '0' | '>', blockMs: number): Promise<StreamEntry[]> {
    const args: (string | number)[] = ['GROUP', WEBHOOK_GROUP, this.consumer, 'COUNT', this.config.batch];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    args.push('STREAMS', this.key, from);
    const reply = (await this.redis.call('XREADGROUP', ...args)) as ReadReply;
    return reply?.[0]?.[1] ?? [];
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

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
