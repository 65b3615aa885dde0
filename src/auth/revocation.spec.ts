import type { Principal } from './principal.js';
import { MemoryRevocations } from './revocation-memory.js';
import { revocationTtlSec, revokes } from './revocation.js';

const principal = (id: string, iat: number | null, jti: string | null = null): Principal => ({
  id,
  name: id,
  rooms: null,
  exp: null,
  scopes: [],
  iat,
  jti,
});

describe('revocation', () => {
  it('covers a jti, or the tokens of a user issued before `until`', () => {
    expect(revokes({ jti: 'j1', until: 200 }, principal('u', 100, 'j1'))).toBe(true);
    expect(revokes({ jti: 'j1', until: 200 }, principal('u', 100, 'j2'))).toBe(false);
    expect(revokes({ sub: 'u', until: 200 }, principal('u', 199))).toBe(true);
    expect(revokes({ sub: 'u', until: 200 }, principal('u', 200))).toBe(false);
    expect(revokes({ sub: 'u', until: 200 }, principal('u', null))).toBe(true);
    expect(revokes({ sub: 'u', until: 200 }, principal('v', 1))).toBe(false);
  });

  it('is kept no longer than the tokens it covers can live', () => {
    expect(revocationTtlSec({ jti: 'j', until: 1100 }, 1000, 86400)).toBe(100);
    expect(revocationTtlSec({ sub: 'u', until: 1000 }, 1000, 3600)).toBe(3600);
    expect(revocationTtlSec({ sub: 'u', until: 0 }, 1000, 600)).toBeLessThanOrEqual(0);
  });

  it('in memory: keeps the later `until` of a user and forgets what expired', async () => {
    const store = new MemoryRevocations(100);
    await store.revoke({ sub: 'u', until: 1000 }, 990);
    await store.revoke({ sub: 'u', until: 900 }, 990);
    expect(store.isRevoked(principal('u', 950), 990)).toBe(true);
    expect(store.isRevoked(principal('u', 1000), 990)).toBe(false);
    expect(store.isRevoked(principal('u', 950), 1101)).toBe(false);
    await store.revoke({ jti: 'j', until: 1000 }, 990);
    expect(store.isRevoked(principal('x', 1, 'j'), 999)).toBe(true);
    expect(store.isRevoked(principal('x', 1, 'j'), 1000)).toBe(false);
  });
});
