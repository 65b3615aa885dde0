import { randomBytes } from 'node:crypto';
import type { DedupEntry, IdempotencyStore } from '../idempotency.js';

/** Generations kept: an id lives between one window and 1.5 windows (see MemoryDedup). */
const GENERATIONS = 3;
/** Tables per generation (a power of two), chosen by the top bits of the key's hash. */
const SHARD_BITS = 6;
const INITIAL_CAPACITY = 16;

/**
 * The hash's key, random per process: every bit of a hash depends on it, so nobody can choose ids
 * that pile up in one table's probe sequence (FNV-1a from a random basis kept the low bits of the
 * hash a function of the low bits of the characters alone: 200k ids differing only in the top bits
 * of their code units shared their home slots and took 8 to 11 times as long as random ones).
 */
const [KEY0, KEY1] = (() => {
  const bytes = randomBytes(8);
  return [bytes.readUInt32LE(0), bytes.readUInt32LE(4)];
})();

/**
 * A keyed multiply-xorshift over the key's UTF-16 code units: each unit is mixed into a state that
 * starts from the key, by an odd multiplication (carries take low bits up) and a shift back down
 * (high bits come down), then murmur3's finalizer over the state and the second half of the key.
 * No allocation; never 0 (0 marks an empty slot).
 */
function hashOf(key: string): number {
  let h = KEY0 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    h = Math.imul(h ^ key.charCodeAt(i), 0x9e3779b1);
    h ^= h >>> 15;
  }
  h ^= KEY1;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0 || 1;
}

/** `roomRefs` of a released id: the slot stays (probe chains pass it), the id reads as absent. */
const RELEASED = 0xffffffff;

/**
 * An insert-only hash table of ids that holds no object per id: open addressing with linear probing
 * over typed arrays (hash, where the key's characters start in a character arena, their count, seq,
 * room index), rooms interned in a small list. Millions of ids are then a few large buffers that the
 * garbage collector neither marks nor moves, where a Map of strings and entry objects made every
 * full collection walk all of them (66 and 178 ms pauses at 1.5M ids in a micro-benchmark). A miss
 * (the common case: a first attempt) reads the hash array only; characters are compared only when
 * the hashes are equal.
 */
class IdTable {
  private hashes = new Uint32Array(INITIAL_CAPACITY);
  private starts = new Uint32Array(INITIAL_CAPACITY);
  private lengths = new Uint32Array(INITIAL_CAPACITY);
  private seqs = new Float64Array(INITIAL_CAPACITY);
  /** Index into `rooms` + 1; 0 = no room. */
  private roomRefs = new Uint32Array(INITIAL_CAPACITY);
  private chars = new Uint16Array(INITIAL_CAPACITY * 32);
  private used = 0;
  private readonly rooms: string[] = [];
  private readonly roomIndex = new Map<string, number>();
  size = 0;

  get(key: string, hash: number): DedupEntry | undefined {
    const slot = this.find(key, hash);
    if (slot < 0) return undefined;
    const room = this.roomRefs[slot];
    if (room === RELEASED) return undefined;
    const entry: DedupEntry = {};
    if (room !== 0) entry.room = this.rooms[room - 1];
    const seq = this.seqs[slot];
    if (!Number.isNaN(seq)) entry.seq = seq;
    return entry;
  }

  set(key: string, hash: number, value: DedupEntry): void {
    if ((this.size + 1) * 2 > this.hashes.length) this.grow();
    let slot = this.find(key, hash);
    if (slot < 0) {
      slot = -slot - 1;
      this.hashes[slot] = hash;
      this.starts[slot] = this.store(key);
      this.lengths[slot] = key.length;
      this.size++;
    }
    this.seqs[slot] = value.seq ?? NaN;
    this.roomRefs[slot] = value.room === undefined ? 0 : this.intern(value.room) + 1;
  }

  /** Marks the key absent (see RELEASED); a later `set` of it takes the slot again. */
  release(key: string, hash: number): void {
    const slot = this.find(key, hash);
    if (slot >= 0) this.roomRefs[slot] = RELEASED;
  }

  /** The key's slot, or -(free slot) - 1 where it would go. */
  private find(key: string, hash: number): number {
    const hashes = this.hashes;
    const mask = hashes.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const h = hashes[i];
      if (h === 0) return -i - 1;
      if (h === hash && this.equals(i, key)) return i;
    }
  }

  private equals(slot: number, key: string): boolean {
    if (this.lengths[slot] !== key.length) return false;
    const chars = this.chars;
    const start = this.starts[slot];
    for (let j = 0; j < key.length; j++) if (chars[start + j] !== key.charCodeAt(j)) return false;
    return true;
  }

  private store(key: string): number {
    const start = this.used;
    if (start + key.length > this.chars.length) {
      const bigger = new Uint16Array(Math.max(this.chars.length * 2, start + key.length));
      bigger.set(this.chars);
      this.chars = bigger;
    }
    const chars = this.chars;
    for (let j = 0; j < key.length; j++) chars[start + j] = key.charCodeAt(j);
    this.used = start + key.length;
    return start;
  }

  private intern(room: string): number {
    let i = this.roomIndex.get(room);
    if (i === undefined) {
      i = this.rooms.length;
      this.rooms.push(room);
      this.roomIndex.set(room, i);
    }
    return i;
  }

  private grow(): void {
    const { hashes, starts, lengths, seqs, roomRefs } = this;
    const capacity = hashes.length * 2;
    this.hashes = new Uint32Array(capacity);
    this.starts = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.seqs = new Float64Array(capacity);
    this.roomRefs = new Uint32Array(capacity);
    const mask = capacity - 1;
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i];
      if (h === 0) continue;
      let j = h & mask;
      while (this.hashes[j] !== 0) j = (j + 1) & mask;
      this.hashes[j] = h;
      this.starts[j] = starts[i];
      this.lengths[j] = lengths[i];
      this.seqs[j] = seqs[i];
      this.roomRefs[j] = roomRefs[i];
    }
  }
}

type Generation = IdTable[];

function generation(): Generation {
  const g: Generation = [];
  for (let i = 0; i < 1 << SHARD_BITS; i++) g.push(new IdTable());
  return g;
}

/**
 * In-memory dedup window, generational: ids go into the current generation; every half window the
 * generations shift and the oldest is dropped whole. With three generations an id is remembered for
 * at least the window (TTL) and at most 1.5 times it. Memory: the ids of up to 1.5 windows.
 *
 * Why not a TTL per entry: `get` and `set` run for every published message that carries an id, and
 * at tens of thousands of publications a second the window holds millions of ids. An expiry per
 * entry needs a second structure (expiry map or FIFO) touched and swept on every set; here expiry is
 * dropping a generation, which costs nothing per entry.
 *
 * Why not a Map: a growing Map rehashes everything it holds in one synchronous step (one Map of a
 * million ids stalled the event loop ~100 ms when it doubled: fan-out p99 past 100 ms with the CPU
 * at 87%), and a miss in a big Map chases pointers to key strings, three generations deep. Each
 * generation is 64 IdTables chosen by the top bits of the key's hash, so a table that grows copies
 * a 64th of a generation, and a miss reads hashes from typed arrays only.
 */
export class MemoryDedup implements IdempotencyStore {
  /** gens[0] is the current generation. */
  private gens: Generation[] = [];
  private periodMs = 0;
  private rotateAt = 0;
  /** The broker sets the key it just looked up: its hash is not computed twice. */
  private lastKey = '';
  private lastHash = 0;

  constructor(private readonly now: () => number = Date.now) {
    for (let i = 0; i < GENERATIONS; i++) this.gens.push(generation());
  }

  get(key: string): DedupEntry | undefined {
    this.advance(this.now());
    const hash = this.hashOf(key);
    const shard = hash >>> (32 - SHARD_BITS);
    const gens = this.gens;
    for (let i = 0; i < GENERATIONS; i++) {
      const entry = gens[i][shard].get(key, hash);
      if (entry !== undefined) return entry;
    }
    return undefined;
  }

  set(key: string, entry: DedupEntry, ttlMs: number): void {
    const now = this.now();
    // The window is the TTL the caller passes (DEDUP_WINDOW_MS); a longer one than seen so far
    // lengthens the generations from the next shift on.
    const period = Math.max(1, Math.ceil(ttlMs / (GENERATIONS - 1)));
    if (period > this.periodMs) {
      if (this.periodMs === 0) this.rotateAt = now + period;
      this.periodMs = period;
    }
    this.advance(now);
    const hash = this.hashOf(key);
    this.gens[0][hash >>> (32 - SHARD_BITS)].set(key, hash, entry);
  }

  claim(key: string, ttlMs: number): boolean {
    if (this.get(key) !== undefined) return false;
    this.set(key, {}, ttlMs);
    return true;
  }

  /**
   * The broker publishes under the same key and completes the entry with the seq, in the same
   * synchronous step: a later `take` finds `{room, seq}`.
   */
  take(key: string, room: string, ttlMs: number): DedupEntry | undefined {
    const prior = this.get(key);
    if (prior === undefined) this.set(key, { room }, ttlMs);
    return prior;
  }

  release(key: string): void {
    const hash = this.hashOf(key);
    const shard = hash >>> (32 - SHARD_BITS);
    for (let i = 0; i < GENERATIONS; i++) this.gens[i][shard].release(key, hash);
  }

  private hashOf(key: string): number {
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastHash = hashOf(key);
    }
    return this.lastHash;
  }

  /** Ids held (every generation; an id set twice in different generations counts twice). */
  get size(): number {
    let n = 0;
    for (const g of this.gens) for (const t of g) n += t.size;
    return n;
  }

  private advance(now: number): void {
    if (this.periodMs === 0 || now < this.rotateAt) return;
    const shifts = Math.floor((now - this.rotateAt) / this.periodMs) + 1;
    if (shifts >= GENERATIONS) {
      for (let i = 0; i < GENERATIONS; i++) this.gens[i] = generation();
    } else {
      for (let s = 0; s < shifts; s++) {
        this.gens.pop();
        this.gens.unshift(generation());
      }
    }
    this.rotateAt += shifts * this.periodMs;
  }

  close(): Promise<void> {
    for (let i = 0; i < GENERATIONS; i++) this.gens[i] = generation();
    return Promise.resolve();
  }
}
