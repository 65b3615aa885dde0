import type { EventSink } from '../../events/event-sink.js';
import type { EventType, GatewayEvents } from '../../events/events.js';
import { isCluster, type RedisClient, unavailable } from './connection.js';
import { eventStreamKey } from './keys.js';

/** The stream every instance appends its events to (keys.ts). */
export { eventStreamKey } from './keys.js';

/**
 * Appends events to the Redis Stream `<prefix>events` (XADD, MAXLEN ~ EVENTS_MAXLEN, fields `type`
 * and `data`): the events of one event-loop turn go in one pipeline, each append's promise settles
 * with its turn's. A `direct`'s ack waits for it; while Redis is unreachable the append rejects
 * (BrokerUnavailableError) and the message is refused `unavailable`. `message` events are not
 * appended here: the publish script appends them in the step that assigns the seq (scripts.ts; in a
 * Redis Cluster the broker, right after it), and the presence scripts their own events.
 */
export class EventStreamWriter implements EventSink {
  private readonly key: string;
  /** The turn's entries: type, JSON, type, JSON, ... */
  private pending: string[] = [];
  private turn: Promise<void> | null = null;
  private failing = false;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly maxlen: number,
    private readonly log: { warn(msg: string): void; log(msg: string): void },
  ) {
    this.key = eventStreamKey(prefix, isCluster(redis));
  }

  append<K extends EventType>(type: K, data: GatewayEvents[K]): Promise<void> | undefined {
    if (type === 'message') return undefined;
    return this.appendJson(type, JSON.stringify(data));
  }

  /**
   * Appends an entry whose data is JSON already, in this turn's pipeline. In a Redis Cluster the
   * broker appends its `message` events this way (the publish script cannot: the stream is in
   * another slot), so a turn's publications cost one round trip to the stream's shard together.
   */
  appendJson(type: EventType, json: string): Promise<void> {
    this.pending.push(type, json);
    return (this.turn ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.turn = null;
        this.flush().then(resolve, reject);
      });
    }));
  }

  private async flush(): Promise<void> {
    const entries = this.pending;
    this.pending = [];
    const maxlen = String(this.maxlen);
    const pipeline = this.redis.pipeline();
    for (let i = 0; i < entries.length; i += 2) {
      pipeline.xadd(this.key, 'MAXLEN', '~', maxlen, '*', 'type', entries[i], 'data', entries[i + 1]);
    }
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      return this.failed(err);
    }
    if (results === null) return this.failed(new Error('pipeline not executed'));
    const error = results.find(([err]) => err !== null)?.[0];
    if (error) return this.failed(error);
    if (this.failing) {
      this.failing = false;
      this.log.log('event stream appends work again');
    }
  }

  private failed(err: unknown): never {
    if (!this.failing) {
      this.failing = true;
      this.log.warn(
        `event stream append failed (${(err as Error)?.message ?? err}): messages are refused until it works`,
      );
    }
    throw unavailable(err);
  }
}
