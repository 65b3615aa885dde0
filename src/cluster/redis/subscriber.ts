import type { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { BrokerUnavailableError } from '../broker.js';
import { openRedis, quit, type RedisSettings, unavailable, waitReady } from './connection.js';

/** What a subscriber tells the broker. */
export interface SubscriberEvents {
  /** A message on a subscribed channel. */
  message(channel: string, payload: string): void;
  /**
   * These channels are about to be subscribed again (after a reconnect, or after their slot moved to
   * another shard): what they carried meanwhile is lost, so live messages wait from now on.
   */
  resubscribing(channels: readonly string[]): void;
  /** They are subscribed again: what was published meanwhile is to be read from history. */
  resubscribed(channels: readonly string[]): void;
}

/**
 * The broker's subscriptions: to the channels of the rooms and users this instance has members for,
 * plus the broadcast channel. One connection on a single Redis (PlainSubscriber), one per shard
 * master with sharded pub/sub in a Redis Cluster (ShardedSubscriber).
 */
export interface ChannelSubscriber {
  /**
   * Subscribes. Not connected: the channel is remembered and subscribed once the connection is back
   * (resubscribing/resubscribed), and the call fails with BrokerUnavailableError (nothing is
   * flowing now).
   */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Whether every subscription is live (readiness). */
  isHealthy(): boolean;
  /** Whether this channel's subscription is live now (its connection is up). */
  isLive(channel: string): boolean;
  /** Resolves once healthy, or after `ms` (startup does not wait for a dead Redis). */
  waitReady(ms: number): Promise<void>;
  /** The connections it holds now (tests drop them). */
  connections(): Redis[];
  close(): Promise<void>;
}

/** Channels per SUBSCRIBE command when re-subscribing. */
export const SUBSCRIBE_CHUNK = 500;

/** One connection, SUBSCRIBE/PUBLISH (a single Redis, or the Sentinel master). */
export class PlainSubscriber implements ChannelSubscriber {
  private readonly redis: Redis;
  private readonly wanted = new Set<string>();

  constructor(
    settings: RedisSettings,
    private readonly logger: Logger,
    private readonly events: SubscriberEvents,
    always: readonly string[],
  ) {
    for (const c of always) this.wanted.add(c);
    this.redis = openRedis(settings, 'gateway-sub', logger) as Redis;
    this.redis.on('message', (channel: string, payload: string) => events.message(channel, payload));
    this.redis.on('ready', () => void this.resubscribe());
  }

  async subscribe(channel: string): Promise<void> {
    this.wanted.add(channel);
    if (this.redis.status !== 'ready') throw new BrokerUnavailableError('redis subscriber is not connected');
    try {
      await this.redis.subscribe(channel);
    } catch (err) {
      throw unavailable(err);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    this.wanted.delete(channel);
    if (this.redis.status !== 'ready') return; // a new connection starts with no subscriptions
    try {
      await this.redis.unsubscribe(channel);
    } catch (err) {
      throw unavailable(err);
    }
  }

  isHealthy(): boolean {
    return this.redis.status === 'ready';
  }

  isLive(): boolean {
    return this.redis.status === 'ready';
  }

  waitReady(ms: number): Promise<void> {
    return waitReady(this.redis, ms);
  }

  connections(): Redis[] {
    return [this.redis];
  }

  close(): Promise<void> {
    return quit(this.redis);
  }

  /** After (re)connecting: every wanted channel, in chunks. */
  private async resubscribe(): Promise<void> {
    const channels = [...this.wanted];
    this.events.resubscribing(channels);
    try {
      for (let i = 0; i < channels.length; i += SUBSCRIBE_CHUNK) {
        await this.redis.subscribe(...channels.slice(i, i + SUBSCRIBE_CHUNK));
      }
    } catch (err) {
      // The connection dropped again: the next 'ready' starts over. Until then messages stay held.
      this.logger.warn(`re-subscribe failed: ${(err as Error).message}`);
      return;
    }
    this.events.resubscribed(channels);
  }
}
