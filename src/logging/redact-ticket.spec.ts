import { REDACTED, scrub } from './redact.js';

describe('scrub: WebSocket tickets', () => {
  it('scrubs a ticket in a query string as it does a token', () => {
    const ticket = 'q3XbQ0m8v9Y2k1Zr7T5u4W6x0A1b2C3d4E5f6G7h8I9';
    expect(scrub(`GET /ws?ticket=${ticket}&rooms=a`)).toBe(`GET /ws?ticket=${REDACTED}&rooms=a`);
    expect(scrub(`GET /ws?rooms=a&ticket=${ticket}`)).toBe(`GET /ws?rooms=a&ticket=${REDACTED}`);
  });
});
