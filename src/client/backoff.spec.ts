import { backoffDelay } from './backoff.js';
import { tokenExpiryMs } from './token.js';

describe('backoffDelay (full jitter)', () => {
  const options = { minMs: 250, maxMs: 10_000 };

  it('draws between 0 and the exponential ceiling', () => {
    expect(backoffDelay(0, options, () => 0)).toBe(0);
    expect(backoffDelay(0, options, () => 0.999999)).toBe(249);
    expect(backoffDelay(3, options, () => 0.5)).toBe(1000); // ceiling 250 * 2^3 = 2000
  });

  it('never exceeds maxMs, however many attempts', () => {
    expect(backoffDelay(5, options, () => 0.999999)).toBe(7999);
    expect(backoffDelay(6, options, () => 0.999999)).toBe(9999);
    expect(backoffDelay(1000, options, () => 0.999999)).toBe(9999);
  });
});

describe('tokenExpiryMs', () => {
  const jwt = (claims: object) =>
    `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

  it('reads exp (seconds) as epoch milliseconds', () => {
    expect(tokenExpiryMs(jwt({ sub: 'a', exp: 1700000000 }))).toBe(1700000000_000);
  });

  it('is undefined without a readable exp', () => {
    expect(tokenExpiryMs(jwt({ sub: 'a' }))).toBeUndefined();
    expect(tokenExpiryMs('not-a-jwt')).toBeUndefined();
    expect(tokenExpiryMs('a.!!!.c')).toBeUndefined();
  });
});
