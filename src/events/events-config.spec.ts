import { type ConfigError, loadConfig } from '../config/config.js';

/** The events and webhook settings of loadConfig. */
describe('events and webhook settings', () => {
  const base = { NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32) };
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadConfig({ ...base, ...env });
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };

  it('defaults: grace 5000, a stream of about 1,000,000 entries, no webhooks', () => {
    const c = loadConfig(base);
    expect(c.presenceGraceMs).toBe(5000);
    expect(c.eventsMaxlen).toBe(1_000_000);
    expect(c.webhook).toBeUndefined();
  });

  it('WEBHOOK_URL with a secret: the default types and delivery settings', () => {
    const c = loadConfig({ ...base, WEBHOOK_URL: 'https://h.example/x', WEBHOOK_SECRET: 's' });
    expect(c.webhook).toEqual({
      url: 'https://h.example/x',
      secret: 's',
      events: ['message', 'online', 'offline', 'joined', 'left'],
      batch: 100,
      batchMs: 100,
      timeoutMs: 5000,
      maxRetrySec: 3600,
      buffer: 100000,
    });
  });

  it('a URL without a secret refuses to start, and so do unknown types and a bad URL', () => {
    expect(problems({ WEBHOOK_URL: 'https://h.example/x' })).toEqual([
      'WEBHOOK_URL needs WEBHOOK_SECRET (the key of X-Gateway-Signature)',
    ]);
    expect(problems({ WEBHOOK_SECRET: 's' })).toEqual(['WEBHOOK_SECRET is set without WEBHOOK_URL']);
    expect(
      problems({ WEBHOOK_URL: 'ftp://h', WEBHOOK_SECRET: 's', WEBHOOK_EVENTS: 'message,typing' }),
    ).toEqual([
      expect.stringContaining('WEBHOOK_EVENTS: unknown type(s) typing'),
      'WEBHOOK_URL: expected http://… or https://…',
    ]);
  });

  it('with Redis, webhooks need the stream', () => {
    expect(
      problems({
        REDIS_URL: 'redis://127.0.0.1:6379',
        EVENTS_MAXLEN: '0',
        WEBHOOK_URL: 'http://h/x',
        WEBHOOK_SECRET: 's',
      }),
    ).toEqual([expect.stringContaining('EVENTS_MAXLEN=0')]);
  });

  it('the secret never appears in an error message', () => {
    const secret = 'very-secret-value';
    expect(problems({ WEBHOOK_URL: 'nope', WEBHOOK_SECRET: secret }).join(' ')).not.toContain(secret);
  });
});
