import { describe, expect, it } from '@jest/globals';
import type { Connection } from './connection.js';
import { ReplayBudget } from './replay-budget.js';

const conn = () => ({}) as Connection;

describe('ReplayBudget', () => {
  it('covers replays up to its capacity, then refills at capacity per window', () => {
    const budget = new ReplayBudget(10, 1000);
    const c = conn();
    expect(budget.charge(c, 6, 0)).toBe(true);
    expect(budget.charge(c, 5, 0)).toBe(false); // 4 left: nothing charged
    expect(budget.charge(c, 4, 0)).toBe(true);
    expect(budget.exhausted(c, 0)).toBe(true);
    expect(budget.charge(c, 0, 0)).toBe(true); // an empty replay costs nothing
    expect(budget.exhausted(c, 100)).toBe(false); // one message back after a tenth of the window
    expect(budget.charge(c, 2, 100)).toBe(false);
    expect(budget.charge(c, 2, 200)).toBe(true);
  });

  it('allows a replay larger than the whole budget only when full, and keeps the debt', () => {
    const budget = new ReplayBudget(10, 1000);
    const fresh = conn();
    expect(budget.charge(fresh, 25, 0)).toBe(true);
    expect(budget.exhausted(fresh, 1000)).toBe(true); // -15 + 10
    expect(budget.exhausted(fresh, 1600)).toBe(false);
  });

  it('keeps one budget per connection', () => {
    const budget = new ReplayBudget(5, 1000);
    const a = conn();
    const b = conn();
    expect(budget.charge(a, 5, 0)).toBe(true);
    expect(budget.exhausted(a, 0)).toBe(true);
    expect(budget.exhausted(b, 0)).toBe(false);
  });
});
