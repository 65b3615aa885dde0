import type { Logger } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { BrokerUnavailableError } from '../broker.js';
import { openNodeRedis, quit, type RedisSettings, unavailable } from './connection.js';
import { keySlot } from './slot.js';
import type { ChannelSubscriber, SubscriberEvents } from './subscriber.js';

/** One shard master's subscriber connection and the channels placed on it. */
interface Shard {
  /** host:port, as in the cluster client's slot map. */
  key: string;
  redis: Redis;
  channels: Set<string>;
}

/** While a shard connection is down, the slot map is asked for again this often (to see a failover). */
const REFRESH_WHILE_DOWN_MS = 250;

/**
 * Sharded pub/sub for a Redis Cluster (SSUBSCRIBE; the scripts and the broker SPUBLISH): a room's
 * channel lives in its room's slot, so its messages go only to the master that owns that slot and
 * to the instances subscribed there, not over the cluster bus to every node. One connection per
 * shard master; each channel is subscribed on the master that owns its slot, as the cluster
 * client's slot map says (`Cluster.slots`).
 *
 * When that map changes (a failover promoted a replica, or a slot was migrated), the channels whose
 * slot has a new owner move: they are subscribed on the new master, and the broker is told
 * (resubscribing/resubscribed) so that it catches those rooms up from history; the rooms of the
 * other shards are not disturbed. A shard connection that drops reconnects by itself and
 * re-subscribes its channels the same way. While one is down the slot map is refreshed every
 * REFRESH_WHILE_DOWN_MS, so a promotion is seen at once; a MOVED answer or an unsolicited
 * SUNSUBSCRIBE (a slot migrated away) refreshes it too.
 */
export class ShardedSubscriber implements ChannelSubscriber {
  private readonly shards = new Map<string, Shard>();
  /** Every wanted channel and the shard it is placed on (undefined: its slot's owner is unknown). */
  private readonly placed = new Map<string, Shard | undefined>();
  private readonly slots = new Map<string, number>();
  private readonly watchdog: NodeJS.Timeout;
  private readonly onRefresh = () => this.place();
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly settings: RedisSettings,
    private readonly logger: Logger,
    private readonly events: SubscriberEvents,
    always: readonly string[],
  ) {
    for (const c of always) this.placed.set(c, undefined);
    cluster.on('refresh', this.onRefresh);
    cluster.on('ready', this.onRefresh);
    this.watchdog = setInterval(() => {
      if ([...this.shards.values()].some((s) => s.redis.status !== 'ready')) this.refreshSlots();
    }, REFRESH_WHILE_DOWN_MS);
    this.watchdog.unref();
    this.place();
  }

  async subscribe(channel: string): Promise<void> {
    const owner = this.owner(channel);
    if (owner === undefined) {
      this.placed.set(channel, undefined);
      throw new BrokerUnavailableError('redis cluster: the slot map is not known yet');
    }
    const shard = this.shard(owner);
    const before = this.placed.get(channel);
    if (before !== undefined && before !== shard) before.channels.delete(channel);
    shard.channels.add(channel);
    this.placed.set(channel, shard);
    if (shard.redis.status !== 'ready') throw new BrokerUnavailableError('redis subscriber is not connected');
    try {
      await shard.redis.ssubscribe(channel);
    } catch (err) {
      throw unavailable(err);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const shard = this.placed.get(channel);
    this.placed.delete(channel);
    this.slots.delete(channel);
    if (shard === undefined) return;
    shard.channels.delete(channel);
    if (shard.redis.status !== 'ready') return; // a new connection starts with no subscriptions
    try {
      await shard.redis.sunsubscribe(channel);
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Connected to every master (a subscription can go anywhere), and every channel is placed. */
  isHealthy(): boolean {
    if (this.closed || this.cluster.status !== 'ready' || this.shards.size === 0) return false;
    for (const shard of this.shards.values()) if (shard.redis.status !== 'ready') return false;
    for (const shard of this.placed.values()) if (shard === undefined) return false;
    return true;
  }

  isLive(channel: string): boolean {
    return this.placed.get(channel)?.redis.status === 'ready';
  }

  async waitReady(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.isHealthy() && Date.now() < deadline && !this.closed) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  connections(): Redis[] {
    return [...this.shards.values()].map((s) => s.redis);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    this.cluster.off('refresh', this.onRefresh);
    this.cluster.off('ready', this.onRefresh);
    const shards = [...this.shards.values()];
    this.shards.clear();
    this.placed.clear();
    this.slots.clear();
    await Promise.allSettled(shards.map((s) => quit(s.redis)));
  }

  /** The master that owns a channel's slot now (host:port), per the cluster client. */
  private owner(channel: string): string | undefined {
    return this.cluster.slots[this.slotOf(channel)]?.[0];
  }

  /** A channel's hash slot, computed once while the channel is wanted. */
  private slotOf(channel: string): number {
    let slot = this.slots.get(channel);
    if (slot === undefined) this.slots.set(channel, (slot = keySlot(channel)));
    return slot;
  }

  /**
   * Brings the placement in line with the slot map: a connection per master, every channel on the
   * master of its slot (moved channels are re-subscribed there and caught up), connections to nodes
   * that are no longer masters closed.
   */
  private place(): void {
    if (this.closed || this.cluster.slots.length === 0) return;
    const masters = new Set<string>();
    for (const nodes of this.cluster.slots) if (nodes?.[0] !== undefined) masters.add(nodes[0]);
    for (const key of masters) this.shard(key);
    const moves = new Map<Shard, string[]>();
    for (const [channel, current] of this.placed) {
      const owner = this.owner(channel);
      if (owner === undefined || current?.key === owner) continue;
      const target = this.shard(owner);
      if (current !== undefined) {
        current.channels.delete(channel);
        // The old master may still be up (a slot migrated away, a demoted master): stop its copy.
        if (current.redis.status === 'ready') current.redis.sunsubscribe(channel).catch(() => undefined);
      }
      target.channels.add(channel);
      this.placed.set(channel, target);
      let list = moves.get(target);
      if (list === undefined) moves.set(target, (list = []));
      list.push(channel);
    }
    for (const [target, channels] of moves) {
      // Not connected yet: its 'ready' subscribes all its channels.
      if (target.redis.status === 'ready') void this.resubscribe(target, channels);
    }
    for (const [key, shard] of this.shards) {
      if (masters.has(key) || shard.channels.size > 0) continue;
      this.shards.delete(key);
      void quit(shard.redis);
    }
  }

  /** The connection to a master, opened on first need. */
  private shard(key: string): Shard {
    let shard = this.shards.get(key);
    if (shard !== undefined) return shard;
    const colon = key.lastIndexOf(':');
    const node = { host: key.slice(0, colon), port: Number(key.slice(colon + 1)) };
    const redis = openNodeRedis(this.settings, node, `gateway-ssub`, this.logger);
    shard = { key, redis, channels: new Set() };
    this.shards.set(key, shard);
    const s = shard;
    redis.on('smessage', (channel: string, payload: string) => {
      // A channel that moved away may still deliver from the old master for a moment: only the
      // shard it is placed on counts (the broker drops repeats by seq anyway).
      if (this.placed.get(channel) === s) this.events.message(channel, payload);
    });
    redis.on('ready', () => void this.resubscribe(s, [...s.channels]));
    // A MOVED answer to SSUBSCRIBE, or an unsolicited SUNSUBSCRIBE: a slot of this master moved.
    redis.on('moved', () =>
      this.refreshSlots(() => {
        this.place();
        if (this.shards.get(s.key) === s && s.redis.status === 'ready')
          void this.resubscribe(s, [...s.channels]);
      }),
    );
    return shard;
  }

  /** Subscribes channels on a shard again (after its reconnect, or a move) and has them caught up. */
  private async resubscribe(shard: Shard, channels: string[]): Promise<void> {
    if (channels.length === 0 || this.closed) return;
    this.events.resubscribing(channels);
    const bySlot = new Map<number, string[]>();
    for (const c of channels) {
      const slot = this.slotOf(c);
      let list = bySlot.get(slot);
      if (list === undefined) bySlot.set(slot, (list = []));
      list.push(c);
    }
    try {
      // SSUBSCRIBE takes channels of one slot at a time; the commands go out together.
      await Promise.all([...bySlot.values()].map((list) => shard.redis.ssubscribe(...list)));
    } catch (err) {
      // Dropped again, or the slot moved (MOVED): a reconnect or the next placement starts over.
      this.logger.warn(`re-subscribe on ${shard.key} failed: ${(err as Error).message}`);
      return;
    }
    // Only what is still placed there (a channel may have moved on or been left meanwhile).
    const done = channels.filter((c) => this.placed.get(c) === shard);
    if (done.length > 0) this.events.resubscribed(done);
  }

  /** Asks the cluster for its slot map again ('refresh' then re-places the channels). */
  private refreshSlots(then?: () => void): void {
    if (this.closed) return;
    this.cluster.refreshSlotsCache(() => then?.());
  }
}
