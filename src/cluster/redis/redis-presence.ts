import { Logger } from '@nestjs/common';
import type { UserRef } from '../../protocol/frames.js';
import type { PresenceStore } from '../presence.js';
import {
  type BatchCommand,
  isCluster,
  type RedisClient,
  type SharedConnection,
  unavailable,
} from './connection.js';
import { RedisKeys } from './keys.js';
import { LeaseRefresh } from './lease-refresh.js';
import {
  PRESENCE_ADD_LUA,
  PRESENCE_COUNT_LUA,
  PRESENCE_MEMBERS_LUA,
  PRESENCE_REFRESH_LUA,
  PRESENCE_REMOVE_LUA,
  shardedLua,
} from './scripts.js';

export interface RedisPresenceOptions {
  keyPrefix: string;
  /** A connection entry not refreshed for this long is dropped (its instance died). */
  ttlMs: number;
  /** Same as the hub's PRESENCE_MAX_MEMBERS: expiry announces `left` only in rooms up to this size. */
  presenceMaxMembers: number;
}

type Script = (...args: (string | number)[]) => Promise<unknown>;
type ScriptedRedis = RedisClient & {
  gwPresenceAdd: Script;
  gwPresenceRemove: Script;
  gwPresenceCount: Script;
  gwPresenceMembers: Script;
  gwPresenceRefresh: Script;
};

/**
 * Cluster-wide presence. Per room: a sorted set of connections (`user \n connection`) scored by their
 * expiry, a hash of connection counts per user (first/last answers) and a hash of names. Each instance
 * re-writes its own connections every TTL/3, so the entries of an instance that crashed expire within
 * PRESENCE_TTL_MS (plus one refresh period); the instances that still have members in the room notice it
 * on their next refresh and publish `left` for the users that thereby left. Re-writing (not just
 * extending) also restores this instance's entries after Redis lost them.
 */
export class RedisPresence implements PresenceStore {
  private readonly logger = new Logger('RedisPresence');
  private readonly keys: RedisKeys;
  private readonly redis: ScriptedRedis;
  /** This instance's connections: room -> connection id -> user. */
  private readonly local = new Map<string, Map<string, UserRef>>();
  private readonly refresher: LeaseRefresh;
  private closed = false;

  constructor(
    private readonly options: RedisPresenceOptions,
    private readonly shared: SharedConnection,
  ) {
    this.redis = shared.acquire() as ScriptedRedis;
    const cluster = isCluster(this.redis);
    this.keys = new RedisKeys(options.keyPrefix, cluster);
    // In a Redis Cluster the expiry's `left` goes out with SPUBLISH on the room's shard channel.
    const lua = (script: string) => ({ numberOfKeys: 3, lua: cluster ? shardedLua(script) : script });
    this.redis.defineCommand('gwPresenceAdd', lua(PRESENCE_ADD_LUA));
    this.redis.defineCommand('gwPresenceRemove', lua(PRESENCE_REMOVE_LUA));
    this.redis.defineCommand('gwPresenceCount', lua(PRESENCE_COUNT_LUA));
    this.redis.defineCommand('gwPresenceMembers', lua(PRESENCE_MEMBERS_LUA));
    this.redis.defineCommand('gwPresenceRefresh', lua(PRESENCE_REFRESH_LUA));
    this.refresher = new LeaseRefresh(
      this.redis,
      options.ttlMs,
      () => this.refreshBatch(),
      this.logger,
      'presence refresh',
    );
  }

  async add(room: string, user: UserRef, connectionId: string): Promise<boolean> {
    let conns = this.local.get(room);
    if (conns === undefined) this.local.set(room, (conns = new Map<string, UserRef>()));
    conns.set(connectionId, user);
    return (await this.run(this.redis.gwPresenceAdd, room, user.id, user.name, connectionId)) === 1;
  }

  async remove(room: string, userId: string, connectionId: string): Promise<boolean> {
    const conns = this.local.get(room);
    if (conns?.delete(connectionId) && conns.size === 0) this.local.delete(room);
    return (await this.run(this.redis.gwPresenceRemove, room, userId, connectionId)) === 1;
  }

  async count(room: string): Promise<number> {
    return Number(await this.run(this.redis.gwPresenceCount, room));
  }

  async members(room: string, limit: number): Promise<UserRef[]> {
    const flat = (await this.run(this.redis.gwPresenceMembers, room, limit)) as string[];
    const out: UserRef[] = [];
    for (let i = 0; i + 1 < flat.length && out.length < limit; i += 2)
      out.push({ id: flat[i], name: flat[i + 1] });
    return out;
  }

  /** Re-writes this instance's entries with a fresh expiry and expires other instances' stale ones. */
  refresh(): Promise<void> {
    return this.refresher.run();
  }

  private refreshBatch(): BatchCommand[] {
    const batch: BatchCommand[] = [];
    for (const [room, conns] of this.local) {
      const args: string[] = [];
      for (const [connectionId, user] of conns) args.push(user.id, user.name, connectionId);
      const [key, ...rest] = this.keyArgs(room);
      batch.push(['gwPresenceRefresh', key as string, ...rest, ...args]);
    }
    return batch;
  }

  private keyArgs(room: string): (string | number)[] {
    const { keys, options } = this;
    return [
      keys.presenceConns(room),
      keys.presenceUsers(room),
      keys.presenceNames(room),
      room,
      keys.roomChannel(room),
      options.presenceMaxMembers,
      options.ttlMs,
    ];
  }

  private async run(script: Script, room: string, ...args: (string | number)[]): Promise<unknown> {
    try {
      return await script.call(this.redis, ...this.keyArgs(room), ...args);
    } catch (err) {
      throw unavailable(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.refresher.stop();
    this.local.clear();
    await this.shared.release();
  }
}
