import { join } from 'node:path';
import { GatewayProcess, poll, PROJECT_ROOT, TestClient, userToken } from '../harness/index.js';

/**
 * Steps of the gateway's wall clock (a preloaded module moves Date.now() on SIGWINCH; the monotonic
 * clock is untouched): heartbeats, close deadlines and rate limits run on the monotonic clock, so a
 * step forward of 150 s terminates no healthy connection (it once terminated all of them: two
 * heartbeats of silence, as the wall clock saw it) and a step back of 300 s does not freeze the rate
 * limit (the bucket once refilled only when the wall clock had caught up again).
 */
const PRELOAD = join(PROJECT_ROOT, 'test', 'harness', 'clock-step.mjs');

async function startStepped(stepMs: number, env: Record<string, string>): Promise<GatewayProcess> {
  return GatewayProcess.start({
    env: { NODE_OPTIONS: `--import ${PRELOAD}`, CLOCK_STEP_MS: String(stepMs), ...env },
  });
}

async function stepClock(gw: GatewayProcess): Promise<void> {
  const before = gw.output.filter((l) => l.includes('clock stepped')).length;
  gw.proc.kill('SIGWINCH');
  await poll(() => gw.output.filter((l) => l.includes('clock stepped')).length > before, 5000, 'the step');
}

describe('wall-clock steps', () => {
  const gateways: GatewayProcess[] = [];
  const clients: TestClient[] = [];
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(gateways.map((g) => g.stop()));
  });

  it('a step of +150 s terminates no healthy connection', async () => {
    const HEARTBEAT = 300;
    const gw = await startStepped(150_000, { HEARTBEAT_MS: String(HEARTBEAT) });
    gateways.push(gw);
    const c = await TestClient.connect(gw.wsUrl, { token: userToken('steady') });
    clients.push(c);
    let pings = 0;
    c.ws.on('ping', () => pings++);
    await stepClock(gw);
    const after = pings;
    // Several heartbeats (each one a sweep that checks the connection's last sign of life).
    await poll(() => pings >= after + 4 || c.closeEvent !== null, 10 * HEARTBEAT, 'four heartbeats');
    expect(c.closeEvent).toBeNull();
    await c.roundTrip();
  });

  it('a step of -300 s does not freeze the rate limit', async () => {
    const RATE = 5;
    const gw = await startStepped(-300_000, { RATE_LIMIT_PER_SEC: String(RATE), ERROR_LIMIT: '1000' });
    gateways.push(gw);
    const c = await TestClient.connect(gw.wsUrl, { token: userToken('steady') });
    clients.push(c);
    await stepClock(gw);
    // Empty the bucket: the burst is RATE frames.
    for (let i = 0; i < 2 * RATE; i++) c.send({ type: 'ping', id: `burst-${i}` });
    await c.find((f) => f.type === 'error' && f.code === 'rate_limited', 'rate_limited');
    // One frame every 250 ms: with the refill running, one is answered within a second or so.
    let n = 0;
    const from = c.frames.length;
    const timer = setInterval(() => c.send({ type: 'ping', id: `later-${n++}` }), 250);
    try {
      const pong = await c.find(
        (f) => f.type === 'pong' && typeof f.id === 'string' && f.id.startsWith('later-'),
        'a pong after the bucket refilled',
        4000,
        from,
      );
      expect(pong.type).toBe('pong');
    } finally {
      clearInterval(timer);
    }
  });
});
