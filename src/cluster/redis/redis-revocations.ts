import type { Principal } from '../../auth/principal.js';
import { type Revocation, type RevocationStore, revocationTtlSec } from '../../auth/revocation.js';
import { isCluster, type RedisClient, type SharedConnection, unavailable } from './connection.js';
import { RedisKeys } from './keys.js';

/** Keeps the later of two `until`s of one user; the key expires when no token it covers can live. */
const REVOKE_SUB_LUA = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1
`;

type ScriptedRedis = RedisClient & {
  gwRevokeSub(key: string, until: number, ttlSec: number): Promise<unknown>;
};

/**
 * Revocations shared by every instance: `revoked:jti:<jti>` (expires at `until`) and
 * `revoked:sub:<sub>` holding `until` (expires at `until` + TOKEN_MAX_LIFETIME_SEC). A check is one
 * MGET of the two keys; in a Redis Cluster (where they live in different slots) two GETs sent together.
 */
export class RedisRevocations implements RevocationStore {
  private readonly keys: RedisKeys;
  private readonly redis: ScriptedRedis;

  constructor(
    keyPrefix: string,
    private readonly maxLifetimeSec: number,
    private readonly shared: SharedConnection,
  ) {
    this.redis = shared.acquire() as ScriptedRedis;
    this.keys = new RedisKeys(keyPrefix, isCluster(this.redis));
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
      const sub = this.keys.revokedSub(p.id);
      if (p.jti == null) values = [await this.redis.get(sub)];
      else if (this.keys.cluster) {
        const jti = this.keys.revokedJti(p.jti);
        values = await Promise.all([this.redis.get(sub), this.redis.get(jti)]);
      } else values = await this.redis.mget(sub, this.keys.revokedJti(p.jti));
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
