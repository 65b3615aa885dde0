import type { Cluster } from 'ioredis';
import { isCluster, type RedisClient, shardOf, unavailable } from './connection.js';
import type { TurnSender } from './turn-sender.js';

/**
 * Takes records (SET NX PX) and answers, for each, what it already held: ARGV holds the key, the
 * value and the PX of each record in turn; the answer is '' for a record taken now (no record is
 * empty), else the value found. Redis 7 checks and takes with one SET NX GET; 6.2 (no NX with GET)
 * reads after a failed SET NX, in the same atomic step.
 *
 * The keys are in ARGV because in a Redis Cluster one call takes the records of many users, each in
 * its own `{user}` slot, on the node that serves them all: a command's declared keys must share one
 * slot there, so only the first is declared (it routes the call), and the `allow-cross-slot-keys`
 * flag lets the script reach the others, which Redis allows for keys of the node it runs on.
 */
const TAKE_LUA = `local setGet = (redis.REDIS_VERSION_NUM or 0) >= 0x070000
local out = {}
for i = 1, #ARGV, 3 do
  local held
  if setGet then
    held = redis.call('SET', ARGV[i], ARGV[i + 1], 'PX', ARGV[i + 2], 'NX', 'GET')
  elseif not redis.call('SET', ARGV[i], ARGV[i + 1], 'PX', ARGV[i + 2], 'NX') then
    held = redis.call('GET', ARGV[i])
  end
  out[#out + 1] = held or ''
end
return out`;

/** Script flags need Redis 7 (a Redis Cluster needs it anyway); 6.2 would not parse the line. */
const CLUSTER_TAKE_LUA = `#!lua flags=allow-cross-slot-keys\n${TAKE_LUA}`;

/** Records per script call: a call holds its node for its whole run. */
const MAX_PER_CALL = 256;

type TakingRedis = RedisClient & {
  gwTakeRecords(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<string[]>;
};

interface Take {
  key: string;
  value: string;
  ttlMs: number;
  resolve: (held: string | null) => void;
  reject: (err: unknown) => void;
}

/**
 * Takes records (RedisDedup.take's sender records) in batches: the takes of one event-loop turn go
 * to Redis as one script call, in a Redis Cluster one per node (grouped by the client's slot map),
 * instead of one SET NX each. On a busy instance that is most of what a client message costs the
 * instance beyond the single-Redis path: each SET was a command object, a key slot, a promise and a
 * socket write of its own.
 *
 * A call that fails (Redis unreachable, a slot that moved since the client's map was read) rejects
 * each of its takes with BrokerUnavailableError: the records it took before failing stay taken,
 * without a publication, which is what a lost reply leaves too (a retry with the same id finds its
 * own room's record and publishes).
 */
export class RecordTaker {
  private readonly redis: TakingRedis;
  private readonly cluster: boolean;
  private pending: Take[] = [];

  constructor(
    redis: RedisClient,
    private readonly turn: TurnSender,
  ) {
    this.redis = redis as TakingRedis;
    turn.add(this.flush);
    this.cluster = isCluster(redis);
    this.redis.defineCommand('gwTakeRecords', { lua: this.cluster ? CLUSTER_TAKE_LUA : TAKE_LUA });
  }

  /**
   * Takes `key` with `value` for `ttlMs` unless it exists: resolves null when taken now, else with
   * the value it holds (untouched).
   */
  take(key: string, value: string, ttlMs: number): Promise<string | null> {
    return new Promise<string | null>((resolve, reject) => {
      this.pending.push({ key, value, ttlMs, resolve, reject });
      this.turn.schedule();
    });
  }

  private readonly flush = (): void => {
    const takes = this.pending;
    if (takes.length === 0) return;
    this.pending = [];
    if (!this.cluster) {
      this.send([takes]);
      return;
    }
    const byNode = new Map<string, Take[]>();
    for (const t of takes) {
      const node = shardOf(this.redis as Cluster, t.key);
      const group = byNode.get(node);
      if (group === undefined) byNode.set(node, [t]);
      else group.push(t);
    }
    this.send([...byNode.values()]);
  };

  /**
   * One call per group (and per MAX_PER_CALL records). The takes of one turn are answered together,
   * once every call has: their publications then reach the publish batcher in one turn, one batch
   * per room, instead of one batch per node's reply (each batch is a delivery and a write pass).
   */
  private send(groups: Take[][]): void {
    const chunks: Take[][] = [];
    for (const group of groups) {
      for (let start = 0; start < group.length; start += MAX_PER_CALL) {
        chunks.push(group.length <= MAX_PER_CALL ? group : group.slice(start, start + MAX_PER_CALL));
      }
    }
    const answers: (string[] | Error)[] = new Array<string[] | Error>(chunks.length);
    let waiting = chunks.length;
    const answered = (c: number, answer: string[] | Error): void => {
      answers[c] = answer;
      if (--waiting > 0) return;
      for (let k = 0; k < chunks.length; k++) settle(chunks[k], answers[k]);
    };
    for (let c = 0; c < chunks.length; c++) {
      this.call(chunks[c]).then(
        (held) => answered(c, held),
        (err: unknown) => answered(c, unavailable(err)),
      );
    }
  }

  private call(chunk: Take[]): Promise<string[]> {
    // A Redis Cluster routes by the first declared key; a single Redis is told every key.
    const declared = this.cluster ? 1 : chunk.length;
    const args: (string | number)[] = new Array<string | number>(declared + 3 * chunk.length);
    for (let i = 0; i < declared; i++) args[i] = chunk[i].key;
    for (let i = 0, a = declared; i < chunk.length; i++, a += 3) {
      const t = chunk[i];
      args[a] = t.key;
      args[a + 1] = t.value;
      args[a + 2] = t.ttlMs;
    }
    return this.redis.gwTakeRecords(declared, ...args);
  }
}

/** Answers a call's takes: what each record held ('' taken now), or the call's failure. */
function settle(chunk: readonly Take[], answer: string[] | Error): void {
  if (!(answer instanceof Error) && (!Array.isArray(answer) || answer.length !== chunk.length)) {
    answer = unavailable(new Error(`record take answered ${JSON.stringify(answer)}`));
  }
  if (answer instanceof Error) {
    for (const t of chunk) t.reject(answer);
    return;
  }
  for (let i = 0; i < chunk.length; i++) chunk[i].resolve(answer[i] === '' ? null : answer[i]);
}
