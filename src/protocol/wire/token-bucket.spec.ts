import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('allows a burst of `burst`, then refills at `rate` per second', () => {
    const b = new TokenBucket(10, 10, 0);
    for (let i = 0; i < 10; i++) expect(b.take(0)).toBe(true);
    expect(b.take(0)).toBe(false);
    expect(b.take(99)).toBe(false); // 0.99 token
    expect(b.take(100)).toBe(true); // 1 token after 100 ms
    expect(b.take(100)).toBe(false);
  });

  it('never holds more than the burst however long it idles', () => {
    const b = new TokenBucket(5, 5, 0);
    let taken = 0;
    while (b.take(60_000)) taken++;
    expect(taken).toBe(5);
  });

  it('ignores a clock that goes backwards', () => {
    const b = new TokenBucket(1, 1, 1000);
    expect(b.take(1000)).toBe(true);
    expect(b.take(500)).toBe(false);
    expect(b.take(2000)).toBe(true);
  });
});

describe('TokenBucket.waitMs', () => {
  it('says how long until the next token, and 0 while one is there', () => {
    const b = new TokenBucket(10, 1, 0);
    expect(b.waitMs(0)).toBe(0);
    expect(b.take(0)).toBe(true);
    expect(b.waitMs(0)).toBe(100);
    expect(b.waitMs(40)).toBe(60);
    expect(b.take(99)).toBe(false);
    expect(b.waitMs(100)).toBe(0);
    expect(b.take(100)).toBe(true);
  });

  it('waits at least 1 ms for a fraction of a token', () => {
    const b = new TokenBucket(1000, 1, 0);
    expect(b.take(0)).toBe(true);
    expect(b.waitMs(0)).toBe(1);
  });
});
