import type { MaybeAsync } from './maybe-async.js';

/** What a message id was first answered with. */
export interface DedupEntry {
  room?: string;
  seq?: number;
}

/**
 * Remembers message ids per user for DEDUP_WINDOW_MS so that retries are acked, not re-sent. A store
 * inside this process answers `get` and `set` at once.
 */
export interface DedupStore {
  get(key: string): MaybeAsync<DedupEntry | undefined>;
  set(key: string, entry: DedupEntry, ttlMs: number): MaybeAsync<void>;
  close(): Promise<void>;
}

export const DEDUP = Symbol('DEDUP');

/** The dedup key: one namespace per user, so another user's identical id is not a duplicate. */
export function dedupKey(userId: string, kind: 'message' | 'direct', id: string): string {
  return `${kind}\u0000${userId}\u0000${id}`;
}
