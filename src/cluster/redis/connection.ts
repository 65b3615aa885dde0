import { type Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { BrokerUnavailableError } from '../broker.js';

export interface RedisSettings {
  url: string;
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
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000) + Math.floor(Math.random() * 100),
    // RESP2: plain arrays from scripts and the classic pub/sub connection mode.
    protocol: 2,
  };
}

/** Opens a connection that logs state changes once (not every failed retry). */
export function openRedis(settings: RedisSettings, name: string, logger: Logger): Redis {
  const redis = new Redis(settings.url, connectionOptions(settings, name));
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) logger.warn(`redis ${name}: ${err.message}`);
    down = true;
  });
  redis.on('close', () => {
    if (!down) logger.warn(`redis ${name}: connection closed, reconnecting`);
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.log(`redis ${name}: reconnected`);
    down = false;
  });
  return redis;
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
