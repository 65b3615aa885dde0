/**
 * Server -> client WebSocket text frames, built once per message and written to many sockets.
 * A server frame is unmasked: FIN|opcode, a 7/16/64-bit length, then the payload (RFC 6455 5.2).
 */
export function textFrame(payload: string): Buffer {
  const len = Buffer.byteLength(payload);
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + len);
  frame[0] = 0x81;
  if (head === 2) {
    frame[1] = len;
  } else if (head === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(len, 6);
  }
  frame.write(payload, head, 'utf8');
  return frame;
}

/** The payload of a frame built by textFrame (a view, no copy). */
export function framePayload(frame: Buffer): Buffer {
  const b1 = frame[1] & 0x7f;
  return frame.subarray(b1 < 126 ? 2 : b1 === 126 ? 4 : 10);
}

/** Encodes a server frame object as a ready-to-write WebSocket frame. */
export function encodeFrame(frame: object): Buffer {
  return textFrame(JSON.stringify(frame));
}
