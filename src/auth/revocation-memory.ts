import type { Principal } from './principal.js';
import { type Revocation, type RevocationStore } from './revocation.js';

/** Revocations of a single instance: the revoked jtis and, per user, the latest `until`. */
export class MemoryRevocations implements RevocationStore {
  /** jti -> expiry (epoch seconds). */
  private readonly jtis = new Map<string, number>();
  /** sub -> {until, expiry}. */
  private readonly subs = new Map<string, { until: number; expires: number }>();

  constructor(private readonly maxLifetimeSec: number) {}

  revoke(r: Revocation, nowSec: number): Promise<void> {
    this.sweep(nowSec);
    if (r.jti !== undefined && r.until > nowSec) {
      this.jtis.set(r.jti, Math.max(r.until, this.jtis.get(r.jti) ?? 0));
    }
    if (r.sub !== undefined) {
      const cur = this.subs.get(r.sub);
      if (cur === undefined || cur.until < r.until)
        this.subs.set(r.sub, { until: r.until, expires: r.until + this.maxLifetimeSec });
    }
    return Promise.resolve();
  }

  check(p: Principal): Promise<boolean> {
    return Promise.resolve(this.isRevoked(p, Date.now() / 1000));
  }

  isRevoked(p: Principal, nowSec: number): boolean {
    if (this.jtis.size === 0 && this.subs.size === 0) return false;
    if (p.jti != null) {
      const exp = this.jtis.get(p.jti);
      if (exp !== undefined && exp > nowSec) return true;
    }
    const sub = this.subs.get(p.id);
    if (sub !== undefined && sub.expires > nowSec) return p.iat == null || p.iat < sub.until;
    return false;
  }

  close(): Promise<void> {
    this.jtis.clear();
    this.subs.clear();
    return Promise.resolve();
  }

  /** Forgets what has expired (on each revoke: the maps cannot grow past the live revocations). */
  private sweep(nowSec: number): void {
    for (const [k, exp] of this.jtis) if (exp <= nowSec) this.jtis.delete(k);
    for (const [k, s] of this.subs) if (s.expires <= nowSec) this.subs.delete(k);
  }
}
