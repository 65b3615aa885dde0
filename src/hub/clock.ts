/**
 * The clock for durations (heartbeats, close deadlines, error windows, token buckets, drain
 * deadlines): milliseconds from a monotonic origin, unaffected by steps of the wall clock (NTP, a VM
 * resumed, an operator's `date -s`). A step of the wall clock must neither terminate healthy
 * connections (a step forward looked like minutes of silence) nor freeze rate limits (a step back
 * looked like no time passing). Epoch times the protocol carries (a message's `time`, a token's
 * `exp`) stay on `Date.now()`.
 */
export function monotonicNow(): number {
  return performance.now();
}
