import net from 'node:net';
import * as wsModule from 'ws';
import type { WebSocket } from 'ws';
import { textFrame } from './frame.js';
import { BatchCache, SendQueue } from './send-queue.js';
import { poll } from '../../test/harness/wait.js';

/** ws's frame parser (exported at runtime, not in @types/ws). */
const Receiver = (
  wsModule as unknown as {
    Receiver: new (o: { isServer: boolean }) => NodeJS.WritableStream & NodeJS.EventEmitter;
  }
).Receiver;

/** A real TCP connection on loopback: the server side is written to, the client side reads frames. */
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

function reader(client: net.Socket): string[] {
  const out: string[] = [];
  const r = new Receiver({ isServer: false });
  r.on('message', (d: Buffer) => out.push(d.toString()));
  client.on('data', (chunk) => r.write(chunk));
  return out;
}

const noWs = {} as WebSocket;

describe('SendQueue', () => {
  it('hands a turn of frames to the socket in ONE write, keeping frame boundaries', async () => {
    const { server, client, close } = await socketPair();
    const got = reader(client);
    const writes: number[] = [];
    const write = server.write.bind(server);
    server.write = (chunk: Buffer, ...rest: never[]) => {
      writes.push(chunk.length);
      return write(chunk, ...rest);
    };
    const q = new SendQueue(noWs, server, { messages: 256, bytes: 1 << 20 }, false);
    for (let i = 0; i < 50; i++) expect(q.push(textFrame(`m${i}`))).toBe(true);
    expect(q.length).toBe(50);
    q.flush();
    expect(writes).toHaveLength(1);
    expect(q.length).toBe(0);
    await poll(() => got.length === 50);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    await close();
  });

  it('does not overflow on a burst while the socket is writable: it flushes instead', async () => {
    const { server, client, close } = await socketPair();
    const got = reader(client);
    const q = new SendQueue(noWs, server, { messages: 8, bytes: 1 << 20 }, false);
    for (let i = 0; i < 100; i++) expect(q.push(textFrame(`b${i}`))).toBe(true);
    q.flush();
    await poll(() => got.length === 100);
    await close();
  });

  it('overflows by count, and by bytes, once the peer stops reading', async () => {
    for (const limits of [
      { messages: 16, bytes: 1 << 30 },
      { messages: 1 << 30, bytes: 256 * 1024 },
    ]) {
      const { server, client, close } = await socketPair();
      client.pause(); // the peer stops reading: kernel buffers, then the socket buffer, then the queue fill
      const q = new SendQueue(noWs, server, limits, false);
      const frame = textFrame('p'.repeat(16 * 1024));
      let overflowed = false;
      for (let i = 0; i < 4096 && !overflowed; i++) {
        overflowed = !q.push(frame);
        if (i % 8 === 7) {
          q.flush();
          await new Promise((r) => setImmediate(r));
        }
      }
      expect(overflowed).toBe(true);
      expect(q.length).toBeGreaterThan(0);
      await close();
    }
  });

  it('resumes writing on drain and delivers everything in order', async () => {
    const { server, client, close } = await socketPair();
    client.pause();
    const q = new SendQueue(noWs, server, { messages: 100000, bytes: 1 << 30 }, false);
    const total = 2000;
    for (let i = 0; i < total; i++) {
      q.push(textFrame(`${i}:${'d'.repeat(4000)}`));
      if (i % 100 === 99) q.flush();
    }
    q.flush();
    expect(q.length).toBeGreaterThan(0); // held back while the socket waits for drain
    const got = reader(client);
    client.resume();
    await poll(() => {
      q.flush();
      return got.length === total;
    }, 10000);
    expect(got.map((m) => Number(m.split(':')[0]))).toEqual(Array.from({ length: total }, (_, i) => i));
    await close();
  });

  it('shares one concatenated batch between connections holding the same frames', async () => {
    const pairs = await Promise.all([socketPair(), socketPair(), socketPair()]);
    const written: Buffer[] = [];
    const queues = pairs.map(({ server }) => {
      const write = server.write.bind(server);
      server.write = (chunk: Buffer, ...rest: never[]) => {
        written.push(chunk);
        return write(chunk, ...rest);
      };
      return new SendQueue(noWs, server, { messages: 256, bytes: 1 << 20 }, false);
    });
    const room = [textFrame('r1'), textFrame('r2')];
    const ack = textFrame('ack');
    for (const f of room) for (const q of queues) q.push(f);
    queues[1].push(ack); // the publisher: the room's frames plus its ack
    const cache = new BatchCache();
    for (const q of queues) q.flush(cache);
    expect(written).toHaveLength(3);
    expect(written[2]).toBe(written[0]); // the same Buffer, not a copy
    expect(written[1]).not.toBe(written[0]);
    const got = pairs.map(({ client }) => reader(client));
    await poll(() => got.every((g, i) => g.length === (i === 1 ? 3 : 2)));
    expect(got[0]).toEqual(['r1', 'r2']);
    expect(got[1]).toEqual(['r1', 'r2', 'ack']);
    await Promise.all(pairs.map((p) => p.close()));
  });

  it('shares the batch of mid-turn flushes too (members passing the bound at the same frame)', async () => {
    const pairs = await Promise.all([socketPair(), socketPair(), socketPair()]);
    const written: Buffer[][] = pairs.map(() => []);
    const queues = pairs.map(({ server }, i) => {
      const write = server.write.bind(server);
      server.write = (chunk: Buffer, ...rest: never[]) => {
        written[i].push(chunk);
        return write(chunk, ...rest);
      };
      return new SendQueue(noWs, server, { messages: 8, bytes: 1 << 20 }, false);
    });
    const cache = new BatchCache();
    for (let i = 0; i < 20; i++) {
      const frame = textFrame(`f${i}`);
      for (const q of queues) expect(q.push(frame, cache)).toBe(true);
    }
    for (const q of queues) q.flush(cache);
    // Each queue flushed at the 9th and 18th frame, then the last 2 at the turn's end.
    expect(written.map((w) => w.length)).toEqual([3, 3, 3]);
    for (let k = 0; k < 3; k++) {
      expect(written[1][k]).toBe(written[0][k]);
      expect(written[2][k]).toBe(written[0][k]);
    }
    const got = pairs.map(({ client }) => reader(client));
    await poll(() => got.every((g) => g.length === 20));
    for (const g of got) expect(g).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}`));
    await Promise.all(pairs.map((p) => p.close()));
  });

  it('drop() empties the queue and refuses further frames', async () => {
    const { server, close } = await socketPair();
    const q = new SendQueue(noWs, server, { messages: 4, bytes: 1024 }, false);
    q.push(textFrame('x'));
    q.drop();
    expect(q.length).toBe(0);
    expect(q.push(textFrame('y'))).toBe(true);
    expect(q.length).toBe(0);
    await close();
  });
});
