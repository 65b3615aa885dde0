import type { Redis } from 'ioredis';
import type { Principal } from '../../auth/principal.js';
import { type Revocation, type RevocationStore, revocationTtlSec } from '../../auth/revocation.js';
import { type SharedConnection, unavailable } from './connection.js';
import { RedisKeys } from './keys.js';

/** Keeps the later of two `until`s of one user; the key expires when no token it covers can live. */
const REVOKE_SUB_LUA = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1
`;

interface ScriptedRedis extends Redis {
  gwRevokeSub(key: string, until: number, ttlSec: number): Promise<unknown>;
}

/**
 * Revocations shared by every instance: `revoked:jti:<jti>` (expires at `until`) and
 * `revoked:sub:<sub>` holding `until` (expires at `until` + TOKEN_MAX_LIFETIME_SEC). A check is one
 * MGET of the two keys.
 */
export class RedisRevocations implements RevocationStore {
  private readonly keys: RedisKeys;
  private readonly redis: ScriptedRedis;

  constructor(
    keyPrefix: string,
    private readonly maxLifetimeSec: number,
    private readonly shared: SharedConnection,
  ) {
    this.keys = new RedisKeys(keyPrefix);
    this.redis = shared.acquire() as ScriptedRedis;
    this.redis.defineCommand('gwRevokeSub', { numberOfKeys: 1, lua: REVOKE_SUB_LUA });
  }

  async revoke(r: Revocation, nowSec: number): Promise<void> {
    try {
      const steps: Promise<unknown>[] = [];
      if (r.jti !== undefined && r.until > nowSec) {
        steps.push(this.redis.set(this.keys.revokedJti(r.jti), '1', 'EX', Math.ceil(r.until - nowSec)));
      }
      if (r.sub !== undefined) {
        const ttl = Math.ceil(revocationTtlSec({ sub: r.sub, until: r.until }, nowSec, this.maxLifetimeSec));
        if (ttl > 0) steps.push(this.redis.gwRevokeSub(this.keys.revokedSub(r.sub), r.until, ttl));
      }
      await Promise.all(steps);
    } catch (err) {
      throw unavailable(err);
    }
  }

  async check(p: Principal): Promise<boolean> {
    let values: (string | null)[];
    try {
      values =
        p.jti != null
          ? await this.redis.mget(this.keys.revokedSub(p.id), this.keys.revokedJti(p.jti))
          : [await this.redis.get(this.keys.revokedSub(p.id))];
    } catch (err) {
      throw unavailable(err);
    }
    if (values[1] != null) return true;
    if (values[0] == null) return false;
    return p.iat == null || p.iat < Number(values[0]);
  }

  close(): Promise<void> {
    return this.shared.release();
  }
}
