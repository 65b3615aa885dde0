import { createHmac } from 'node:crypto';
import { hookSignature, verifyHookSignature } from './hook-signature.js';

describe('hook signature', () => {
  it('is sha256= and the hex HMAC of "<timestamp>.<body>"', () => {
    const body = '{"allow":true}';
    const expected = createHmac('sha256', 'k')
      .update('1700000000.' + body)
      .digest('hex');
    expect(hookSignature('k', '1700000000', body)).toBe(`sha256=${expected}`);
    expect(verifyHookSignature('k', '1700000000', body, `sha256=${expected}`)).toBe(true);
    expect(verifyHookSignature('k', '1700000001', body, `sha256=${expected}`)).toBe(false);
    expect(verifyHookSignature('other', '1700000000', body, `sha256=${expected}`)).toBe(false);
    expect(verifyHookSignature('k', '1700000000', body, 'sha256=00')).toBe(false);
  });
});
