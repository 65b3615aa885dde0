// Stores the gateway's chat messages in PostgreSQL, reading the event stream with a consumer group
// (docs/operations.md, "Consuming the event stream"). Run as many copies as you like with distinct
// CONSUMER names: each event is handled by one of them, and what a crashed copy had read but not
// acknowledged is taken over by another after CLAIM_IDLE_MS.
//
//   REDIS_URL=redis://127.0.0.1:6379 STREAM=gw:events GROUP=pg-store CONSUMER=store-1 \
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test TABLE=chat_messages node examples/pg-consumer.mjs
import { Redis } from 'ioredis';
import pg from 'pg';

const env = process.env;
const stream = env.STREAM ?? 'gw:events';
const group = env.GROUP ?? 'pg-store';
const consumer = env.CONSUMER ?? `store-${process.pid}`;
const table = env.TABLE ?? 'chat_messages';
const claimIdleMs = Number(env.CLAIM_IDLE_MS ?? 60000);
if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`TABLE=${table}: expected a plain SQL identifier`);

const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const db = new pg.Pool({ connectionString: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });

await db.query(`CREATE TABLE IF NOT EXISTS ${table} (
  room text NOT NULL, epoch text NOT NULL, seq bigint NOT NULL,
  id text NOT NULL, sender_id text NOT NULL, sender_name text NOT NULL,
  content text NOT NULL, sent_at timestamptz NOT NULL,
  PRIMARY KEY (room, epoch, seq))`);
try {
  // '0': a new group starts with what the stream still holds; '$' would start with new events only.
  await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
} catch (err) {
  if (!String(err.message).startsWith('BUSYGROUP')) throw err;
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => (stopping = true));

/** Inserts the batch's messages (a repeat of (room, epoch, seq) is ignored), then acknowledges it. */
async function store(entries) {
  if (entries.length === 0) return;
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    for (const [, fields] of entries) {
      if (fields === null) continue; // trimmed from the stream before it was read
      const f = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
      if (f.type !== 'message') continue;
      const m = JSON.parse(f.data);
      await client.query(
        `INSERT INTO ${table} VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8 / 1000.0))
         ON CONFLICT (room, epoch, seq) DO NOTHING`,
        [m.room, m.epoch, m.seq, m.id, m.sender.id, m.sender.name, m.content, m.time],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
  await redis.xack(stream, group, ...entries.map(([id]) => id));
}

while (!stopping) {
  // Entries another consumer read and did not acknowledge for CLAIM_IDLE_MS (it crashed).
  const [, claimed] = await redis.xautoclaim(stream, group, consumer, claimIdleMs, '0-0', 'COUNT', 100);
  await store(claimed);
  // This consumer's own unacknowledged entries first (after a restart), then new ones.
  for (const from of ['0', '>']) {
    const reply = await redis.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      100,
      'BLOCK',
      1000,
      'STREAMS',
      stream,
      from,
    );
    const entries = reply?.[0]?.[1] ?? [];
    await store(entries);
    if (entries.length > 0) break;
  }
}
await Promise.all([redis.quit(), db.end()]);
