import {
  Cluster,
  connectAs as connect,
  type Frame,
  join as joinRoom,
  range,
  seqs,
  type TestClient,
} from '../harness/index.js';

/**
 * Several gateway instances in this process over the shared Redis, each test under its own key prefix:
 * one logical gateway.
 */
describe('cluster over Redis', () => {
  let cluster: Cluster;
  const clients: TestClient[] = [];
  const track = (c: TestClient) => (clients.push(c), c);

  beforeEach(() => {
    cluster = new Cluster();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.terminate();
    await cluster.close();
  });

  it('delivers room messages from every instance to every member on every instance, once, in seq order', async () => {
    const [a, b, c] = await cluster.start(3);
    const members = [
      track(await connect(a.wsUrl, 'ann')),
      track(await connect(b.wsUrl, 'ben')),
      track(await connect(c.wsUrl, 'cid')),
    ];
    for (const m of members) await joinRoom(m, 'lobby');
    const [ann, ben] = members;
    for (let i = 0; i < 25; i++) {
      ann.send({ type: 'message', room: 'lobby', content: `a${i}`, id: `a${i}` });
      ben.send({ type: 'message', room: 'lobby', content: `b${i}`, id: `b${i}` });
    }
    for (const m of members) {
      await m.waitFor('message', 50);
      expect(seqs(m, 'lobby')).toEqual(range(1, 50));
    }
    // Everyone saw the same message at each seq, and each acked seq carries that sender's message.
    const contentAt = (m: TestClient) => m.all('message').map((f) => f.content as string);
    expect(contentAt(members[1])).toEqual(contentAt(members[0]));
    expect(contentAt(members[2])).toEqual(contentAt(members[0]));
    const acks = [...(await ann.waitFor('ack', 25)), ...(await ben.waitFor('ack', 25))];
    expect(acks.map((f) => f.seq).sort((x, y) => x - y)).toEqual(range(1, 50));
    for (const ack of acks) expect(contentAt(ann)[ack.seq - 1]).toBe(ack.id);
    // A room is delivered in order: a copy of any of the 50 would reach cid before a later message.
    const marker = (f: Frame) => f.id === 'end-marker';
    await ann.say('lobby', 'end', 'end-marker');
    await members[2].find(marker, 'the end marker');
    expect(members[2].allBefore('message', marker)).toHaveLength(50);
  });

  it('delivers a direct message to every connection of the target and of the sender, on any instance', async () => {
    const [a, b, c] = await cluster.start(3);
    const aliceA = track(await connect(a.wsUrl, 'alice'));
    const aliceC = track(await connect(c.wsUrl, 'alice'));
    const bobB = track(await connect(b.wsUrl, 'bob'));
    const bobC = track(await connect(c.wsUrl, 'bob'));
    const carol = track(await connect(a.wsUrl, 'carol'));
    bobB.send({ type: 'direct', to: 'alice', content: 'psst', id: 'd1' });
    expect(await bobB.next('ack')).toMatchObject({ id: 'd1' });
    for (const x of [aliceA, aliceC, bobB, bobC]) {
      expect(await x.next('direct')).toMatchObject({
        id: 'd1',
        to: 'alice',
        content: 'psst',
        sender: { id: 'bob' },
      });
    }
    // A retry with the same id is acked and not delivered again.
    bobC.send({ type: 'direct', to: 'alice', content: 'psst', id: 'd1' });
    expect(await bobC.next('ack')).toMatchObject({ id: 'd1' });
    // A user's directs are delivered in order: a second d1 would come before a later direct.
    bobC.send({ type: 'direct', to: 'alice', content: 'marker', id: 'd-marker' });
    const marker = (f: Frame) => f.id === 'd-marker';
    for (const x of [aliceA, aliceC, bobB, bobC]) await x.find(marker, 'the marker direct');
    for (const x of [aliceA, aliceC, bobB, bobC]) expect(x.allBefore('direct', marker)).toHaveLength(1);
    expect(carol.all('direct')).toHaveLength(0);
  });

  it('resumes on another instance with exactly the missed messages, then live ones', async () => {
    const [a, b] = await cluster.start(2);
    const sender = track(await connect(b.wsUrl, 'sender'));
    await joinRoom(sender, 'news');
    const reader = track(await connect(a.wsUrl, 'reader'));
    const first = await joinRoom(reader, 'news');
    for (let i = 1; i <= 5; i++) sender.send({ type: 'message', room: 'news', content: `m${i}` });
    await reader.waitFor('message', 5);
    reader.close();
    await reader.closed();
    for (let i = 6; i <= 12; i++) sender.send({ type: 'message', room: 'news', content: `m${i}` });
    await sender.waitFor('ack', 12);

    const back = track(await connect(b.wsUrl, 'reader'));
    back.send({ type: 'join', room: 'news', since: 5, epoch: first.epoch });
    const joined = await back.next('joined');
    expect(joined).toMatchObject({
      room: 'news',
      seq: 12,
      epoch: first.epoch,
      recovered: true,
      oldestSeq: 1,
    });
    expect(seqs(back, 'news')).toEqual(range(6, 12));
    const joinedAt = back.frames.indexOf(joined);
    expect(back.frames.slice(0, joinedAt).filter((f) => f.type === 'message')).toHaveLength(7);
    sender.send({ type: 'message', room: 'news', content: 'live' });
    await back.waitFor('message', 8);
    expect(seqs(back, 'news')).toEqual(range(6, 13));
  });

  it('answers recovered=false with oldestSeq when the gap is past the history window', async () => {
    const [a, b] = await cluster.start(2, { HISTORY_SIZE: '5' });
    const sender = track(await connect(a.wsUrl, 'sender'));
    const first = await joinRoom(sender, 'busy');
    for (let i = 1; i <= 12; i++) sender.send({ type: 'message', room: 'busy', content: `m${i}` });
    await sender.waitFor('ack', 12);
    const late = track(await connect(b.wsUrl, 'late'));
    const joined = await joinRoom(late, 'busy', { since: 2, epoch: first.epoch });
    expect(joined).toMatchObject({ seq: 12, recovered: false, oldestSeq: 8 });
    expect(seqs(late, 'busy')).toEqual(range(8, 12));
  });

  it('shows presence across instances, per user, with a members snapshot', async () => {
    const [a, b, c] = await cluster.start(3);
    const alice1 = track(await connect(a.wsUrl, 'alice', 'Alice'));
    expect((await joinRoom(alice1, 'team')).members).toEqual([{ id: 'alice', name: 'Alice' }]);
    const bob = track(await connect(b.wsUrl, 'bob', 'Bob'));
    const joined = await joinRoom(bob, 'team');
    expect(joined.members.sort((x: { id: string }, y: { id: string }) => x.id.localeCompare(y.id))).toEqual([
      { id: 'alice', name: 'Alice' },
      { id: 'bob', name: 'Bob' },
    ]);
    expect(await alice1.next('presence')).toEqual({
      type: 'presence',
      room: 'team',
      user: { id: 'bob', name: 'Bob' },
      status: 'joined',
    });
    // A second tab of alice on a third instance: still one member, nobody is told.
    const alice2 = track(await connect(c.wsUrl, 'alice', 'Alice'));
    expect((await joinRoom(alice2, 'team')).members).toHaveLength(2);
    // Presence travels with the room's messages, in order: a later message proves none was sent.
    await alice2.say('team', 'marker', 'marker-1');
    await bob.find((f) => f.id === 'marker-1', 'the first marker');
    expect(bob.all('presence')).toHaveLength(0);
    alice1.send({ type: 'leave', room: 'team' });
    await alice1.next('left');
    await alice2.say('team', 'marker', 'marker-2');
    await bob.find((f) => f.id === 'marker-2', 'the second marker');
    expect(bob.all('presence')).toHaveLength(0);
    alice2.close();
    expect(await bob.next('presence')).toMatchObject({ user: { id: 'alice' }, status: 'left' });
    expect(bob.all('presence')).toHaveLength(1);
  });

  it('acks a message retried on another instance with its original seq and delivers it once', async () => {
    const [a, b] = await cluster.start(2);
    const watcher = track(await connect(a.wsUrl, 'watcher'));
    await joinRoom(watcher, 'r');
    const s1 = track(await connect(a.wsUrl, 'sam'));
    await joinRoom(s1, 'r');
    s1.send({ type: 'message', room: 'r', content: 'hello', id: 'x-1' });
    expect(await s1.next('ack')).toMatchObject({ id: 'x-1', seq: 1 });
    const s2 = track(await connect(b.wsUrl, 'sam'));
    await joinRoom(s2, 'r');
    s2.send({ type: 'message', room: 'r', content: 'hello', id: 'x-1' });
    expect(await s2.next('ack')).toMatchObject({ id: 'x-1', seq: 1 });
    s2.send({ type: 'message', room: 'r', content: 'next', id: 'x-2' });
    await watcher.waitFor('message', 2);
    expect(seqs(watcher, 'r')).toEqual([1, 2]);
  });

  it('reports ready only with Redis reachable', async () => {
    const [a] = await cluster.start(1);
    expect(a.hub.isHealthy()).toBe(true);
  });
});
