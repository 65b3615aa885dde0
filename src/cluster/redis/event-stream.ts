import type { EventSink } from '../../events/event-sink.js';
import type { EventType, GatewayEvents } from '../../events/events.js';
import { isCluster, type RedisClient, unavailable } from './connection.js';
import { eventStreamKey } from './keys.js';
import type { TurnSender } from './turn-sender.js';

/** The stream every instance appends its events to (keys.ts). */
export { eventStreamKey } from './keys.js';

/**
 * One turn's appends in one command: KEYS[1] the stream, ARGV[1] MAXLEN, then type and data per
 * entry. A pipeline of one XADD each cost the instance a command object, a key slot and a reply per
 * entry (in a Redis Cluster, where every `message` event is appended this way, about a tenth of the
 * instance's CPU per publication went there).
 */
const APPEND_LUA = `
for i = 2, #ARGV, 2 do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'type', ARGV[i], 'data', ARGV[i + 1])
end
return (#ARGV - 1) / 2
`;

/** Strings per APPEND_LUA call: 1000 entries. */
const APPEND_CHUNK = 2000;

type AppendingRedis = RedisClient & {
  gwAppendEvents(key: string, maxlen: string, ...entries: string[]): Promise<number>;
};

/**
 * Appends events to the Redis Stream `<prefix>events` (XADD, MAXLEN ~ EVENTS_MAXLEN, fields `type`
 * and `data`): the events of one event-loop turn go in one script call (APPEND_LUA), each append's
 * promise settles with its turn's. A `direct`'s ack waits for it; while Redis is unreachable the
 * append rejects (BrokerUnavailableError) and the message is refused `unavailable`. `message` events are not
 * appended here: the publish script appends them in the step that assigns the seq (scripts.ts; in a
 * Redis Cluster the broker, right after it), and the presence scripts their own events.
 */
export class EventStreamWriter implements EventSink {
  private readonly key: string;
  /** The turn's entries: type, JSON, type, JSON, ... */
  private pending: string[] = [];
  private turn: Promise<void> | null = null;
  /** Settles `turn` with its flush. */
  private settleTurn: { resolve: () => void; reject: (err: unknown) => void } | null = null;
  private failing = false;

  private readonly redis: AppendingRedis;

  constructor(
    redis: RedisClient,
    prefix: string,
    private readonly maxlen: number,
    private readonly log: { warn(msg: string): void; log(msg: string): void },
    /** The connection's end of turn, when it has one (the broker's: see TurnSender). */
    private readonly endOfTurn?: TurnSender,
  ) {
    endOfTurn?.add(this.sendPending);
    this.key = eventStreamKey(prefix, isCluster(redis));
    this.redis = redis as AppendingRedis;
    this.redis.defineCommand('gwAppendEvents', { numberOfKeys: 1, lua: APPEND_LUA });
  }

  append<K extends EventType>(type: K, data: GatewayEvents[K]): Promise<void> | undefined {
    if (type === 'message') return undefined;
    return this.appendJson(type, JSON.stringify(data));
  }

  /**
   * Appends an entry whose data is JSON already, with this turn's others. In a Redis Cluster the
   * broker appends its `message` events this way (the publish script cannot: the stream is in
   * another slot), so a turn's publications cost one command to the stream's shard together.
   */
  appendJson(type: EventType, json: string): Promise<void> {
    this.pending.push(type, json);
    if (this.turn === null) {
      this.turn = new Promise<void>((resolve, reject) => {
        this.settleTurn = { resolve, reject };
      });
      if (this.endOfTurn !== undefined) this.endOfTurn.schedule();
      else setImmediate(this.sendPending);
    }
    return this.turn;
  }

  /**
   * Sends the turn's appends now: at the end of the turn, or before the hub's write pass (see
   * Writer.sendBeforePass), whichever is first.
   */
  readonly sendPending = (): void => {
    if (this.turn === null) return;
    const { resolve, reject } = this.settleTurn!;
    this.turn = null;
    this.settleTurn = null;
    this.flush().then(resolve, reject);
  };

  private async flush(): Promise<void> {
    const entries = this.pending;
    this.pending = [];
    const maxlen = String(this.maxlen);
    const calls: Promise<number>[] = [];
    // A few thousand arguments per call at most (a mass disconnect can leave tens of thousands).
    for (let i = 0; i < entries.length; i += APPEND_CHUNK) {
      calls.push(this.redis.gwAppendEvents(this.key, maxlen, ...entries.slice(i, i + APPEND_CHUNK)));
    }
    try {
      await Promise.all(calls);
    } catch (err) {
      return this.failed(err);
    }
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
