import type { Connection } from './connection.js';

/**
 * Per-connection budget of replayed history messages (REPLAY_BUDGET_MESSAGES per
 * REPLAY_BUDGET_WINDOW_MS): a bucket that holds at most `capacity` messages and refills at
 * capacity/window. A join's replay is allowed while the bucket holds what it replays, or at least a
 * full bucket's worth for a replay larger than the bucket, so that a room whose history is larger than
 * the budget can still be joined once per window; the whole replay is then charged and the bucket
 * may go below zero (the debt is repaid by the refill). Repeated rejoins with `since`/`last` cost
 * encoding and bandwidth for every message replayed: this bounds that per connection.
 *
 * Kept beside the connection in a WeakMap, created on the first replay: connections that never ask
 * for history carry nothing.
 */
export class ReplayBudget {
  private readonly budgets = new WeakMap<Connection, { tokens: number; last: number }>();
  private readonly perMs: number;

  constructor(
    readonly capacity: number,
    readonly windowMs: number,
  ) {
    this.perMs = capacity / windowMs;
  }

  /** Whether the connection has anything left to replay now (checked before reading history). */
  exhausted(c: Connection, now: number): boolean {
    return this.level(c, now) < 1;
  }

  /**
   * Charges a replay of `count` messages; false (and nothing charged) when the budget does not cover
   * it. A replay of 0 messages is always allowed.
   */
  charge(c: Connection, count: number, now: number): boolean {
    if (count === 0) return true;
    const tokens = this.level(c, now);
    if (tokens < Math.min(count, this.capacity)) return false;
    this.budgets.get(c)!.tokens = tokens - count;
    return true;
  }

  /** Refills and returns the connection's budget. */
  private level(c: Connection, now: number): number {
    let b = this.budgets.get(c);
    if (b === undefined) {
      b = { tokens: this.capacity, last: now };
      this.budgets.set(c, b);
      return b.tokens;
    }
    const elapsed = now - b.last;
    if (elapsed > 0) {
      b.tokens = Math.min(this.capacity, b.tokens + elapsed * this.perMs);
      b.last = now;
    }
    return b.tokens;
  }
}
