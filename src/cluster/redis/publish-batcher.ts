import { type RedisClient, unavailable } from './connection.js';
import { type RedisKeys, senderRecordHead } from './keys.js';
import { clusterPublishLua, PUBLISH_LUA } from './scripts.js';
import type { TurnSender } from './turn-sender.js';

/** One room message on its way to the publish script. */
export interface Publication {
  /** The message's JSON up to `"seq":`, and after the seq: the script puts the seq in between. */
  head: string;
  tail: string;
  /** The publication's idempotency key (`idempotencyKey()`); '' for none. */
  idempotencyKey: string;
  /** How long the key's seq is remembered (DEDUP_WINDOW_MS); unused without a key. */
  idempotencyTtlMs: number;
  /** False: fanned out and acked, not stored in the room's history (`skipHistory`). */
  store: boolean;
  /**
   * Keep the key in the sender's record (RedisKeys.record: the room and the seq) instead of the
   * room's idempotency key: the script takes it for this room. In a Redis Cluster only for a record
   * whose slot lives on the room's node (RedisBroker.takesSenderRecord). Unused without a key.
   */
  takeRecord: boolean;
}

/** What the script answered one publication. */
export interface PublishReply {
  /** False: a retry of an answered key, or an id taken elsewhere; not published now. */
  published: boolean;
  /** The seq; for a retry, the original's; -1 for an id taken elsewhere. */
  seq: number;
  epoch: string;
  /**
   * With `takeRecord`: the sender record found (JSON) when the script could not answer it (another
   * room's, or one without a seq: priorPublication reads it); nothing was published.
   */
  elsewhere?: string;
}

export interface PublishBatcherOptions {
  /** HISTORY_SIZE (0: nothing stored). */
  historySize: number;
  /** REDIS_ROOM_TTL_SEC in ms (0: never expire). */
  roomTtlMs: number;
  /**
   * EVENTS_MAXLEN: the script appends each message to the event stream (0: it does not; in a Redis
   * Cluster the stream is in another slot, and the broker appends the events itself).
   */
  eventsMaxlen: number;
}

/** What the batcher needs from the broker around one batch. */
export interface PublishBatcherHooks {
  /** The epoch the batch proposes for a room that has no keys (RedisBroker.epochCandidate). */
  epochCandidate(room: string): string;
  /**
   * Runs once a batch's script has answered, before its publications resolve (RedisBroker: this
   * instance's own delivery of the batch, so that a publisher sees its message before its ack; in
   * a Redis Cluster the `message` events). A rejection answers every publication of the batch
   * `unavailable`.
   */
  settle(room: string, batch: readonly Publication[], replies: readonly PublishReply[]): Promise<unknown>;
}

type BatchRedis = RedisClient & {
  gwPublish(...args: (string | number)[]): Promise<(string | number)[]>;
};

interface Waiting {
  publication: Publication;
  resolve: (reply: PublishReply) => void;
  reject: (err: unknown) => void;
}

/**
 * At most this many publications per script: a batch holds Redis for its whole run, and the
 * script's ZADD takes two arguments per stored message (Lua's stack holds a few thousand).
 */
export const MAX_BATCH = 256;

/**
 * Publishes room messages in batches: the publications this instance makes to one room during one
 * event-loop turn run as ONE publish script (scripts.ts PUBLISH_LUA) and reach the subscribers as
 * ONE payload, instead of a script and a payload each. A room's seqs stay one atomic step per batch
 * (consecutive seqs, in the order `publish` was called), so every instance still sees a room's
 * messages in seq order; each publication's idempotency key is checked and stored on its own.
 *
 * Each `publish` resolves with its own seq once the batch's messages came back through this
 * instance's subscription (`hooks.settle`). A batch that fails (Redis unreachable, timed out)
 * rejects every publication in it with BrokerUnavailableError: a retry with the same key is safe, as
 * the script either ran whole (the retry answers the original seq) or not at all. In a Redis
 * Cluster the script fans out with SPUBLISH (scripts.ts shardedLua) and leaves the event stream alone.
 */
export class PublishBatcher {
  private readonly redis: BatchRedis;
  /** This turn's publications by room, in call order; flushed by one setImmediate. */
  private pending = new Map<string, Waiting[]>();
  /** Batches sent whose script or own delivery has not answered yet. */
  private running = 0;

  constructor(
    redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: PublishBatcherOptions,
    private readonly hooks: PublishBatcherHooks,
    private readonly turn: TurnSender,
  ) {
    this.redis = redis as BatchRedis;
    turn.add(this.flush);
    // No numberOfKeys: a batch passes its own count (its idempotency keys are KEYS too).
    this.redis.defineCommand('gwPublish', { lua: keys.cluster ? clusterPublishLua() : PUBLISH_LUA });
  }

  publish(room: string, publication: Publication): Promise<PublishReply> {
    return new Promise<PublishReply>((resolve, reject) => {
      let batch = this.pending.get(room);
      if (batch === undefined) {
        batch = [];
        this.pending.set(room, batch);
      }
      batch.push({ publication, resolve, reject });
      if (batch.length >= MAX_BATCH) {
        // Full: sent now, ahead of anything later for the room (commands keep their order).
        this.pending.delete(room);
        void this.run(room, batch);
      } else {
        this.turn.schedule();
      }
    });
  }

  private readonly flush = (): void => {
    const pending = this.pending;
    if (pending.size === 0) return;
    this.pending = new Map();
    for (const [room, batch] of pending) void this.run(room, batch);
  };

  /** Whether batches are on their way: sent, their script or own delivery not answered yet. */
  get busy(): boolean {
    return this.running > 0;
  }

  private async run(room: string, batch: Waiting[]): Promise<void> {
    this.running++;
    try {
      await this.runBatch(room, batch);
    } finally {
      this.running--;
    }
  }

  private async runBatch(room: string, batch: Waiting[]): Promise<void> {
    const { keys, options } = this;
    // In a Redis Cluster the stream's slot is not the room's: a room key stands in (unused, MAXLEN 0).
    const stream = keys.cluster ? keys.meta(room) : keys.eventStream();
    const scriptKeys: string[] = [keys.meta(room), keys.log(room), stream, keys.skips(room)];
    const argv: (string | number)[] = [
      this.hooks.epochCandidate(room),
      options.historySize,
      keys.roomChannel(room),
      options.roomTtlMs,
      options.eventsMaxlen,
      '',
      0,
    ];
    /** A key's index in KEYS (1-based), so that a key named twice is one key. */
    let keyIndex: Map<string, number> | null = null;
    const indexOf = (key: string): number => {
      keyIndex ??= new Map();
      let index = keyIndex.get(key) ?? 0;
      if (index === 0) {
        index = scriptKeys.push(key);
        keyIndex.set(key, index);
      }
      return index;
    };
    /** A Redis Cluster's sender records, named in ARGV after the publications (see PUBLISH_LUA). */
    let names: Map<string, number> | null = null;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i].publication;
      // 8 * the record's index (0: none), + 4 when it is a named one, + 2 for a sender record, + 1
      // to store it.
      let flags = p.store ? 1 : 0;
      if (p.idempotencyKey !== '') {
        if (!p.takeRecord) {
          flags += 8 * indexOf(keys.idem(room, p.idempotencyKey));
        } else {
          if (argv[5] === '') argv[5] = senderRecordHead(room);
          const record = keys.record(p.idempotencyKey);
          if (!keys.cluster) {
            flags += 8 * indexOf(record) + 2;
          } else {
            names ??= new Map();
            let place = names.get(record) ?? 0;
            if (place === 0) names.set(record, (place = names.size + 1));
            flags += 8 * place + 4 + 2;
          }
        }
      }
      argv.push(p.head, p.tail, flags, p.idempotencyTtlMs);
    }
    if (names !== null) {
      argv[6] = names.size;
      for (const record of names.keys()) argv.push(record);
    }
    let reply: (string | number)[];
    try {
      reply = await this.redis.gwPublish(scriptKeys.length, ...scriptKeys, ...argv);
    } catch (err) {
      const failure = unavailable(err);
      for (const w of batch) w.reject(failure);
      return;
    }
    const epoch = String(reply[0]);
    const replies: PublishReply[] = new Array<PublishReply>(batch.length);
    const publications: Publication[] = new Array<Publication>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const status = Number(reply[1 + 2 * i]);
      replies[i] =
        status === 2
          ? { published: false, seq: -1, epoch, elsewhere: String(reply[2 + 2 * i]) }
          : { published: status === 1, seq: Number(reply[2 + 2 * i]), epoch };
      publications[i] = batch[i].publication;
    }
    try {
      await this.hooks.settle(room, publications, replies);
    } catch (err) {
      const failure = unavailable(err);
      for (const w of batch) w.reject(failure);
      return;
    }
    for (let i = 0; i < batch.length; i++) batch[i].resolve(replies[i]);
  }
}
