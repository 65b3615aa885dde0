import { createHmac, timingSafeEqual } from 'node:crypto';

/** Signatures older (or newer) than this are refused by `verifyWebhook`: a replayed body fails. */
export const WEBHOOK_TOLERANCE_SEC = 300;

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`, the X-Gateway-Signature value. */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * The receiver's check (docs/operations.md quotes an equivalent): the signature matches the raw
 * body and the timestamp is within WEBHOOK_TOLERANCE_SEC of `nowSec`.
 */
export function verifyWebhook(
  secret: string,
  timestampHeader: string | undefined,
  signatureHeader: string | undefined,
  rawBody: string,
  nowSec = Math.floor(Date.now() / 1000),
): boolean {
  const timestamp = Number(timestampHeader);
  if (!Number.isInteger(timestamp) || Math.abs(nowSec - timestamp) > WEBHOOK_TOLERANCE_SEC) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, rawBody));
  const given = Buffer.from(signatureHeader ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
