// Reconnect delays: exponential backoff with "full jitter" (a uniform draw between 0 and the capped
// exponential), so that many clients dropped at once by a restart do not come back in lockstep.

export interface BackoffOptions {
  /** Ceiling of the first delay, in ms. */
  minMs: number;
  /** Cap of every delay, in ms. */
  maxMs: number;
}

/** Delay before attempt number `attempt` (0 for the first retry). */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt, 0), 30);
  const ceiling = Math.min(options.maxMs, options.minMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}
