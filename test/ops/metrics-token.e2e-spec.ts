import { loadConfig } from '../../src/config/config.js';
import { startApp, type TestApp } from '../harness/index.js';

/** METRICS_TOKEN: /metrics only with `Authorization: Bearer <METRICS_TOKEN>`; the probes stay open. */
describe('METRICS_TOKEN', () => {
  const token = 'metrics-token-0123456789abcdef';
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ METRICS_TOKEN: token });
  });
  afterAll(async () => {
    await t?.close();
  });

  const scrape = async (authorization?: string) => {
    const res = await fetch(`${t.httpUrl}/metrics`, {
      headers: authorization === undefined ? {} : { authorization },
    });
    return { status: res.status, text: await res.text(), challenge: res.headers.get('www-authenticate') };
  };

  it('answers 401 without the token or with another one, and the metrics with it', async () => {
    for (const auth of [undefined, 'Bearer wrong', `Bearer ${token}x`, token, `Basic ${token}`]) {
      const r = await scrape(auth);
      expect({ auth, status: r.status }).toEqual({ auth, status: 401 });
      expect(r.challenge).toMatch(/^Bearer/);
      expect(r.text).not.toContain('gateway_connections');
    }
    const ok = await scrape(`Bearer ${token}`);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('gateway_connections');
    expect((await fetch(`${t.httpUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${t.httpUrl}/healthz`)).status).toBe(200);
  });

  it('refuses a short token at boot', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: at least 16 characters/);
  });
});
