// Verifies a gateway webhook request (docs/operations.md, "Webhooks").
// `rawBody` is the request body exactly as received (a string or Buffer), before any JSON parsing.
import { createHmac, timingSafeEqual } from 'node:crypto';

export function verifyGatewayWebhook(secret, headers, rawBody, nowSec = Math.floor(Date.now() / 1000)) {
  const timestamp = Number(headers['x-gateway-timestamp']);
  if (!Number.isInteger(timestamp) || Math.abs(nowSec - timestamp) > 300) return false; // replay window: 5 min
  const expected = 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
  const given = String(headers['x-gateway-signature'] ?? '');
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
