import { type Logger } from '@nestjs/common';
import type { Socket } from 'node:net';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { GatewayConfig, RedisClusterConfig, RedisSentinelConfig } from '../../config/config.js';
import { BrokerUnavailableError } from '../broker.js';
import { keySlot } from './slot.js';
import { TurnSender } from './turn-sender.js';

/** A connection in any mode: one server (REDIS_URL, Sentinel) or a Redis Cluster client. */
export type RedisClient = Redis | Cluster;

/**
 * Where Redis is: a URL (one server), Sentinel (the sentinels name the current master; every
 * connection asks them again after losing its master, so a failover needs no restart), or a Redis
 * Cluster (the client learns the slots from any node and follows MOVED, ASK and failovers).
 */
export interface RedisSettings {
  /** redis://… of one server; unused with `sentinel` or `cluster`. */
  url?: string;
  sentinel?: RedisSentinelConfig;
  cluster?: RedisClusterConfig;
  /** Prefix of every key and channel. */
  keyPrefix: string;
  /** A command without a reply within this time fails (a hung server must not hang publishers). */
  commandTimeoutMs: number;
}

/** The settings of every connection of a gateway, from its configuration (the one place that reads them). */
export function redisSettings(config: GatewayConfig): RedisSettings {
  return {
    url: config.redisUrl,
    sentinel: config.redisSentinel,
    cluster: config.redisCluster,
    keyPrefix: config.redisKeyPrefix,
    commandTimeoutMs: config.redisCommandTimeoutMs,
  };
}

/** Whether a connection is a Redis Cluster client. */
export function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as Partial<Cluster>).isCluster === true;
}

/**
 * Options shared by every connection. The point of them: when Redis is unreachable a command fails
 * at once instead of waiting in a queue (`enableOfflineQueue: false`), a command in flight when the
 * connection drops is failed rather than silently re-sent after the reconnect (a re-sent publish could
 * be published twice), and the client reconnects by itself with a capped backoff.
 */
export function connectionOptions(settings: RedisSettings, name: string): RedisOptions {
  return {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // The broker re-subscribes itself after a reconnect, then catches up from history.
    autoResubscribe: false,
    commandTimeout: settings.commandTimeoutMs,
    connectTimeout: Math.max(1000, settings.commandTimeoutMs),
    // A connection dropped because Redis stopped answering (see openRedis) closes at once.
    disconnectTimeout: 200,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000) + Math.floor(Math.random() * 100),
    // RESP2: plain arrays from scripts and the classic pub/sub connection mode.
    protocol: 2,
    // A master demoted by a failover answers writes with READONLY: reconnect (in Sentinel mode that
    // asks the sentinels for the new master); the failed command is not re-sent (1, not 2).
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 1 : false),
  };
}

/**
 * The options that say where to connect, for `new Redis(options)`: Sentinel mode, or the URL's
 * parts. The one place that knows the modes, so that every connection (broker, presence, dedup,
 * replica confirmation, the microservice transport) gets the same one.
 */
export function targetOptions(settings: Pick<RedisSettings, 'url' | 'sentinel' | 'cluster'>): RedisOptions {
  if (settings.cluster !== undefined) throw new Error('targetOptions: Cluster mode has no single target');
  const s = settings.sentinel;
  if (s !== undefined) {
    return {
      sentinels: s.sentinels.map(({ host, port }) => ({ host, port })),
      name: s.masterName,
      role: 'master',
      ...(s.sentinelPassword !== undefined ? { sentinelPassword: s.sentinelPassword } : {}),
      ...(s.password !== undefined ? { password: s.password } : {}),
      // Ask the sentinels again at once when they announce a new master (+switch-master), rather
      // than when the old one's connection fails (a demoted master that still answers never fails).
      failoverDetector: true,
      sentinelCommandTimeout: 1000,
      // While no sentinel answers: keep asking (never give up), at most every second.
      sentinelRetryStrategy: (times) => Math.min(100 * times, 1000),
    };
  }
  const url = new URL(settings.url ?? 'redis://127.0.0.1:6379');
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined;
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: url.port ? Number(url.port) : 6379,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * Options of a Redis Cluster client: the per-node ones are connectionOptions; the client itself
 * fails a command at once while it is not connected (no offline queue), follows MOVED and ASK, and
 * retries a command answered CLUSTERDOWN or TRYAGAIN (it did not run). A command whose node
 * connection closed under it is not re-sent (`retryDelayOnFailover: 0`): it may have run, and a
 * re-sent publish could be published twice; it fails `unavailable` and the client retries it with
 * the same id. Sharded pub/sub is not ioredis's (`shardedSubscribers`): the broker keeps its own
 * connection per shard (sharded-subscriber.ts), so that it knows when a room's subscription moved
 * and catches up from history.
 */
export function clusterOptions(
  settings: RedisSettings,
  name: string,
  overrides: RedisOptions = {},
): ClusterOptions {
  const { retryStrategy, enableOfflineQueue: _queue, ...node } = connectionOptions(settings, name);
  const password = settings.cluster?.password;
  return {
    enableOfflineQueue: false,
    retryDelayOnFailover: 0,
    clusterRetryStrategy: retryStrategy,
    slotsRefreshTimeout: Math.max(1000, settings.commandTimeoutMs),
    redisOptions: { ...node, ...(password !== undefined ? { password } : {}), ...overrides },
  };
}

/** A connection in the mode of `settings` with the shared options (see connectionOptions). */
export function newRedis(settings: RedisSettings, name: string, overrides: RedisOptions = {}): RedisClient {
  const cluster = settings.cluster;
  if (cluster !== undefined) {
    const nodes = cluster.nodes.map(({ host, port }) => ({ host, port }));
    const client = new Cluster(nodes, clusterOptions(settings, name, overrides));
    // ioredis opens a node's connection on its first command, and without an offline queue a second
    // command racing that connect fails: connect each node as soon as the slot map names it.
    client.on('+node', (node: Redis) => {
      if (node.status === 'wait') node.connect().catch(() => undefined);
    });
    return client;
  }
  return new Redis({ ...targetOptions(settings), ...connectionOptions(settings, name), ...overrides });
}

/**
 * A Redis Cluster client for Nest's Redis transport (the `hub.publish` events; transport-server.ts):
 * lazy (Nest connects it), with an offline queue so that its SUBSCRIBE waits until the cluster is
 * reachable, reconnecting every second however long that takes. Its SUBSCRIBE is classic pub/sub on
 * one node of the cluster (ioredis picks it and moves when it fails): producers PUBLISH to any node.
 */
export function newTransportCluster(settings: RedisSettings, name: string): Cluster {
  const cluster = settings.cluster;
  if (cluster === undefined) throw new Error('newTransportCluster: not in Cluster mode');
  const { retryStrategy: _retry, enableOfflineQueue: _queue, ...node } = connectionOptions(settings, name);
  return new Cluster(
    cluster.nodes.map(({ host, port }) => ({ host, port })),
    {
      lazyConnect: true,
      enableOfflineQueue: true,
      clusterRetryStrategy: () => 1000,
      redisOptions: {
        ...node,
        // Commands wait for the cluster: none times out while it is away.
        commandTimeout: undefined,
        ...(cluster.password !== undefined ? { password: cluster.password } : {}),
      },
    },
  );
}

/**
 * A plain connection to one node of a Redis Cluster (the broker's sharded subscriber, one per shard
 * master), with the shared options and the cluster's password.
 */
export function newNodeRedis(
  settings: RedisSettings,
  node: { host: string; port: number },
  name: string,
): Redis {
  const password = settings.cluster?.password;
  return new Redis({
    host: node.host,
    port: node.port,
    ...(password !== undefined ? { password } : {}),
    ...connectionOptions(settings, name),
  });
}

/**
 * What an outage is about, for the log: host:port, the Sentinel master's name, or the cluster's
 * startup nodes (never credentials).
 */
export function targetLabel(settings: Pick<RedisSettings, 'url' | 'sentinel' | 'cluster'>): string {
  const s = settings.sentinel;
  if (s !== undefined) return `sentinel master "${s.masterName}"`;
  const c = settings.cluster;
  if (c !== undefined) return `cluster ${c.nodes.map(({ host, port }) => `${host}:${port}`).join(',')}`;
  return targetOf(settings.url ?? 'redis://127.0.0.1:6379');
}

/** How often every gateway connection PINGs Redis (readiness and hang detection). */
export const PING_INTERVAL_MS = 1000;
/** A PING unanswered for this long (at most REDIS_COMMAND_TIMEOUT_MS) means Redis hangs. */
const PING_TIMEOUT_MS = 1000;
/** While Redis stays unreachable, one summary line per this period. */
export const OUTAGE_SUMMARY_MS = 60_000;

/**
 * Opens a connection that PINGs Redis every second. A PING without a reply within a second (Redis
 * hung: SIGSTOP, a stuck host, a lost route) drops the connection, so readiness turns off and
 * commands fail at once with `unavailable` instead of each waiting for its own timeout; the client
 * then reconnects by itself. State changes go to the process's outage log (one line when an outage
 * starts, one when it ends).
 */
export function openRedis(
  settings: RedisSettings,
  name: string,
  logger: Logger,
  options: { overrides?: RedisOptions; heartbeat?: boolean } = {},
): RedisClient {
  const redis = newRedis(settings, name, options.overrides);
  const outage = RedisOutageLog.for(targetLabel(settings), logger);
  outage.watch(redis, name);
  // A connection that blocks on purpose (WAIT) would take its own PING for a hang. A Cluster client
  // has a connection per node: a hung node fails its commands after REDIS_COMMAND_TIMEOUT_MS.
  if (options.heartbeat === false || isCluster(redis)) return redis;
  return heartbeat(redis, settings, outage);
}

/** openRedis for one node of a Redis Cluster (newNodeRedis), in the cluster's outage log. */
export function openNodeRedis(
  settings: RedisSettings,
  node: { host: string; port: number },
  name: string,
  logger: Logger,
): Redis {
  const redis = newNodeRedis(settings, node, name);
  const outage = RedisOutageLog.for(targetLabel(settings), logger);
  outage.watch(redis, name);
  return heartbeat(redis, settings, outage);
}

/**
 * PINGs every second; an unanswered PING drops the connection (see openRedis), unless the
 * connection is still receiving: a PING's reply comes after whatever Redis sent before it, and a
 * busy subscriber connection (a backlog of messages, an instance near saturation) can take longer
 * than the timeout to read up to it. Taking that for a hang dropped the subscriptions of a busy
 * instance and lost what was on the wire (its members got `reset`). So the verdict waits while bytes
 * keep arriving: a hung Redis sends nothing.
 */
function heartbeat(redis: Redis, settings: RedisSettings, outage: RedisOutageLog): Redis {
  const pingTimeoutMs = Math.min(PING_TIMEOUT_MS, settings.commandTimeoutMs);
  let pinging = false;
  const received = (): number => (redis.stream as { bytesRead?: number } | undefined)?.bytesRead ?? 0;
  const heartbeat = setInterval(() => {
    if (pinging || redis.status !== 'ready') return;
    pinging = true;
    let answered = false;
    let hung: NodeJS.Timeout | undefined;
    const judge = (before: number): void => {
      hung = setTimeout(() => {
        // The timer can fire after a long turn, before this turn reads what came meanwhile: judge
        // once the turn's reads are done.
        setImmediate(() => {
          if (answered) return;
          const now = received();
          if (now > before) return judge(now);
          outage.note(`no reply to PING within ${pingTimeoutMs} ms`);
          redis.disconnect(true);
        });
      }, pingTimeoutMs);
    };
    judge(received());
    redis
      .ping()
      .catch(() => undefined)
      .finally(() => {
        answered = true;
        clearTimeout(hung);
        pinging = false;
      });
  }, PING_INTERVAL_MS);
  heartbeat.unref();
  redis.once('end', () => clearInterval(heartbeat));
  return redis;
}

/** host:port of a redis:// URL (what an outage is about; never the credentials). */
export function targetOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || '127.0.0.1'}:${u.port || '6379'}`;
  } catch {
    return 'redis';
  }
}

/**
 * The outage log of one Redis server, shared by every connection this process has to it (command,
 * subscriber, the microservice transport's two): an outage is logged once when the first connection
 * loses Redis, once when the last one has it back, and in between at most one summary line per
 * OUTAGE_SUMMARY_MS, whatever the number of connections and reconnect attempts.
 */
export class RedisOutageLog {
  private static readonly byTarget = new Map<string, RedisOutageLog>();

  static for(target: string, logger: Logger): RedisOutageLog {
    let log = RedisOutageLog.byTarget.get(target);
    if (log === undefined) {
      log = new RedisOutageLog(target, logger);
      RedisOutageLog.byTarget.set(target, log);
    }
    return log;
  }

  /** Watched connections, by object, with whether each is down. */
  private readonly connections = new Map<RedisClient, { name: string; down: boolean }>();
  private since = 0;
  private attempts = 0;
  private lastError = '';
  private summary: NodeJS.Timeout | null = null;

  private constructor(
    private readonly target: string,
    private readonly logger: Logger,
  ) {}

  get outage(): boolean {
    return this.since !== 0;
  }

  /** Follows a connection until it ends (quit, disconnect). */
  watch(redis: RedisClient, name: string): void {
    const entry = { name, down: false };
    this.connections.set(redis, entry);
    redis.on('error', (err: Error) => this.note(err.message));
    // A Cluster client reports a node's failures apart (it stays connected to the other nodes).
    redis.on('node error', (err: Error, node?: string) => this.note(`${node ?? 'node'}: ${err.message}`));
    // 'reconnecting' comes only after an unexpected close (a QUIT ends with 'end'), and at boot when
    // the first attempt fails.
    redis.on('reconnecting', () => {
      this.attempts++;
      entry.down = true;
      this.update();
    });
    redis.on('ready', () => {
      entry.down = false;
      this.update();
    });
    redis.once('end', () => {
      this.connections.delete(redis);
      this.update();
      if (this.connections.size === 0 && RedisOutageLog.byTarget.get(this.target) === this) {
        RedisOutageLog.byTarget.delete(this.target);
      }
    });
  }

  /** The latest failure, reported with the next line (never logged by itself). */
  note(reason: string): void {
    this.lastError = reason;
  }

  private update(): void {
    const down = [...this.connections.values()].filter((c) => c.down).map((c) => c.name);
    if (down.length > 0 && this.since === 0) {
      this.since = Date.now();
      this.attempts = Math.max(this.attempts, 1);
      this.logger.warn(
        `redis ${this.target} unreachable (${this.lastError || 'connection lost'}; ${down.join(', ')}): ` +
          'commands answer `unavailable` and readiness is off until it is back',
      );
      this.summary = setInterval(() => this.logSummary(), OUTAGE_SUMMARY_MS);
      this.summary.unref();
    } else if (down.length === 0 && this.since !== 0) {
      this.logger.log(
        `redis ${this.target} reachable again after ${seconds(Date.now() - this.since)} ` +
          `(${this.attempts} reconnect attempts)`,
      );
      this.reset();
    }
    if (this.connections.size === 0) this.reset();
  }

  private logSummary(): void {
    this.logger.warn(
      `redis ${this.target} still unreachable after ${seconds(Date.now() - this.since)} ` +
        `(${this.attempts} reconnect attempts, last error: ${this.lastError || 'connection lost'})`,
    );
  }

  private reset(): void {
    if (this.summary !== null) clearInterval(this.summary);
    this.summary = null;
    this.since = 0;
    this.attempts = 0;
    this.lastError = '';
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Resolves when the connection is ready (a Cluster client: and its connection to every master), or
 * after `ms` (startup does not wait for a dead Redis).
 */
export async function waitReady(redis: RedisClient, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  await waitStatus(redis, ms);
  if (!isCluster(redis)) return;
  while (Date.now() < deadline && redis.nodes('master').some((n) => n.status !== 'ready')) {
    await new Promise((r) => setTimeout(r, 10));
  }
}

function waitStatus(redis: RedisClient, ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    redis.once('ready', done);
  });
}

/** Any failure talking to Redis (not connected, timed out, connection lost) means "unavailable". */
export function unavailable(err: unknown): BrokerUnavailableError {
  if (err instanceof BrokerUnavailableError) return err;
  const e = new BrokerUnavailableError(`redis: ${(err as Error)?.message ?? String(err)}`);
  (e as { cause?: unknown }).cause = err;
  return e;
}

/**
 * One command connection shared by the broker, presence and dedup of an instance; closed when the
 * last of them closes.
 */
export class SharedConnection {
  private users = 0;
  private closing: Promise<void> | null = null;

  /** The commands of this connection that wait for the end of the turn (turn-sender.ts). */
  readonly turn: TurnSender;

  constructor(readonly redis: RedisClient) {
    this.turn = new TurnSender(() => sockets(redis));
  }

  acquire(): RedisClient {
    this.users++;
    return this.redis;
  }

  release(): Promise<void> {
    if (--this.users > 0) return Promise.resolve();
    this.closing ??= quit(this.redis);
    return this.closing;
  }
}

/** The open sockets of a connection: a Redis Cluster's, one per master node. */
function sockets(redis: RedisClient): Socket[] {
  const out: Socket[] = [];
  for (const client of isCluster(redis) ? redis.nodes('master') : [redis]) {
    const stream = client.stream as Socket | undefined;
    if (stream !== undefined && !stream.destroyed) out.push(stream);
  }
  return out;
}

/** Closes a connection: QUIT when connected, otherwise just stop reconnecting. */
export async function quit(redis: RedisClient): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      /* fall through */
    }
  }
  redis.disconnect(false);
}

/**
 * The shard that serves `key` in the client's slot map, as a string to group by (its master's
 * host:port); '' while the map does not know the slot.
 */
export function shardOf(redis: Cluster, key: string): string {
  return shardOfSlot(redis, keySlot(key));
}

/** The shard that serves `slot` (see shardOf). */
export function shardOfSlot(redis: Cluster, slot: number): string {
  return redis.slots[slot]?.[0] ?? '';
}

/** Whether two slots are served by the same master now (by the client's slot map; false while unknown). */
export function sameShard(redis: Cluster, a: number, b: number): boolean {
  const shard = shardOfSlot(redis, a);
  return shard !== '' && shard === shardOfSlot(redis, b);
}

/** One command of a batch: its name (a Redis command or a defined script), its first key, the rest. */
export type BatchCommand = [name: string, key: string, ...args: (string | number)[]];

/**
 * Runs a batch of commands (a periodic refresh over many rooms or users) in as few round trips as
 * the mode allows: one pipeline on one server; on a Redis Cluster one pipeline per shard, since the
 * keys of a pipeline must all live on one node. Answers [error, reply] per command, in order; a
 * shard that fails fails its own commands only.
 */
export async function execBatch(
  redis: RedisClient,
  commands: readonly BatchCommand[],
): Promise<[Error | null, unknown][]> {
  if (commands.length === 0) return [];
  const groups = new Map<string, number[]>();
  if (isCluster(redis)) {
    commands.forEach(([, key], i) => {
      const shard = shardOf(redis, key);
      let list = groups.get(shard);
      if (list === undefined) groups.set(shard, (list = []));
      list.push(i);
    });
  } else {
    groups.set(
      '',
      commands.map((_, i) => i),
    );
  }
  const out = new Array<[Error | null, unknown]>(commands.length);
  await Promise.all(
    [...groups.values()].map(async (indexes) => {
      const pipeline = redis.pipeline() as unknown as Record<
        string,
        (...args: (string | number)[]) => unknown
      > & {
        exec(): Promise<[Error | null, unknown][] | null>;
      };
      for (const i of indexes) {
        const [name, ...args] = commands[i];
        pipeline[name](...args);
      }
      let results: [Error | null, unknown][] | null;
      try {
        results = await pipeline.exec();
      } catch (err) {
        results = null;
        for (const i of indexes) out[i] = [err as Error, null];
        return;
      }
      indexes.forEach((i, k) => (out[i] = results?.[k] ?? [new Error('pipeline not executed'), null]));
    }),
  );
  return out;
}

/** The first failure of a batch's answers (execBatch), if any. */
export function firstError(results: readonly [Error | null, unknown][]): Error | null {
  for (const [err] of results) if (err !== null) return err;
  return null;
}
