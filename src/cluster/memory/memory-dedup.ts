import type { DedupEntry, DedupStore } from '../dedup.js';

/**
 * In-memory dedup window. Entries are kept in insertion order with their expiry; since every entry
 * gets the same TTL, expired ones are always at the front and are swept from there, so the map
 * never holds more than a window's worth of ids.
 */
export class MemoryDedup implements DedupStore {
  private readonly entries = new Map<string, { entry: DedupEntry; expires: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  get(key: string): Promise<DedupEntry | undefined> {
    this.sweep();
    return Promise.resolve(this.entries.get(key)?.entry);
  }

  set(key: string, entry: DedupEntry, ttlMs: number): Promise<void> {
    this.sweep();
    this.entries.delete(key);
    this.entries.set(key, { entry, expires: this.now() + ttlMs });
    return Promise.resolve();
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, v] of this.entries) {
      if (v.expires > now) break;
      this.entries.delete(key);
    }
  }

  close(): Promise<void> {
    this.entries.clear();
    return Promise.resolve();
  }
}
