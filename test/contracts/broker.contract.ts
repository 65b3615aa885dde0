import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { RoomMessage } from '../../src/protocol/frames.js';
import type { Broker, BrokerHandler, RoomEvent } from '../../src/cluster/broker.js';
import { msg, range, sender, uniqueName } from './contract-kit.js';
import { poll } from '../harness/wait.js';

/** Creates brokers on a fresh, isolated backend namespace; `dispose` closes them and removes their data. */
export interface BrokerFactory {
  create(historySize: number): Promise<Broker>;
  dispose(): Promise<void>;
}

/** Records what a broker hands to its handler. */
export class Recorder implements BrokerHandler {
  readonly messages: RoomMessage[] = [];
  readonly events: RoomEvent[] = [];
  readonly userEvents: { userId: string; frame: object }[] = [];
  readonly broadcasts: object[] = [];
  readonly resets: string[] = [];
  onMessage(m: RoomMessage): void {
    this.messages.push(m);
  }
  onRoomEvent(e: RoomEvent): void {
    this.events.push(e);
  }
  onUserEvent(userId: string, frame: object): void {
    this.userEvents.push({ userId, frame });
  }
  onBroadcast(frame: object): void {
    this.broadcasts.push(frame);
  }
  onRoomReset(room: string): void {
    this.resets.push(room);
  }
  seqs(room: string): number[] {
    return this.messages.filter((m) => m.room === room).map((m) => m.seq);
  }
}

/** The Broker guarantees (broker.ts), for any implementation. */
export function brokerContract(name: string, makeFactory: () => BrokerFactory): void {
  describe(`Broker contract: ${name}`, () => {
    let factory: BrokerFactory;
    let broker: Broker;
    let rec: Recorder;
    let room: string;

    beforeEach(async () => {
      factory = makeFactory();
      broker = await factory.create(5);
      rec = new Recorder();
      broker.setHandler(rec);
      room = uniqueName('room');
      await broker.subscribeRoom(room);
    });
    afterEach(() => factory.dispose());

    it('assigns seq 1, 2, 3 per room and returns the full message', async () => {
      const a = await broker.publish(msg(room, 'a'));
      const b = await broker.publish(msg(room, 'b'));
      expect([a.seq, b.seq]).toEqual([1, 2]);
      expect(a).toMatchObject({ room, content: 'a', sender });
      const other = uniqueName('other');
      expect((await broker.publish(msg(other, 'x'))).seq).toBe(1);
      expect((await broker.publish(msg(room, 'c'))).seq).toBe(3);
    });

    it('with an idempotency key, a retry (even racing) answers the original seq and is delivered once', async () => {
      const key = { idempotencyKey: uniqueName('k'), idempotentResultTtlMs: 10000 };
      const [first, racing] = await Promise.all([
        broker.publish(msg(room, 'x', 'id-1'), key),
        broker.publish(msg(room, 'x', 'id-1'), key),
      ]);
      const retry = await broker.publish(msg(room, 'x', 'id-1'), key);
      const other = await broker.publish(msg(room, 'y', 'id-2'), { ...key, idempotencyKey: uniqueName('k') });
      const elsewhere = uniqueName('other');
      expect([first.seq, racing.seq, retry.seq, other.seq]).toEqual([1, 1, 1, 2]);
      expect((await broker.publish(msg(elsewhere, 'x', 'id-1'), key)).seq).toBe(1);
      await poll(() => rec.seqs(room).length >= 2, 3000, '2 messages');
      expect((await broker.history(room, 0)).messages.map((m) => m.content)).toEqual(['x', 'y']);
      expect(rec.seqs(room)).toEqual([1, 2]);
    });

    it('with an idempotency key, a retry a turn behind its original (still on its way) is delivered once', async () => {
      for (let turns = 1; turns <= 3; turns++) {
        const key = { idempotencyKey: uniqueName('k'), idempotentResultTtlMs: 10000 };
        const original = broker.publish(msg(room, `x${turns}`, `id-${turns}`), key);
        for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
        const behind = await broker.publish(msg(room, `x${turns}`, `id-${turns}`), key);
        expect([(await original).seq, behind.seq]).toEqual([turns, turns]);
      }
      expect((await broker.publish(msg(room, 'y'))).seq).toBe(4);
      await poll(() => rec.seqs(room).length >= 4, 3000, '4 messages');
      expect(rec.seqs(room)).toEqual([1, 2, 3, 4]);
      expect((await broker.history(room, 0)).messages.map((m) => m.content)).toEqual(['x1', 'x2', 'x3', 'y']);
    });

    it('hands each message of a subscribed room to the handler once, in seq order, as published', async () => {
      const published = await Promise.all(range(1, 30).map(async (i) => broker.publish(msg(room, `m${i}`))));
      expect(published.map((m) => m.seq).sort((x, y) => x - y)).toEqual(range(1, 30));
      await poll(() => rec.seqs(room).length >= 30, 3000, '30 messages');
      expect(rec.seqs(room)).toEqual(range(1, 30));
      const bySeq = new Map(published.map((m) => [m.seq, m]));
      for (const m of rec.messages) expect(m).toEqual(bySeq.get(m.seq));
    });

    it('history without since replays nothing and reports the position', async () => {
      const empty = await broker.history(room);
      expect(empty).toMatchObject({ messages: [], seq: 0, oldestSeq: 1, recovered: true });
      for (let i = 1; i <= 3; i++) await broker.publish(msg(room, `m${i}`));
      const h = await broker.history(room);
      expect(h).toMatchObject({ messages: [], seq: 3, oldestSeq: 1, recovered: true, epoch: empty.epoch });
    });

    it('history with since replays exactly the messages after it', async () => {
      for (let i = 1; i <= 4; i++) await broker.publish(msg(room, `m${i}`));
      const h = await broker.history(room, 1);
      expect(h.messages.map((m) => m.seq)).toEqual([2, 3, 4]);
      expect(h.messages.map((m) => m.content)).toEqual(['m2', 'm3', 'm4']);
      expect(h).toMatchObject({ seq: 4, oldestSeq: 1, recovered: true });
      expect((await broker.history(room, 4, h.epoch)).messages).toEqual([]);
      expect((await broker.history(room, 0)).messages).toHaveLength(4);
    });

    it('keeps the last historySize messages; a gap past them is recovered=false with oldestSeq', async () => {
      for (let i = 1; i <= 8; i++) await broker.publish(msg(room, `m${i}`));
      const covered = await broker.history(room, 3);
      expect(covered.messages.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
      expect(covered).toMatchObject({ seq: 8, oldestSeq: 4, recovered: true });
      const lost = await broker.history(room, 1);
      expect(lost.messages.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
      expect(lost).toMatchObject({ seq: 8, oldestSeq: 4, recovered: false });
      // Messages kept out of history afterwards change nothing: 2 and 3 were real and are gone.
      for (let i = 9; i <= 10; i++) await broker.publish(msg(room, `e${i}`), { skipHistory: true });
      expect(await broker.history(room, 2)).toMatchObject({ seq: 10, oldestSeq: 4, recovered: false });
      expect(await broker.history(room, 3)).toMatchObject({ seq: 10, oldestSeq: 4, recovered: true });
    });

    it('another epoch, or a since past the current seq, returns everything held with recovered=false', async () => {
      for (let i = 1; i <= 3; i++) await broker.publish(msg(room, `m${i}`));
      const { epoch } = await broker.history(room);
      expect(typeof epoch).toBe('string');
      const other = await broker.history(room, 2, `${epoch}x`);
      expect(other.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
      expect(other).toMatchObject({ recovered: false, epoch });
      const ahead = await broker.history(room, 10, epoch);
      expect(ahead.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
      expect(ahead.recovered).toBe(false);
    });

    it('delivers room events, user events and broadcasts to the subscribers', async () => {
      const user = uniqueName('user');
      await broker.subscribeUser(user);
      const event: RoomEvent = { type: 'presence', room, user: sender, status: 'joined', origin: 'c1' };
      await broker.publishRoomEvent(room, event);
      await broker.publishUserEvent(user, { type: 'direct', content: 'hi' });
      await broker.publishBroadcast({ type: 'notice', text: 'all' });
      await poll(() => rec.events.length === 1 && rec.userEvents.length === 1 && rec.broadcasts.length === 1);
      expect(rec.events[0]).toEqual(event);
      expect(rec.userEvents[0]).toEqual({ userId: user, frame: { type: 'direct', content: 'hi' } });
      expect(rec.broadcasts[0]).toEqual({ type: 'notice', text: 'all' });
    });

    it('skipHistory: the message takes the next seq and is delivered, but history never returns it', async () => {
      await broker.publish(msg(room, 'a'));
      const skipped = await broker.publish(msg(room, 'ephemeral'), { skipHistory: true });
      await broker.publish(msg(room, 'c'));
      const key = { idempotencyKey: uniqueName('k'), idempotentResultTtlMs: 10000, skipHistory: true };
      const first = await broker.publish(msg(room, 'e2', 'id-e'), key);
      const retry = await broker.publish(msg(room, 'e2', 'id-e'), key);
      expect([skipped.seq, first.seq, retry.seq]).toEqual([2, 4, 4]);
      await poll(() => rec.seqs(room).length >= 4, 3000, '4 messages');
      expect(rec.messages.map((m) => [m.seq, m.content])).toEqual([
        [1, 'a'],
        [2, 'ephemeral'],
        [3, 'c'],
        [4, 'e2'],
      ]);
      const all = await broker.history(room, 0);
      expect(all.messages.map((m) => [m.seq, m.content])).toEqual([
        [1, 'a'],
        [3, 'c'],
      ]);
      expect(all).toMatchObject({ seq: 4, oldestSeq: 1, recovered: true });
      expect((await broker.history(room, 1, all.epoch)).messages.map((m) => m.seq)).toEqual([3]);
      expect((await broker.history(room, 2, all.epoch)).messages.map((m) => m.seq)).toEqual([3]);
      expect((await broker.history(room, 3, all.epoch)).messages).toEqual([]);
    });

    it('skipHistory: a room of skipped messages only (typing indicators) answers recovered=true', async () => {
      // More of them than history holds: none was ever to be replayed, so nothing was lost.
      for (let i = 1; i <= 12; i++) await broker.publish(msg(room, `typing${i}`), { skipHistory: true });
      const none = await broker.history(room, 0);
      expect(none).toMatchObject({ messages: [], seq: 12, oldestSeq: 13, recovered: true });
      expect(await broker.history(room, 7, none.epoch)).toMatchObject({ messages: [], recovered: true });
      await broker.publish(msg(room, 'real'));
      const one = await broker.history(room, 0, none.epoch);
      expect(one.messages.map((m) => [m.seq, m.content])).toEqual([[13, 'real']]);
      expect(one).toMatchObject({ seq: 13, oldestSeq: 13, recovered: true });
    });

    it('skipHistory: skipped seqs between since and the oldest message held are no loss', async () => {
      await broker.publish(msg(room, 'm1'));
      for (let i = 2; i <= 3; i++) await broker.publish(msg(room, `e${i}`), { skipHistory: true });
      for (let i = 4; i <= 8; i++) await broker.publish(msg(room, `m${i}`)); // 1 trimmed (5 held)
      const h = await broker.history(room, 1);
      expect(h.messages.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
      expect(h).toMatchObject({ seq: 8, oldestSeq: 4, recovered: true });
      expect(await broker.history(room, 2, h.epoch)).toMatchObject({ recovered: true });
      // Seq 1 was a real message, trimmed away: a since before it lost it.
      const lost = await broker.history(room, 0, h.epoch);
      expect(lost.messages.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
      expect(lost).toMatchObject({ oldestSeq: 4, recovered: false });
    });

    it('skipHistory: a gap that mixes skipped seqs and real messages trimmed away is recovered=false', async () => {
      await broker.publish(msg(room, 'e1'), { skipHistory: true });
      await broker.publish(msg(room, 'm2'));
      for (let i = 3; i <= 4; i++) await broker.publish(msg(room, `e${i}`), { skipHistory: true });
      for (let i = 5; i <= 9; i++) await broker.publish(msg(room, `m${i}`)); // 2 trimmed
      const all = await broker.history(room, 0);
      expect(all.messages.map((m) => m.seq)).toEqual([5, 6, 7, 8, 9]);
      expect(all).toMatchObject({ seq: 9, oldestSeq: 5, recovered: false });
      expect(await broker.history(room, 1, all.epoch)).toMatchObject({ recovered: false });
      expect(await broker.history(room, 2, all.epoch)).toMatchObject({ recovered: true });
      expect(await broker.history(room, 3, all.epoch)).toMatchObject({ recovered: true });

      // Alternating real and skipped messages, many more than history holds: only the skipped seq
      // right before the oldest message held is covered, the real one before it was trimmed.
      const other = uniqueName('room');
      for (let i = 1; i <= 30; i++) {
        await broker.publish(msg(other, `x${i}`), i % 2 === 0 ? undefined : { skipHistory: true });
      }
      const alt = await broker.history(other, 0);
      expect(alt.messages.map((m) => m.seq)).toEqual([22, 24, 26, 28, 30]);
      expect(alt).toMatchObject({ seq: 30, oldestSeq: 22, recovered: false });
      expect(await broker.history(other, 19, alt.epoch)).toMatchObject({ recovered: false });
      expect(await broker.history(other, 20, alt.epoch)).toMatchObject({ recovered: true });
      expect(await broker.history(other, 25, alt.epoch)).toMatchObject({ recovered: true });
    });

    it('is healthy while the backend is reachable, and closes', async () => {
      expect(broker.isHealthy()).toBe(true);
      await expect(broker.close()).resolves.toBeUndefined();
    });
  });
}
