import {
  GatewayProcess,
  join as joinRoom,
  poll,
  PrivateRedis,
  readyz,
  TestClient,
  userToken,
} from '../harness/index.js';

/** The JSON log lines of a child gateway (pino, level as a label: info, warn, error). */
function entries(lines: string[]): { level: string; msg: string; context?: string }[] {
  return lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: string; msg: string; context?: string });
}

/**
 * A Redis outage is logged as one line when it starts and one when it ends (plus at most one summary
 * a minute, not reached here), whatever the number of connections and reconnect attempts.
 */
describe('Redis outage logging', () => {
  // Persistent: the restart keeps the rooms' history, so nothing but the outage itself is news.
  const redis = new PrivateRedis(true);
  let gw: GatewayProcess | undefined;
  const clients: TestClient[] = [];

  beforeAll(() => redis.start());
  afterAll(async () => {
    for (const c of clients) c.terminate();
    await gw?.stop();
    await redis.dispose();
  });

  it('logs one line when Redis goes away and one when it is back', async () => {
    gw = await GatewayProcess.start({
      env: { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `outage-${process.pid}:` },
    });
    const http = gw.httpUrl;
    await poll(async () => (await readyz(http)) === 200, 10000, '/readyz 200');
    const c = await TestClient.connect(gw.wsUrl, { token: userToken('outage') });
    clients.push(c);
    await joinRoom(c, 'outage');
    await new Promise((r) => setTimeout(r, 1500)); // a quiet moment: every connection is up
    const from = gw.output.length;

    await redis.stop();
    await poll(async () => (await readyz(http)) === 503, 5000, '/readyz 503');
    // Several seconds down: dozens of reconnect attempts over the four connections.
    await new Promise((r) => setTimeout(r, 6000));
    await redis.start();
    await poll(async () => (await readyz(http)) === 200, 10000, '/readyz 200 again');
    // The transport's connections retry every second: the outage ends when the last one is back.
    await new Promise((r) => setTimeout(r, 2500));

    const logged = entries(gw.output.slice(from));
    const text = logged.map((e) => `${e.level} ${e.msg}`).join('\n');
    expect(text.split('\n')).toHaveLength(2);
    expect(logged.filter((e) => e.level === 'error' || e.level === 'fatal')).toEqual([]);
    expect(logged[0]).toMatchObject({ level: 'warn', msg: expect.stringMatching(/unreachable/) });
    expect(logged[1]).toMatchObject({ level: 'info', msg: expect.stringMatching(/reachable again/) });
  }, 40000);
});
