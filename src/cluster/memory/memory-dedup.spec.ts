import { describe, expect, it } from '@jest/globals';
import { idempotencyKey } from '../idempotency.js';
import { MemoryDedup } from './memory-dedup.js';

// The hash against crafted ids: test/e2e/dedup-hash.e2e-spec.ts (timed outside Jest's sandbox).
describe('MemoryDedup', () => {
  it('releases an id: it reads as absent, and can be set and claimed again', () => {
    const dedup = new MemoryDedup(() => 0);
    const key = idempotencyKey('alice', 'message', 'x');
    expect(dedup.claim(key, 1000)).toBe(true);
    dedup.release(key);
    expect(dedup.get(key)).toBeUndefined();
    expect(dedup.claim(key, 1000)).toBe(true);
    expect(dedup.claim(key, 1000)).toBe(false);
    dedup.set(key, { room: 'r', seq: 3 }, 1000);
    expect(dedup.get(key)).toEqual({ room: 'r', seq: 3 });
  });
});
