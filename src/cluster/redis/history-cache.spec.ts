import { describe, expect, it } from '@jest/globals';
import { HistoryCache } from './history-cache.js';

const stored = (seq: number, content = 'x') =>
  JSON.stringify({ id: `i${seq}`, room: 'r', seq, time: 1, sender: { id: 'u', name: 'U' }, content });

describe('HistoryCache', () => {
  it('parses a stored message once and returns the same object for every read', () => {
    const cache = new HistoryCache();
    const first = cache.get(stored(1));
    expect(first).toEqual(JSON.parse(stored(1)));
    expect(cache.get(stored(1))).toBe(first);
    expect(cache.get(stored(2))).not.toBe(first);
  });

  it('evicts the least recently read first, within its character bound', () => {
    const one = stored(1);
    const cache = new HistoryCache(one.length * 2);
    const a = cache.get(stored(1));
    cache.get(stored(2));
    cache.get(stored(1)); // read again: 2 is now the oldest
    cache.get(stored(3)); // over the bound: 2 goes
    expect(cache.size).toBe(2);
    expect(cache.get(stored(1))).toBe(a);
    const big = stored(4, 'y'.repeat(one.length * 3));
    expect(cache.get(big)).toEqual(JSON.parse(big)); // larger than the whole bound: not kept
    expect(cache.get(big)).not.toBe(cache.get(big));
  });
});
