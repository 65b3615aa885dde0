import { startApp, type TestApp } from '../harness/index.js';

/**
 * /metrics keeps prom-client's process metrics but none that lists every handle or resource of the
 * process at each scrape (their cost grows with the number of connected sockets).
 */
describe('/metrics default metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('has no nodejs_active_handles / nodejs_active_resources, and still the fd count', async () => {
    const text = await (await fetch(`${t.httpUrl}/metrics`)).text();
    const names = new Set(
      text
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => /^[a-zA-Z_:][\w:]*/.exec(l)![0]),
    );
    for (const listing of ['nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_resources'])
      expect(names).not.toContain(listing);
    expect(names).toContain('process_open_fds');
    expect(names).toContain('gateway_connections');
  });
});
