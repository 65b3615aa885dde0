/**
 * A token bucket: `rate` tokens per second, holding at most `burst`. Starts full. The server charges
 * every client frame to one (RATE_LIMIT_PER_SEC); the typed client paces its writes with one set a
 * little below the server's rate, so a paced frame is never refused.
 *
 * `now` must come from a monotonic clock (`performance.now()`): with the wall clock, a step back
 * froze the refill until the clock caught up again, and a step forward refilled it at once.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token if there is one. Runs per client frame: the refill is written out, not called. */
  take(now: number): boolean {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Milliseconds until `take` can succeed: 0 now, else at least 1 (Infinity at rate 0). */
  waitMs(now: number): number {
    const elapsed = Math.max(0, now - this.last);
    const tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
    if (tokens >= 1) return 0;
    return Math.max(1, Math.ceil(((1 - tokens) * 1000) / this.rate));
  }
}
