import type { RoomMessage } from '../protocol/frames.js';

const FRAME = Symbol('replayFrame');

/** A stored message that has been replayed: its `message` frame rides along (JSON ignores symbols). */
interface WithFrame extends RoomMessage {
  [FRAME]?: Buffer;
}

/**
 * The `message` frame of a replayed message (`encode` is room.ts's messageFrame), encoded once per stored message rather than once per
 * replay. Brokers hand out the same message object for every read while they hold it (the memory
 * broker its history ring, the Redis broker its bounded history cache), so the frame lives exactly
 * as long as the broker keeps the message. Live delivery does not come here: it encodes each message
 * once for all members already.
 *
 * The frame gets its own memory (not a slice of Node's shared 8 KiB pool), so a frame kept for long
 * does not pin a pool slab full of short-lived buffers.
 */
export function replayFrame(m: RoomMessage, encode: (m: RoomMessage) => Buffer): Buffer {
  const stored = m as WithFrame;
  let frame = stored[FRAME];
  if (frame === undefined) {
    const encoded = encode(m);
    frame = Buffer.allocUnsafeSlow(encoded.length);
    encoded.copy(frame);
    stored[FRAME] = frame;
  }
  return frame;
}
