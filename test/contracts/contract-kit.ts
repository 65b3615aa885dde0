/**
 * Helpers shared by the contract suites (*.contract.ts). Test-only; nothing in the app imports it.
 * Waits are the harness's `poll` (test/harness/wait.ts): the Redis implementations deliver
 * asynchronously and announce nothing.
 */

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A room message without its seq, as the hub hands it to `Broker.publish`. */
export const sender = { id: 'u1', name: 'User 1' };
export const msg = (room: string, content: string, id = uniqueName('m')) => ({
  id,
  room,
  time: Date.now(),
  sender,
  content,
});
export const range = (from: number, to: number): number[] =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
