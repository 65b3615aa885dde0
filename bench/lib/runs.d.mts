/** A generator result as bench/run.mjs keeps it: `best` is the fastest passing step, if any. */
export interface ScenarioRun {
  best?: { deliveredPerSec: number; p99Ms: number };
  [field: string]: unknown;
}

export function betterRun<R extends ScenarioRun>(
  first: R,
  second: R,
): R & { runs: ({ deliveredPerSec: number; p99Ms: number } | null)[]; run: 1 | 2 };

export function runsText(r: { runs: ({ deliveredPerSec: number } | null)[] }): string;
