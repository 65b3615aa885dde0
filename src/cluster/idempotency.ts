import type { MaybeAsync } from './maybe-async.js';

/**
 * Idempotency, in one place: the store of ids already answered (`IdempotencyStore`, one per
 * cluster seam set), the key that namespaces them per sender, and the in-flight guard for retries
 * racing their original on this instance. Room publications pass their key to `Broker.publish`
 * (`PublishOptions.idempotencyKey`), which answers a retry with the original seq; direct messages
 * and push events use the store here directly.
 */

/** What an id was first answered with. */
export interface DedupEntry {
  room?: string;
  seq?: number;
}

/**
 * Remembers ids for the idempotency window (DEDUP_WINDOW_MS) so that retries are answered, not
 * re-sent. A store inside this process answers at once.
 */
export interface IdempotencyStore {
  get(key: string): MaybeAsync<DedupEntry | undefined>;
  set(key: string, entry: DedupEntry, ttlMs: number): MaybeAsync<void>;
  /**
   * Records the key if no one has, in one step (SET NX): true for the one caller that did. For work
   * that many instances are offered at once and exactly one must do (a `hub.publish` event).
   */
  claim(key: string, ttlMs: number): MaybeAsync<boolean>;
  /**
   * Takes a room message's id for its sender (SET NX PX with `{room}`): undefined for the one caller
   * that took it (it publishes, then the seq is known where `get`/`take` find it); otherwise what
   * the id was first taken for: its room, and its seq once that publication is known. One id per
   * sender, whichever room: a reuse in another room is a duplicate of the first publication.
   */
  take(key: string, room: string, ttlMs: number): MaybeAsync<DedupEntry | undefined>;
  /**
   * Forgets a claim whose work failed, so that a retry of the same id is done (and done once) instead
   * of being refused as already claimed for the rest of the window.
   */
  release(key: string): MaybeAsync<void>;
  close(): Promise<void>;
}

export const IDEMPOTENCY = Symbol('IDEMPOTENCY');

/** What an id names: a room message, a direct message, or a claimed push event. */
export type IdempotentKind = 'message' | 'direct' | 'push';

/**
 * The key of an id: one namespace per sender and kind, so another sender's identical id is not a
 * duplicate. A room message's key names no room: the id is used once per sender, whichever room
 * (`take`); the Redis broker also keeps it beside the room (`RedisKeys.idem`) for the publish
 * script, which answers a retry in that room with the original seq.
 */
export function idempotencyKey(userId: string, kind: IdempotentKind, id: string): string {
  return `${kind}\u0000${userId}\u0000${id}`;
}

/**
 * A retry racing its original on this instance waits for the original's answer instead of running
 * again. An answer given at once (seams in this process) cannot be raced, so it is not recorded and
 * costs no promise.
 */
export class InFlight {
  private readonly running = new Map<string, Promise<unknown>>();

  once<T>(key: string, run: () => MaybeAsync<T>): MaybeAsync<T> {
    const running = this.running.get(key) as Promise<T> | undefined;
    if (running !== undefined) return running;
    const result = run();
    if (!(result instanceof Promise)) return result;
    const p = result.finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }
}
