import { GatewayProcess, poll, PrivateRedis, readyz } from '../harness/index.js';

/**
 * A hung Redis (SIGSTOP: the port still accepts connections, nothing answers) turns readiness off
 * within 3 s: readiness follows a periodic PING with a timeout, not the socket's state. SIGCONT
 * brings it back.
 */
describe('hung Redis and readiness', () => {
  const redis = new PrivateRedis();
  let gw: GatewayProcess | undefined;

  beforeAll(() => redis.start());
  afterAll(async () => {
    await gw?.stop();
    await redis.dispose();
  });

  it('answers 503 within 3 s of SIGSTOP and 200 again after SIGCONT', async () => {
    gw = await GatewayProcess.start({
      env: { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `hang-${process.pid}:` },
    });
    const http = gw.httpUrl;
    await poll(async () => (await readyz(http)) === 200, 10000, '/readyz 200');

    redis.signal('SIGSTOP');
    const stopped = Date.now();
    await poll(async () => (await readyz(http)) === 503, 5000, '/readyz 503 after SIGSTOP');
    expect(Date.now() - stopped).toBeLessThan(3000);

    redis.signal('SIGCONT');
    await poll(async () => (await readyz(http)) === 200, 10000, '/readyz 200 after SIGCONT');
    expect(gw.proc.exitCode).toBeNull();
  }, 30000);
});
