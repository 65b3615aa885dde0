import { WindowLimiter } from './window-limiter.js';

describe('WindowLimiter', () => {
  it('allows `limit` hits per key per window, from its first hit, and says how long to wait', () => {
    let now = 0;
    const limiter = new WindowLimiter(2, 10_000, () => now);
    expect(limiter.hit('u')).toBe(0);
    now = 9000;
    expect(limiter.hit('v')).toBe(0);
    expect(limiter.hit('u')).toBe(0);
    expect(limiter.hit('u')).toBe(1);
    // The table rotated at 10 s, but v's window (9 s .. 19 s) still holds.
    now = 12_000;
    expect(limiter.hit('u')).toBe(0);
    expect(limiter.hit('v')).toBe(0);
    expect(limiter.hit('v')).toBe(7);
    now = 19_000;
    expect(limiter.hit('v')).toBe(0);
  });

  it('forgets keys not seen for two windows', () => {
    let now = 0;
    const limiter = new WindowLimiter(1, 1000, () => now);
    limiter.hit('a');
    now = 5000;
    limiter.hit('b');
    const tables = limiter as unknown as { current: Map<string, unknown>; previous: Map<string, unknown> };
    expect([...tables.current.keys(), ...tables.previous.keys()]).toEqual(['b']);
  });
});
