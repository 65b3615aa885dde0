import * as wsModule from 'ws';
import { encodeFrame, framePayload, textFrame } from './frame.js';

/** ws's frame parser (exported at runtime, not in @types/ws). */
const Receiver = (
  wsModule as unknown as {
    Receiver: new (o: { isServer: boolean }) => NodeJS.WritableStream & NodeJS.EventEmitter;
  }
).Receiver;

/** Decodes frames with ws's own Receiver (the client side of the wire). */
function decode(buf: Buffer): string[] {
  const out: string[] = [];
  const r = new Receiver({ isServer: false });
  r.on('message', (data: Buffer) => out.push(data.toString()));
  r.write(buf);
  return out;
}

describe('textFrame', () => {
  it.each([0, 1, 125, 126, 65535, 65536, 200000])('encodes a %i-byte payload that ws decodes', (n) => {
    const payload = 'x'.repeat(n);
    const frame = textFrame(payload);
    expect(decode(frame)).toEqual([payload]);
    expect(framePayload(frame).toString()).toBe(payload);
  });

  it('counts UTF-8 bytes, not characters', () => {
    const payload = JSON.stringify({ content: 'héllo 😀'.repeat(30) });
    expect(decode(textFrame(payload))).toEqual([payload]);
  });

  it('keeps frame boundaries when frames are concatenated into one write', () => {
    const frames = ['a', 'b'.repeat(300), JSON.stringify({ type: 'x' })].map(textFrame);
    expect(decode(Buffer.concat(frames))).toEqual(['a', 'b'.repeat(300), '{"type":"x"}']);
  });

  it('encodeFrame is the JSON of the object', () => {
    expect(decode(encodeFrame({ type: 'pong', time: 1 }))).toEqual(['{"type":"pong","time":1}']);
  });
});
