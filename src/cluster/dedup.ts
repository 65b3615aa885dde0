/** What a message id was first answered with. */
export interface DedupEntry {
  room?: string;
  seq?: number;
}

/** Remembers message ids per user for DEDUP_WINDOW_MS so that retries are acked, not re-sent. */
export interface DedupStore {
  get(key: string): Promise<DedupEntry | undefined>;
  set(key: string, entry: DedupEntry, ttlMs: number): Promise<void>;
  /** Optional, for stores inside this process: `get` and `set` without the promise. */
  getSync?(key: string): DedupEntry | undefined;
  setSync?(key: string, entry: DedupEntry, ttlMs: number): void;
  close(): Promise<void>;
}

export const DEDUP = Symbol('DEDUP');

/** The dedup key: one namespace per user, so another user's identical id is not a duplicate. */
export function dedupKey(userId: string, kind: 'message' | 'direct', id: string): string {
  return `${kind}\u0000${userId}\u0000${id}`;
}
