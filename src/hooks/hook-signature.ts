import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signature of a hook request: `sha256=` and the hex HMAC-SHA256, keyed with HOOK_SECRET, of
 * `<timestamp>.<raw body>`, the timestamp being the X-Gateway-Timestamp header (epoch seconds).
 * Binding the timestamp lets a receiver refuse replays of old requests.
 */
export function hookSignature(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** Checks a signature in constant time (what a receiver does; the tests use it). */
export function verifyHookSignature(
  secret: string,
  timestamp: string,
  body: string,
  signature: string,
): boolean {
  const expected = Buffer.from(hookSignature(secret, timestamp, body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
