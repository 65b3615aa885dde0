import type { DedupEntry, DedupStore } from '../dedup.js';

/**
 * In-memory dedup window. Every entry gets the same TTL, so expiry order is insertion order: a FIFO
 * of (key, expiry) pairs is swept from its head as time passes, and the map never holds more than a
 * window's worth of ids. Plain arrays, no iterator or wrapper object per operation: `get` and `set`
 * run once per published message with an id.
 */
export class MemoryDedup implements DedupStore {
  private readonly entries = new Map<string, DedupEntry>();
  private readonly expiries = new Map<string, number>();
  private fifoKeys: string[] = [];
  private fifoTimes: number[] = [];
  private head = 0;

  constructor(private readonly now: () => number = Date.now) {}

  get(key: string): Promise<DedupEntry | undefined> {
    const expires = this.expiries.get(key);
    if (expires === undefined || expires <= this.now()) return Promise.resolve(undefined);
    return Promise.resolve(this.entries.get(key));
  }

  set(key: string, entry: DedupEntry, ttlMs: number): Promise<void> {
    const now = this.now();
    this.sweep(now);
    const expires = now + ttlMs;
    this.entries.set(key, entry);
    this.expiries.set(key, expires);
    this.fifoKeys.push(key);
    this.fifoTimes.push(expires);
    return Promise.resolve();
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(now: number): void {
    const keys = this.fifoKeys;
    const times = this.fifoTimes;
    let h = this.head;
    while (h < times.length && times[h] <= now) {
      const key = keys[h];
      // A key set again later has a later expiry: only the FIFO slot matching its expiry removes it.
      if (this.expiries.get(key) === times[h]) {
        this.expiries.delete(key);
        this.entries.delete(key);
      }
      h++;
    }
    if (h > 1024 && h * 2 > times.length) {
      this.fifoKeys = keys.slice(h);
      this.fifoTimes = times.slice(h);
      h = 0;
    }
    this.head = h;
  }

  close(): Promise<void> {
    this.entries.clear();
    this.expiries.clear();
    this.fifoKeys = [];
    this.fifoTimes = [];
    this.head = 0;
    return Promise.resolve();
  }
}
