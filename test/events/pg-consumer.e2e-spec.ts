import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import {
  connectAs as connect,
  deleteKeys,
  GatewayProcess,
  join as joinRoom,
  poll,
  PROJECT_ROOT,
  SHARED_REDIS_URL,
  type TestClient,
  uniquePrefix,
} from '../harness/index.js';

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * The consumer example of docs/operations.md (examples/pg-consumer.mjs), run for real against
 * PostgreSQL and two gateways, one SIGKILLed mid-stream: every acked message is in its table once.
 */
describe('the PostgreSQL consumer example', () => {
  const prefix = uniquePrefix();
  const table = `gw_events_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const env = {
    REDIS_URL: SHARED_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    PRESENCE_TTL_MS: '1500',
    AUTH_DEV_TOKENS: 'false',
    RATE_LIMIT_PER_SEC: '100000',
  };
  let x: GatewayProcess;
  let y: GatewayProcess;
  let consumer: ChildProcess | null = null;
  let consumerExit: Promise<number | null> = Promise.resolve(null);
  let consumerOutput = '';
  const db = new pg.Client({ connectionString: DATABASE_URL });
  const clients: TestClient[] = [];
  const track = (c: TestClient) => (clients.push(c), c);

  beforeAll(async () => {
    await db.connect();
    [x, y] = await Promise.all([GatewayProcess.start({ env }), GatewayProcess.start({ env })]);
    consumer = spawn(process.execPath, [join(PROJECT_ROOT, 'examples', 'pg-consumer.mjs')], {
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_URL: SHARED_REDIS_URL,
        STREAM: `${prefix}events`,
        GROUP: 'pg-store',
        CONSUMER: 'store-1',
        DATABASE_URL,
        TABLE: table,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    consumer.stdout!.on('data', (d: Buffer) => (consumerOutput += d.toString()));
    consumer.stderr!.on('data', (d: Buffer) => (consumerOutput += d.toString()));
    const child = consumer;
    consumerExit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }, 30000);
  afterAll(async () => {
    for (const c of clients) c.terminate();
    if (consumer?.exitCode === null) consumer.kill('SIGTERM');
    await consumerExit;
    await Promise.all([x?.kill(), y?.kill()]);
    await db.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await db.end();
    await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  it('stores every acked message exactly once although an instance was SIGKILLed mid-stream', async () => {
    let a = track(await connect(x.wsUrl, 'a'));
    const b = track(await connect(y.wsUrl, 'b'));
    await joinRoom(a, 'h');
    await joinRoom(b, 'h');
    const acked = new Map<string, number>();
    const record = (c: TestClient, user: string) => {
      for (const f of c.all('ack')) acked.set(`${user}/${f.id}`, f.seq);
    };
    const say = (c: TestClient, user: string, i: number) =>
      c.send({ type: 'message', room: 'h', content: `${user}${i}`, id: `${user}${i}` });

    for (let i = 1; i <= 200; i++) say(b, 'b', i);
    for (let i = 1; i <= 200; i++) say(a, 'a', i);
    await a.next('ack', 5000, (f) => f.id === 'a50');
    await x.kill('SIGKILL');
    await a.closed();
    record(a, 'a');
    const missing = [];
    for (let i = 1; i <= 200; i++) if (!acked.has(`a/a${i}`)) missing.push(i);
    a = track(await connect(y.wsUrl, 'a'));
    await joinRoom(a, 'h');
    for (const i of missing) say(a, 'a', i);
    await a.waitFor('ack', missing.length, 10_000);
    await b.waitFor('ack', 200, 10_000);
    record(a, 'a');
    record(b, 'b');
    expect(acked.size).toBe(400);

    const count = async () => Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    await poll(
      async () => (await count().catch(() => 0)) >= 400,
      20_000,
      `400 rows (consumer: ${consumerOutput})`,
    );
    const rows = (await db.query(`SELECT room, seq, id, sender_id FROM ${table}`)).rows as {
      room: string;
      seq: string;
      id: string;
      sender_id: string;
    }[];
    expect(rows.length).toBe(400);
    const stored = new Map(rows.map((r) => [`${r.sender_id}/${r.id}`, Number(r.seq)]));
    expect(stored).toEqual(acked);
    expect(consumer?.exitCode).toBeNull();
  }, 60000);
});
