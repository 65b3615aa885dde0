import { jest } from '@jest/globals';
import type { ErrorFrame, Limits } from '../protocol/wire/frames.js';
import { GatewayError } from './gateway-error.js';
import { Outbox, type OutgoingFrame } from './outbox.js';

function makeOutbox(
  options: { limits?: Limits; ready?: (f: OutgoingFrame) => boolean; maxRetries?: number } = {},
) {
  const written: OutgoingFrame[] = [];
  const host = { live: true };
  const outbox = new Outbox(
    {
      isLive: () => host.live,
      ready: options.ready ?? (() => true),
      write: (frame) => written.push(frame),
      limits: () => options.limits,
    },
    { limit: 2, maxRetries: options.maxRetries ?? 1, retryDelayMs: 100, maxRetryDelayMs: 1000 },
  );
  return { outbox, written, host };
}

const message = (id: string): OutgoingFrame => ({ type: 'message', room: 'r', content: 'hi', id });
const error = (ref: string, code: ErrorFrame['code']): ErrorFrame => ({
  type: 'error',
  code,
  message: code,
  ref,
});

describe('Outbox', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('settles a send by its ack', async () => {
    const { outbox, written } = makeOutbox();
    const acked = outbox.add(message('a'));
    expect(written).toEqual([message('a')]);
    outbox.ack({ type: 'ack', id: 'a', room: 'r', seq: 7 });
    await expect(acked).resolves.toEqual({ type: 'ack', id: 'a', room: 'r', seq: 7 });
    expect(outbox.size).toBe(0);
  });

  it('retries a temporary error with the same id, then rejects with the server error', async () => {
    const { outbox, written } = makeOutbox();
    const sent = outbox.add(message('a'));
    outbox.error(error('a', 'rate_limited'));
    jest.advanceTimersByTime(99);
    expect(written).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(written).toEqual([message('a'), message('a')]);
    outbox.error(error('a', 'rate_limited'));
    await expect(sent).rejects.toMatchObject({ code: 'rate_limited', ref: 'a', fromServer: true });
  });

  it('retries unavailable with the same id after doubling delays, capped, until acked', async () => {
    const { outbox, written } = makeOutbox({ maxRetries: 8 });
    const sent = outbox.add(message('a'));
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      outbox.error(error('a', 'unavailable'));
      let waited = 0;
      while (written.length === i + 1) {
        jest.advanceTimersByTime(1);
        waited++;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000]);
    expect(written).toEqual(Array.from({ length: 6 }, () => message('a')));
    outbox.ack({ type: 'ack', id: 'a', room: 'r', seq: 3 });
    await expect(sent).resolves.toMatchObject({ id: 'a', seq: 3 });
  });

  it('rejects a permanent error at once', async () => {
    const { outbox } = makeOutbox();
    const sent = outbox.add(message('a'));
    outbox.error(error('a', 'forbidden'));
    await expect(sent).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('writes again after a lost connection, and only frames that are ready', () => {
    let ready = false;
    const { outbox, written, host } = makeOutbox({ ready: () => ready });
    void outbox.add(message('a')).catch(() => undefined);
    expect(written).toEqual([]);
    ready = true;
    outbox.flush();
    expect(written).toHaveLength(1);
    host.live = false;
    outbox.requeue();
    outbox.flush();
    expect(written).toHaveLength(1);
    host.live = true;
    outbox.flush();
    expect(written).toHaveLength(2);
    outbox.rejectAll(new GatewayError('closed', 'closed'));
  });

  it('refuses what the server would refuse, and more than its limit', async () => {
    const limits = { maxMessageBytes: 100, maxContentLength: 5, ratePerSec: 10, queueMessages: 10 };
    const { outbox } = makeOutbox({ limits });
    await expect(outbox.add({ ...message('a'), content: '123456' })).rejects.toMatchObject({
      code: 'too_long',
    });
    await expect(outbox.add({ ...message('x'.repeat(65)) })).rejects.toMatchObject({ code: 'invalid' });
    void outbox.add(message('a')).catch(() => undefined);
    await expect(outbox.add(message('a'))).rejects.toMatchObject({ code: 'invalid' });
    void outbox.add(message('b')).catch(() => undefined);
    await expect(outbox.add(message('c'))).rejects.toMatchObject({ code: 'outbox_full' });
    outbox.rejectAll(new GatewayError('closed', 'closed'));
  });
});
