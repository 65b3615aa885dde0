import net from 'node:net';
import type { WebSocket } from 'ws';
import { textFrame } from './frame.js';
import { QueueTotals, SendQueue } from './send-queue.js';

async function socketPair(): Promise<{ server: net.Socket; client: net.Socket; close: () => Promise<void> }> {
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const port = (listener.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => listener.once('connection', r));
  const client = net.connect(port, '127.0.0.1');
  const server = await accepted;
  return {
    server,
    client,
    close: async () => {
      server.destroy();
      client.destroy();
      await new Promise((r) => listener.close(r));
    },
  };
}

const noWs = {} as WebSocket;
const LIMITS = { messages: 1_000_000, bytes: 1024 * 1024 * 1024 };

describe('QueueTotals (running totals over every SendQueue)', () => {
  it('counts frames and bytes at push and uncounts them at flush, over several queues', async () => {
    const a = await socketPair();
    const b = await socketPair();
    const totals = new QueueTotals();
    const qa = new SendQueue(noWs, a.server, LIMITS, false, totals);
    const qb = new SendQueue(noWs, b.server, LIMITS, false, totals);
    const f1 = textFrame('{"type":"a"}');
    const f2 = textFrame('{"type":"bb"}');
    qa.push(f1);
    qa.push(f2);
    qb.push(f1);
    expect(totals.frames).toBe(3);
    expect(totals.bytes).toBe(2 * f1.length + f2.length);
    qa.flush();
    expect(totals.frames).toBe(1);
    expect(totals.bytes).toBe(f1.length);
    qb.drop();
    expect(totals.frames).toBe(0);
    expect(totals.bytes).toBe(0);
    // A dropped queue counts nothing more.
    qb.push(f1);
    expect(totals.frames).toBe(0);
    await a.close();
    await b.close();
  });

  it('tracks a queue whose socket is backed up until it drains, and forgets it when dropped', async () => {
    const { server, client, close } = await socketPair();
    client.pause();
    const totals = new QueueTotals();
    const q = new SendQueue(noWs, server, LIMITS, false, totals);
    const big = textFrame(JSON.stringify({ type: 'x', pad: 'y'.repeat(256 * 1024) }));
    // Write until the socket says "backed up" (the kernel buffers are full).
    for (let i = 0; i < 400 && totals.backedUp.size === 0; i++) {
      q.push(big);
      q.flush();
    }
    expect(totals.backedUp.has(q)).toBe(true);
    q.push(big);
    q.push(big);
    expect(q.flush()).toBe(true); // waiting for 'drain': nothing written, nothing lost
    expect(totals.frames).toBe(2);
    expect([...totals.backedUp].map((x) => x.length)).toEqual([2]);

    client.resume();
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (totals.backedUp.size === 0 && totals.frames === 0) resolve();
        else setTimeout(check, 5);
      };
      check();
    });
    expect(totals.bytes).toBe(0);

    client.pause();
    for (let i = 0; i < 400 && totals.backedUp.size === 0; i++) {
      q.push(big);
      q.flush();
    }
    q.push(big);
    expect(totals.frames).toBe(1);
    q.drop();
    expect(totals).toMatchObject({ frames: 0, bytes: 0 });
    expect(totals.backedUp.size).toBe(0);
    await close();
  });
});
