import { type Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisSentinelConfig } from '../../config/config.js';
import { BrokerUnavailableError } from '../broker.js';

/**
 * Where Redis is: a URL (one server), or Sentinel (the sentinels name the current master; every
 * connection asks them again after losing its master, so a failover needs no restart).
 */
export interface RedisSettings {
  /** redis://… of one server; unused with `sentinel`. */
  url?: string;
  sentinel?: RedisSentinelConfig;
  /** Prefix of every key and channel. */
  keyPrefix: string;
  /** A command without a reply within this time fails (a hung server must not hang publishers). */
  commandTimeoutMs: number;
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
export function targetOptions(settings: Pick<RedisSettings, 'url' | 'sentinel'>): RedisOptions {
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

/** A connection in the mode of `settings` with the shared options (see connectionOptions). */
export function newRedis(settings: RedisSettings, name: string, overrides: RedisOptions = {}): Redis {
  return new Redis({ ...targetOptions(settings), ...connectionOptions(settings, name), ...overrides });
}

/** What an outage is about, for the log: host:port, or the Sentinel master's name (never credentials). */
export function targetLabel(settings: Pick<RedisSettings, 'url' | 'sentinel'>): string {
  const s = settings.sentinel;
  if (s !== undefined) return `sentinel master "${s.masterName}"`;
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
): Redis {
  const redis = newRedis(settings, name, options.overrides);
  const outage = RedisOutageLog.for(targetLabel(settings), logger);
  outage.watch(redis, name);
  // A connection that blocks on purpose (WAIT) would take its own PING for a hang.
  if (options.heartbeat === false) return redis;
  const pingTimeoutMs = Math.min(PING_TIMEOUT_MS, settings.commandTimeoutMs);
  let pinging = false;
  const heartbeat = setInterval(() => {
    if (pinging || redis.status !== 'ready') return;
    pinging = true;
    const hung = setTimeout(() => {
      outage.note(`no reply to PING within ${pingTimeoutMs} ms`);
      redis.disconnect(true);
    }, pingTimeoutMs);
    redis
      .ping()
      .catch(() => undefined)
      .finally(() => {
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
  private readonly connections = new Map<Redis, { name: string; down: boolean }>();
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
  watch(redis: Redis, name: string): void {
    const entry = { name, down: false };
    this.connections.set(redis, entry);
    redis.on('error', (err: Error) => this.note(err.message));
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

/** Resolves when the connection is ready, or after `ms` (startup does not wait for a dead Redis). */
export function waitReady(redis: Redis, ms: number): Promise<void> {
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

  constructor(readonly redis: Redis) {}

  acquire(): Redis {
    this.users++;
    return this.redis;
  }

  release(): Promise<void> {
    if (--this.users > 0) return Promise.resolve();
    this.closing ??= quit(this.redis);
    return this.closing;
  }
}

/** Closes a connection: QUIT when connected, otherwise just stop reconnecting. */
export async function quit(redis: Redis): Promise<void> {
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
