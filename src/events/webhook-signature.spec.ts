// @ts-expect-error: a plain JavaScript example without types (docs/operations.md quotes it)
import { verifyGatewayWebhook } from '../../examples/verify-webhook.mjs';
import { signWebhook, verifyWebhook } from './webhook-signature.js';

const verifyExample = verifyGatewayWebhook as (
  secret: string,
  headers: Record<string, string>,
  rawBody: string,
  nowSec?: number,
) => boolean;

describe('webhook signatures', () => {
  const secret = 'webhook-secret';
  const body = JSON.stringify({ events: [{ id: '1-0', type: 'message', data: { content: 'hi' } }] });
  const now = 1_800_000_000;
  const headers = (ts: number, b = body) => ({
    'x-gateway-timestamp': String(ts),
    'x-gateway-signature': signWebhook(secret, ts, b),
  });

  it('is sha256=<hex HMAC of "<timestamp>.<body>">', () => {
    // Computed independently: printf '12.b' | openssl dgst -sha256 -hmac k
    expect(signWebhook('k', 12, 'b')).toBe(
      'sha256=091ec40349a8c733b1b0f8824ab1c57b307e7204f9874ca5f37d9c8e35a19bdd',
    );
  });

  for (const [name, verify] of [
    [
      'the server-side helper',
      (h: Record<string, string>, b: string, n: number) =>
        verifyWebhook(secret, h['x-gateway-timestamp'], h['x-gateway-signature'], b, n),
    ],
    [
      'the docs example (examples/verify-webhook.mjs)',
      (h: Record<string, string>, b: string, n: number) => verifyExample(secret, h, b, n),
    ],
  ] as const) {
    describe(name, () => {
      it('accepts a fresh, untouched request', () => {
        expect(verify(headers(now), body, now)).toBe(true);
        expect(verify(headers(now - 299), body, now)).toBe(true);
      });
      it('refuses a tampered body', () => {
        expect(verify(headers(now), body.replace('hi', 'ho'), now)).toBe(false);
      });
      it('refuses a timestamp older than 5 minutes (a replay), even correctly signed', () => {
        expect(verify(headers(now - 301), body, now)).toBe(false);
      });
      it('refuses another secret, a changed timestamp and missing headers', () => {
        const h = headers(now);
        expect(verify({ ...h, 'x-gateway-timestamp': String(now - 1) }, body, now)).toBe(false);
        expect(verify({ ...h, 'x-gateway-signature': signWebhook('other', now, body) }, body, now)).toBe(
          false,
        );
        expect(verify({}, body, now)).toBe(false);
      });
    });
  }
});
