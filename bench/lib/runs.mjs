// Repeated measurements of one server in one scenario (bench/run.mjs, the fan-out scenarios' second pass).

/**
 * Of two measurements of one server in one scenario, the one that sustained more deliveries/s (a
 * run where no step passed loses), with `runs` (each run's sustained rate and p99, null where no
 * step passed, in the order measured) and `run` (which one it is, from 1).
 * @param {any} first
 * @param {any} second
 */
export function betterRun(first, second) {
  const rate = (r) => r?.best?.deliveredPerSec ?? -1;
  const pick = rate(second) > rate(first) ? second : first;
  const runs = [first, second].map((r) =>
    r?.best ? { deliveredPerSec: r.best.deliveredPerSec, p99Ms: r.best.p99Ms } : null,
  );
  return { ...pick, runs, run: pick === first ? 1 : 2 };
}

/**
 * A server's runs as the log and the notes show them: `2.16M then 1.51M` (`none` where no step
 * passed).
 * @param {{ runs: ({ deliveredPerSec: number } | null)[] }} r
 */
export function runsText(r) {
  return r.runs.map((x) => (x === null ? 'none' : `${(x.deliveredPerSec / 1e6).toFixed(2)}M`)).join(' then ');
}
