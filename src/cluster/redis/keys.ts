import { keySlot, rangeSlot, slotTag } from './slot.js';

/**
 * The Redis key and channel layout, in one place (docs/scaling.md has the table).
 *
 * Every key and channel starts with REDIS_KEY_PREFIX (default `gw:`). A room's keys carry the room
 * name in braces, `{room}`: room names cannot contain braces, so no room's key can be mistaken for
 * another's, and in Redis Cluster all of a room's keys hash to one slot (the Lua scripts need that).
 *
 * With `cluster` (REDIS_CLUSTER_NODES) a few names differ so that whatever one script touches shares
 * a slot: a user's channel carries the `{user}` tag of the user's keys, the generation is one key per
 * slot (beside the rooms of that slot), and the event stream and the presence-event keys share the
 * `{events}` tag. A single Redis keeps the names it always had.
 */
export class RedisKeys {
  constructor(
    readonly prefix: string,
    readonly cluster = false,
  ) {}

  /** Hash {seq, epoch}: the last assigned seq and the history generation. */
  meta(room: string): string {
    return `${this.prefix}room:{${room}}:meta`;
  }
  /** Sorted set: the last HISTORY_SIZE messages (JSON), scored by seq. */
  log(room: string): string {
    return `${this.prefix}room:{${room}}:log`;
  }
  /**
   * Sorted set: runs of seqs published with `skipHistory` (member: the run's first seq, score: its
   * last), the HISTORY_SIZE + 1 newest; written only by publications that skip history.
   */
  skips(room: string): string {
    return `${this.prefix}room:{${room}}:skips`;
  }
  /** Sorted set: with REDIS_MIN_REPLICAS, messages stored but not yet confirmed on the replicas. */
  pending(room: string): string {
    return `${this.prefix}room:{${room}}:pending`;
  }
  /**
   * String: the seq a (sender, id) publication got, so that an ambiguous retry is not re-published
   * (in a Redis Cluster and with REDIS_MIN_REPLICAS; a single Redis keeps it in the sender record).
   */
  idem(room: string, dedupKey: string): string {
    return `${this.prefix}room:{${room}}:pub:${dedupKey}`;
  }
  /** Sorted set: `userId \n connectionId`, scored by expiry (epoch ms). */
  presenceConns(room: string): string {
    return `${this.prefix}room:{${room}}:pconns`;
  }
  /** Hash userId -> number of live connections in the room. */
  presenceUsers(room: string): string {
    return `${this.prefix}room:{${room}}:pusers`;
  }
  /** Hash userId -> display name. */
  presenceNames(room: string): string {
    return `${this.prefix}room:{${room}}:pnames`;
  }
  /**
   * String: this Redis's generation (random, made once): the epochs answered for rooms nobody has
   * published to derive from it, so a Redis restarted empty or flushed answers other ones. In a
   * Redis Cluster one per hash slot, in the slot of `room` (the history script reads it beside the
   * room's keys): a shard restarted empty loses the generations of its slots, and only those.
   */
  generation(room: string): string {
    if (!this.cluster) return `${this.prefix}generation`;
    return `${this.prefix}generation:{${slotTag(keySlot(room))}}`;
  }
  /** String: a dedup-window entry (JSON). */
  dedup(key: string): string {
    return `${this.prefix}dedup:${key}`;
  }
  /**
   * String: the dedup record of an idempotency key (JSON): a room message's sender record,
   * `sender:<n>:{<user>}:<id>` (n: the user id's length, so that no user id and message id can be
   * read as another pair), hash-tagged by user so that in Redis Cluster it lives in the sender's
   * slot, holding the room the id was first taken for (`{"room":...}`, its seq in `idem`), or on a
   * single Redis, where the publish script takes it, the room and the seq (`{"room":...,"seq":N}`);
   * any other key's entry under `dedup(key)`.
   */
  record(key: string): string {
    if (!key.startsWith(MESSAGE_KEY)) return this.dedup(key);
    const end = key.indexOf('\u0000', MESSAGE_KEY.length);
    const user = key.slice(MESSAGE_KEY.length, end);
    return `${this.prefix}sender:${user.length}:{${user}}:${key.slice(end + 1)}`;
  }

  /**
   * The hash slot of `record(key)`, without building it: the broker asks for it on every client
   * message in a Redis Cluster. A sender record's tag is the user id up to its first `}` (the prefix
   * has no braces in a Redis Cluster, config.ts); an empty one hashes the whole key.
   */
  recordSlot(key: string): number {
    if (key.startsWith(MESSAGE_KEY)) {
      const start = MESSAGE_KEY.length;
      const end = key.indexOf('\u0000', start);
      const close = key.indexOf('}', start);
      const tagEnd = close >= 0 && close < end ? close : end;
      if (tagEnd > start) return rangeSlot(key, start, tagEnd);
    }
    return keySlot(this.record(key));
  }

  /** The hash slot of every key of a room (`{room}`-tagged; room names have no braces). */
  roomSlot(room: string): number {
    return keySlot(room);
  }

  /** Sorted set: a user's live connections (leases), scored by expiry (epoch ms). */
  userLeases(userId: string): string {
    return `${this.prefix}user:{${userId}}:leases`;
  }
  /** Hash connectionId -> JSON list of the rooms that connection has joined. */
  userRooms(userId: string): string {
    return `${this.prefix}user:{${userId}}:rooms`;
  }
  /** String: a revoked token id, expiring with the token. */
  revokedJti(jti: string): string {
    return `${this.prefix}revoked:jti:${jti}`;
  }
  /** String: tokens of this user issued before this time (epoch seconds) are revoked. */
  revokedSub(sub: string): string {
    return `${this.prefix}revoked:sub:${sub}`;
  }

  /** Channel of a room: its messages and presence events. */
  roomChannel(room: string): string {
    return `${this.prefix}room:{${room}}`;
  }
  /** Channel of a user: direct messages and service pushes (in a Redis Cluster, the user's slot). */
  userChannel(userId: string): string {
    return this.cluster ? `${this.prefix}user:{${userId}}` : `${this.prefix}user:${userId}`;
  }
  /** Channel every instance subscribes to. */
  broadcastChannel(): string {
    return `${this.prefix}broadcast`;
  }

  /** Stream: the event stream (`<prefix>events`; in a Redis Cluster `<prefix>{events}`). */
  eventStream(): string {
    return eventStreamKey(this.prefix, this.cluster);
  }
  /**
   * What the presence-event keys (`pres:leases`, `pres:due`, `pres:<subject>`) start with: the
   * prefix, or in a Redis Cluster the stream's name and a colon, so that the scripts that decide a
   * transition and append it to the stream touch one slot.
   */
  presenceEventsPrefix(): string {
    return this.cluster ? `${this.eventStream()}:` : this.prefix;
  }
  /** String: the instance delivering webhooks now. */
  webhookLeader(): string {
    return `${this.eventStream()}:webhook-leader`;
  }
}

/** The start of a room message's idempotency key (`idempotencyKey(user, 'message', id)`). */
const MESSAGE_KEY = 'message\u0000';

/**
 * A sender record's value (RedisKeys.record) for an id taken for `room` by RedisDedup.take, whose
 * publication's seq is kept in the room's idempotency key (RedisKeys.idem).
 */
export function senderRecordValue(room: string): string {
  return JSON.stringify({ room });
}

/**
 * The start of a sender record that the publish script writes on a single Redis: the publication's
 * seq and `}` follow, which makes `JSON.stringify({ room, seq })`. The script compares a record it
 * finds with it as a string: same start, same room.
 */
export function senderRecordHead(room: string): string {
  return JSON.stringify({ room }).slice(0, -1) + ',"seq":';
}

/** The event stream's key (see RedisKeys.eventStream). */
export function eventStreamKey(prefix: string, cluster = false): string {
  return cluster ? `${prefix}{events}` : `${prefix}events`;
}

/**
 * Payloads on a room channel start with one character saying what follows:
 * - `m<epoch>|<message JSON>`: a room message (built by the publish scripts);
 * - `b<epoch>|[<message JSON>,<message JSON>,...]`: several messages of one publish batch, with
 *   consecutive seqs, in seq order (the publish script, when a batch published more than one);
 * - `p<event JSON>`: a presence event (from the hub, or from the presence expiry in Lua).
 * User and broadcast channels carry the frame's JSON as is.
 */
export const ROOM_MESSAGE = 'm';
export const ROOM_BATCH = 'b';
export const ROOM_EVENT = 'p';
