import { RedisKeys } from '../../src/cluster/redis/keys.js';
import { keySlot } from '../../src/cluster/redis/slot.js';
import {
  connectAs as connect,
  connectWithTicket,
  emitHubPublish,
  GatewayProcess,
  poll,
  range,
  readyz,
  RedisClusterSet,
  seqs,
  type TestClient,
  uniquePrefix,
} from '../harness/index.js';
import { WebhookReceiver } from '../events/webhook-receiver.js';

const ROOMS = range(0, 199).map((i) => `c-${i}`);

/**
 * Redis Cluster mode (REDIS_CLUSTER_NODES): three masters and three replicas of the machine's
 * redis-server (ports 7101-7106), two gateways as child processes, 200 rooms spread over the three
 * shards. Every member on both instances gets every message once and in seq order, a room's seq is
 * one counter over both instances, a client resumes on the other instance, presence crosses
 * instances, and a room's shard channel has subscribers on its own shard only. Then one master is
 * killed with SIGKILL while two members keep publishing: in-flight publishes are answered
 * `unavailable`, readiness drops and returns, and after the failover the same holds, with the
 * subscriptions moved to the promoted replica. hub.publish over the Nest transport and a ticket
 * redeemed on the other instance work in Cluster mode too, and so do the event stream and webhooks
 * (message and presence events from the `{events}` slot).
 */
describe('Redis Cluster mode', () => {
  const set = new RedisClusterSet({ firstPort: 7101, nodeTimeoutMs: 1000 });
  const prefix = uniquePrefix();
  const keys = new RedisKeys(prefix, true);
  const receiver = new WebhookReceiver('cluster-webhook-secret');
  let a: GatewayProcess;
  let b: GatewayProcess;
  const clients: TestClient[] = [];
  const track = (c: TestClient) => (clients.push(c), c);
  /** Members on both instances, joined to all 200 rooms. */
  let ma: TestClient;
  let mb: TestClient;
  let epochs: Map<string, string>;
  /** Rooms by the port of the master that owns them now. */
  const roomsByMaster = async (): Promise<Map<number, string[]>> => {
    const ranges = await set.slotRanges();
    const out = new Map<number, string[]>();
    for (const room of ROOMS) {
      const slot = keySlot(keys.meta(room));
      const port = ranges.find((r) => slot >= r.from && slot <= r.to)!.port;
      out.set(port, [...(out.get(port) ?? []), room]);
    }
    return out;
  };

  beforeAll(async () => {
    await Promise.all([set.start(), receiver.start()]);
    const env = {
      ...set.env,
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: 'cluster-webhook-secret',
      WEBHOOK_EVENTS: 'message,online,joined',
      WEBHOOK_BATCH_MS: '20',
      REDIS_KEY_PREFIX: prefix,
      REDIS_COMMAND_TIMEOUT_MS: '1000',
      AUTH_DEV_TOKENS: 'false',
      RATE_LIMIT_PER_SEC: '10000',
      MAX_ROOMS_PER_CONNECTION: '200',
      // The publishers see `unavailable` errors during the failover (and retry them).
      ERROR_LIMIT: '100000',
    };
    [a, b] = await Promise.all([GatewayProcess.start({ env }), GatewayProcess.start({ env })]);
    ma = track(await connect(a.wsUrl, 'ma'));
    mb = track(await connect(b.wsUrl, 'mb'));
    epochs = new Map();
    for (const room of ROOMS) epochs.set(room, (await ma.join(room)).epoch as string);
    for (const room of ROOMS) {
      const joined = await mb.join(room);
      // One epoch on both instances; the member on the other instance is in the snapshot.
      expect([joined.epoch, joined.members.map((m: { id: string }) => m.id).sort()]).toEqual([
        epochs.get(room),
        ['ma', 'mb'],
      ]);
    }
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.terminate();
    await Promise.all([a?.kill(), b?.kill()]);
    await Promise.all([set.dispose(), receiver.down()]);
  });

  /** Sends one message per room from `c` (ids `<tag>-<room>`) and waits for every ack. */
  async function publishEverywhere(c: TestClient, tag: string, rooms = ROOMS): Promise<Map<string, number>> {
    const from = c.frames.length;
    for (const room of rooms) c.send({ type: 'message', room, content: tag, id: `${tag}-${room}` });
    const acks = new Map<string, number>();
    // Each check walks the frames from `from` on again; the map makes that idempotent.
    await c.find(
      (f) => {
        if (f.type === 'error') throw new Error(`refused: ${JSON.stringify(f)}`);
        if (f.type === 'ack' && String(f.id).startsWith(`${tag}-`))
          acks.set(f.room as string, f.seq as number);
        return acks.size === rooms.length;
      },
      `${rooms.length} acks for ${tag}`,
      20_000,
      from,
    );
    return acks;
  }

  /** PUBSUB SHARDNUMSUB of every room channel on every running master (and NUMSUB, classic). */
  async function subscribersByMaster(): Promise<
    Map<number, Map<string, [sharded: number, classic: number]>>
  > {
    const out = new Map<number, Map<string, [number, number]>>();
    const channels = ROOMS.map((room) => keys.roomChannel(room));
    for (const { port } of await set.masters()) {
      const [sharded, classic] = await set.admin(port, async (r) => [
        (await r.call('PUBSUB', 'SHARDNUMSUB', ...channels)) as (string | number)[],
        (await r.call('PUBSUB', 'NUMSUB', ...channels)) as (string | number)[],
      ]);
      const counts = new Map<string, [number, number]>();
      ROOMS.forEach((room, i) => counts.set(room, [Number(sharded[2 * i + 1]), Number(classic[2 * i + 1])]));
      out.set(port, counts);
    }
    return out;
  }

  /** Each room's channel has both instances as sharded subscribers on its owner, nobody elsewhere. */
  async function expectShardChannelsOnOwners(): Promise<void> {
    const owners = await roomsByMaster();
    const counts = await subscribersByMaster();
    for (const [port, rooms] of owners) {
      for (const room of ROOMS) {
        expect([room, port, counts.get(port)!.get(room)]).toEqual([
          room,
          port,
          rooms.includes(room) ? [2, 0] : [0, 0],
        ]);
      }
    }
  }

  /** A hub.publish emitted through one node (classic PUBLISH; the cluster bus carries it). */
  async function hubPublish(port: number, room: string, id: string): Promise<void> {
    await emitHubPublish({ host: '127.0.0.1', port }, prefix, { room, id }, async () => {
      for (const m of [ma, mb])
        await m.find((f) => f.type === 'message' && f.id === id, `hub.publish ${id}`, 10_000);
    });
  }

  it('spreads 200 rooms over three shards: reach 1.0, one seq per room, resume, presence, shard channels', async () => {
    const owners = await roomsByMaster();
    expect(owners.size).toBe(3);
    for (const rooms of owners.values()) expect(rooms.length).toBeGreaterThan(40);

    // A member that will resume on the other instance.
    const away = track(await connect(a.wsUrl, 'away'));
    const probe = [...owners.values()].map((rooms) => rooms[0]);
    for (const room of probe) await away.join(room);
    // Cross-instance presence: ma (on a) hears away's joins and, for every room, mb's.
    await ma.find((f) => f.type === 'presence' && f.user.id === 'away', 'presence of away', 5000);
    expect(ma.all('presence').filter((f) => f.user.id === 'mb' && f.status === 'joined')).toHaveLength(200);

    // Both members publish once in every room, at the same time: seqs 1 and 2 in each room.
    const [acksA, acksB] = await Promise.all([publishEverywhere(ma, 'a1'), publishEverywhere(mb, 'b1')]);
    for (const room of ROOMS) expect([acksA.get(room), acksB.get(room)].sort()).toEqual([1, 2]);
    for (const m of [ma, mb]) {
      await m.waitFor('message', 400, 10_000);
      for (const room of ROOMS) expect(seqs(m, room)).toEqual([1, 2]);
    }
    await away.find(
      (f) => f.type === 'message' && f.seq === 2 && f.room === probe[2],
      'away has seq 2',
      5000,
    );
    away.terminate();
    await publishEverywhere(ma, 'a2');
    // Resumed on the other instance: exactly what it missed.
    const back = track(await connect(b.wsUrl, 'away'));
    for (const room of probe) {
      const joined = await back.join(room, { since: 2, epoch: epochs.get(room) });
      expect(joined).toMatchObject({ recovered: true, seq: 3 });
      expect(seqs(back, room)).toEqual([3]);
    }
    back.terminate();

    await expectShardChannelsOnOwners();

    // hub.publish through the Nest transport, emitted to one node of the cluster.
    await hubPublish(set.ports[0], ROOMS[7], 'svc-1');

    // A ticket issued by one instance opens a connection on the other (tickets live in the cluster).
    track(await connectWithTicket(a, b, 'ticketed'));

    // The event stream ({events} slot) fed the webhooks: each acked message (600, and svc-1) under its
    // (room, epoch, seq), appended by the broker after its script; presence events decided in Lua there.
    await receiver.waitFor(
      '601 message events',
      (events) => events.filter((e) => e.type === 'message').length >= 601,
    );
    const messages = receiver.accepted().filter((e) => e.type === 'message');
    const named = new Set(messages.map((e) => `${e.data.room}|${e.data.epoch}|${e.data.seq}`));
    expect(named.size).toBe(601);
    for (const room of ROOMS) expect(named.has(`${room}|${epochs.get(room)}|3`)).toBe(true);
    const presence = receiver.accepted().filter((e) => e.type !== 'message');
    expect(presence.filter((e) => e.type === 'online').map((e) => e.data.user.id)).toEqual(
      expect.arrayContaining(['ma', 'mb', 'away']),
    );
    expect(presence.filter((e) => e.type === 'joined' && e.data.user.id === 'mb')).toHaveLength(200);
  }, 60_000);

  it('keeps serving through the failover of a shard master', async () => {
    const owners = await roomsByMaster();
    const victim = set.ports.find((p) => owners.has(p))!;
    const hit = owners.get(victim)!.slice(0, 8);
    const spared = [...owners.entries()]
      .filter(([p]) => p !== victim)
      .flatMap(([, rooms]) => rooms.slice(0, 4));
    const loop = [...hit, ...spared];
    const before = new Map(ROOMS.map((room) => [room, Math.max(0, ...seqs(ma, room))]));

    /** Acked publications: id -> [room, seq]; the ack time tells before/after the failover. */
    const acked = new Map<string, { room: string; seq: number; at: number }>();
    let unavailable = 0;
    let stopping = false;
    /** One message in flight per member; `unavailable` is retried with the same id. */
    const publish = async (m: TestClient, name: string) => {
      for (let i = 0; !stopping; i++) {
        const room = loop[i % loop.length];
        const id = `${name}-f${i}`;
        const ack = await m.sayUntilAcked(room, id, {
          answerTimeoutMs: 15_000,
          retryDelayMs: 50,
          onUnavailable: () => unavailable++,
        });
        acked.set(id, { room, seq: ack.seq as number, at: Date.now() });
      }
    };
    // A member of a room on the shard that fails over: it drops out at the kill and resumes on the
    // other instance after the failover.
    const away = track(await connect(a.wsUrl, 'away2'));
    const awayJoined = await away.join(hit[0]);
    const running = [publish(ma, 'ma'), publish(mb, 'mb')];
    await poll(() => acked.size >= 40, 10_000, '40 acks before the failover');

    await set.kill(victim);
    away.terminate();
    await poll(
      async () => (await readyz(a.httpUrl)) === 503,
      5000,
      '/readyz 503 while a shard has no master',
    );
    await set.failedOver(victim);
    for (const g of [a, b]) {
      await poll(async () => (await readyz(g.httpUrl)) === 200, 15_000, '/readyz 200 after the failover');
    }
    const failedOverAt = Date.now();
    const count = () => [...acked.values()].filter((x) => x.at > failedOverAt && hit.includes(x.room)).length;
    await poll(() => count() >= 20, 15_000, '20 acks in the failed-over shard after the failover');
    stopping = true;
    await Promise.all(running);
    expect(unavailable).toBeGreaterThan(0);

    // Every acked message reaches both members, once, in seq order, in every room of the loop.
    for (const room of loop) {
      const ids = [...acked.entries()].filter(([, x]) => x.room === room);
      const last = Math.max(...ids.map(([, x]) => x.seq));
      for (const m of [ma, mb]) {
        await m.find(
          (f) => f.type === 'message' && f.room === room && f.seq >= last,
          `${room} seq ${last}`,
          10_000,
        );
        const got = seqs(m, room);
        expect(got).toEqual([...got].sort((x, y) => x - y));
        expect(new Set(got).size).toBe(got.length);
        const received = new Map(
          m
            .all('message')
            .filter((f) => f.room === room)
            .map((f) => [f.seq, f.id]),
        );
        for (const [id, x] of ids) expect([room, x.seq, received.get(x.seq)]).toEqual([room, x.seq, id]);
      }
      // A room of the other shards lost nothing at all: 1..last.
      if (!hit.includes(room)) for (const m of [ma, mb]) expect(seqs(m, room)).toEqual(range(1, last));
      expect(last).toBeGreaterThan(before.get(room)!);
    }

    // Resumed on the other instance: everything after what it had, each seq once, in order.
    const had = seqs(away, hit[0]);
    const since = had.at(-1) ?? (awayJoined.seq as number);
    const back = track(await connect(b.wsUrl, 'away2'));
    const resumed = await back.join(hit[0], { since, epoch: epochs.get(hit[0]) });
    expect(resumed).toMatchObject({ recovered: true });
    expect(seqs(back, hit[0])).toEqual(range(since + 1, resumed.seq as number));

    // The subscriptions followed the slots to the promoted replica.
    await expectShardChannelsOnOwners();
    // Presence and joins on the failed-over shard, across instances.
    const late = track(await connect(b.wsUrl, 'late'));
    const joined = await late.join(hit[0]);
    expect(joined.members.map((m: { id: string }) => m.id).sort()).toEqual(['away2', 'late', 'ma', 'mb']);
    await ma.find(
      (f) => f.type === 'presence' && f.user.id === 'late' && f.room === hit[0],
      'presence of late',
      5000,
    );
    // hub.publish after the failover, through a node that is still up.
    await hubPublish(set.runningPorts()[0], hit[1], 'svc-2');
    console.log(`redis cluster failover: ${acked.size} acked, ${unavailable} unavailable answers retried`);
  }, 90_000);
});
