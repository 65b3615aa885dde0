import type { Principal } from './principal.js';

/**
 * A revocation: the token with `jti` (until `until`, its `exp`), or every token of `sub` issued
 * before `until` (`iat < until`). Times in epoch seconds, like the claims.
 */
export interface Revocation {
  sub?: string;
  jti?: string;
  until: number;
}

/**
 * Revoked tokens, cluster-wide with Redis (keys that expire by themselves), in memory without it.
 * `check` answers whether a principal's token is revoked; it rejects when the store is unreachable.
 */
export interface RevocationStore {
  revoke(r: Revocation, nowSec: number): Promise<void>;
  check(principal: Principal): Promise<boolean>;
  close(): Promise<void>;
}

export const REVOCATIONS = Symbol('REVOCATIONS');

/** Whether a revocation covers a principal's token (the live-connection check on every instance). */
export function revokes(r: Revocation, p: Principal): boolean {
  if (r.jti !== undefined && p.jti === r.jti) return true;
  if (r.sub !== undefined && p.id === r.sub) return p.iat == null || p.iat < r.until;
  return false;
}

/**
 * How long a revocation must be kept: a jti until `until`; a user's tokens issued before `until`
 * until the last of them can have expired (`until` + TOKEN_MAX_LIFETIME_SEC). Seconds from now;
 * 0 or less means there is nothing left to refuse.
 */
export function revocationTtlSec(r: Revocation, nowSec: number, maxLifetimeSec: number): number {
  const jti = r.jti !== undefined ? r.until - nowSec : 0;
  const sub = r.sub !== undefined ? r.until + maxLifetimeSec - nowSec : 0;
  return Math.max(jti, sub);
}
