/**
 * Redis Cluster hash slots, as the server computes them (CRC16/XMODEM of the key, or of its first
 * non-empty `{hash tag}`, modulo 16384): which shard a key or shard channel lives on.
 */
export const SLOTS = 16384;

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ b) & 0xff];
  return crc;
}

/** crc16 of s[start, end) when it is ASCII (its UTF-8 bytes are its char codes); -1 otherwise. */
function crc16Ascii(s: string, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    const b = s.charCodeAt(i);
    if (b > 0x7f) return -1;
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ b) & 0xff];
  }
  return crc;
}

/** The hash slot of a key or shard channel (its UTF-8 bytes, like the server). */
export function keySlot(key: string): number {
  let start = 0;
  let end = key.length;
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  return rangeSlot(key, start, end);
}

/** The slot of characters start..end of `s` taken as a key or its tag (their UTF-8 bytes). */
export function rangeSlot(s: string, start: number, end: number): number {
  const ascii = crc16Ascii(s, start, end);
  return (ascii >= 0 ? ascii : crc16(Buffer.from(s.slice(start, end), 'utf8'))) % SLOTS;
}

let tags: string[] | null = null;

/**
 * A short string whose hash is `slot`: a key tagged `{<it>}` lives in that slot. Lets a key that
 * belongs to a slot rather than to a room (the per-slot generation, keys.ts) sit beside the keys of
 * every room in that slot, so a script on a room's keys may read it. The table is built once, on
 * first use (a few milliseconds).
 */
export function slotTag(slot: number): string {
  if (tags === null) {
    const table = new Array<string>(SLOTS);
    let missing = SLOTS;
    for (let i = 0; missing > 0; i++) {
      const tag = i.toString(36);
      const s = crc16(Buffer.from(tag, 'latin1')) % SLOTS;
      if (table[s] === undefined) {
        table[s] = tag;
        missing--;
      }
    }
    tags = table;
  }
  return tags[slot];
}
