import { GatewayProcess, join as joinRoom, poll, TestClient, userToken } from '../harness/index.js';

/**
 * `kill -TERM` on a loaded instance (`node dist/main.js` as a child process; `npm run build` first):
 * no acked message is lost and every client sees 1001 "going away", and the process exits within
 * SHUTDOWN_GRACE_MS.
 */
describe('graceful drain on SIGTERM (child process)', () => {
  let gw: GatewayProcess | undefined;
  afterEach(async () => {
    await gw?.kill();
  });

  it('loses no acked message and closes every client 1001 "going away"', async () => {
    const GRACE = 6000;
    gw = await GatewayProcess.start({
      env: {
        SHUTDOWN_GRACE_MS: String(GRACE),
        DRAIN_SPREAD_MS: '1000',
        RATE_LIMIT_PER_SEC: '1000',
        SEND_QUEUE_MESSAGES: '100000',
        SEND_QUEUE_BYTES: String(64 * 1024 * 1024),
        MAX_CONNECTIONS_PER_IP: '0',
      },
    });
    const url = `ws://127.0.0.1:${gw.port}/ws`;
    const N = 16;
    const clients = await Promise.all(
      Array.from({ length: N }, (_, i) => TestClient.connect(url, { token: userToken(`load-${i}`) })),
    );
    for (const c of clients) await joinRoom(c, 'busy');

    // Load: every client sends a message every 10 ms until its socket closes.
    let stop = false;
    const senders = clients.map((c, i) => {
      let n = 0;
      const timer = setInterval(() => {
        if (stop || c.closeEvent || c.ws.readyState !== c.ws.OPEN) return;
        c.send({ type: 'message', room: 'busy', content: `c${i} m${n}`, id: `c${i}-${n++}` });
      }, 10);
      return timer;
    });
    try {
      await Promise.all(clients.map((c) => c.waitFor('ack', 10, 10000))); // load has built up
      const killedAt = Date.now();
      gw.proc.kill('SIGTERM');
      const closes = await Promise.all(clients.map((c) => c.closed(GRACE + 2000)));
      const exit = await gw.exited;
      const exitedAfter = Date.now() - killedAt;
      stop = true;

      // Every client saw 1001 "going away"; the process exited cleanly within the grace.
      for (const close of closes) expect(close).toEqual({ code: 1001, reason: 'going away' });
      expect(exit).toBe(0);
      expect(exitedAfter).toBeLessThan(GRACE + 1000);

      // No acked message lost: each client received every room message up to the last it saw,
      // with no gap and no duplicate, and that includes every message it got an ack for.
      let acked = 0;
      for (const c of clients) {
        const seqs = c.all('message').map((m) => m.seq as number);
        const first = seqs[0];
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => first + k));
        const received = new Set(c.all('message').map((m) => m.id as string));
        for (const ack of c.all('ack')) {
          acked++;
          expect(received.has(ack.id as string)).toBe(true);
        }
      }
      expect(acked).toBeGreaterThan(N * 10);
      // And every acked seq (from anyone) was delivered to every client that stayed past it.
      const ackedSeqs = clients.flatMap((c) => c.all('ack').map((a) => a.seq as number));
      for (const c of clients) {
        const seqs = new Set(c.all('message').map((m) => m.seq as number));
        const last = Math.max(...seqs);
        for (const s of ackedSeqs) if (s <= last) expect(seqs.has(s)).toBe(true);
      }
      expect(gw.output.join('\n')).toContain('"msg":"drained"');
    } finally {
      stop = true;
      for (const t of senders) clearInterval(t);
      for (const c of clients) c.terminate();
    }
  }, 30000);

  it('answers 503 to new upgrades and /readyz while draining, then exits', async () => {
    gw = await GatewayProcess.start({ env: { SHUTDOWN_GRACE_MS: '4000', DRAIN_SPREAD_MS: '1500' } });
    const url = `ws://127.0.0.1:${gw.port}/ws`;
    const holder = await TestClient.connect(url, { token: userToken('holder') });
    gw.proc.kill('SIGTERM');
    await poll(
      async () => (await fetch(`http://127.0.0.1:${gw!.port}/readyz`)).status === 503,
      2000,
      'readyz 503',
    );
    const late = await TestClient.connect(url, { token: userToken('late') }).catch((e) => e);
    expect(late.status).toBe(503);
    expect(await holder.closed(5000)).toEqual({ code: 1001, reason: 'going away' });
    expect(await gw.exited).toBe(0);
  }, 20000);

  // The other shutdown signals close at once. An open WebSocket used to keep the HTTP server's
  // close waiting, and the process never exited.
  it.each(['SIGHUP', 'SIGQUIT'] as const)(
    'closes every client 1001 at once on %s and exits with the signal',
    async (signal) => {
      gw = await GatewayProcess.start({ env: { SHUTDOWN_GRACE_MS: '20000', DRAIN_SPREAD_MS: '10000' } });
      const url = `ws://127.0.0.1:${gw.port}/ws`;
      const clients = await Promise.all(
        ['a', 'b', 'c'].map((u) => TestClient.connect(url, { token: userToken(u) })),
      );
      const killedAt = Date.now();
      gw.proc.kill(signal);
      for (const c of clients) expect(await c.closed(3000)).toEqual({ code: 1001, reason: 'going away' });
      expect(await gw.exited).toBe(signal);
      expect(Date.now() - killedAt).toBeLessThan(3000);
    },
    15000,
  );
});
