import type { RoomMessage } from '../../protocol/frames.js';

/** About 4 MB of stored JSON; with the parsed objects and their replay frames about three times that. */
const DEFAULT_MAX_CHARS = 4_000_000;

/**
 * Parsed history messages by their stored JSON, least recently read evicted first, bounded by the
 * total length of the JSON held. Every read of the same stored message returns the same object, so
 * a replay parses a message once while it stays here (and the hub encodes its frame once: see
 * hub/replay-frame.ts). Keyed by the exact JSON, a hit is always equal to a fresh parse.
 */
export class HistoryCache {
  private readonly entries = new Map<string, RoomMessage>();
  private chars = 0;

  constructor(private readonly maxChars = DEFAULT_MAX_CHARS) {}

  get size(): number {
    return this.entries.size;
  }

  /** The message stored as `json`, parsed once. */
  get(json: string): RoomMessage {
    const hit = this.entries.get(json);
    if (hit !== undefined) {
      this.entries.delete(json);
      this.entries.set(json, hit);
      return hit;
    }
    const m = JSON.parse(json) as RoomMessage;
    if (json.length > this.maxChars) return m;
    this.entries.set(json, m);
    this.chars += json.length;
    for (const key of this.entries.keys()) {
      if (this.chars <= this.maxChars) break;
      this.entries.delete(key);
      this.chars -= key.length;
    }
    return m;
  }
}
