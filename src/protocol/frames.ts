/**
 * Frame types for server code: the wire's frames (src/protocol/wire/frames.ts, shared with the
 * typed client) plus the shapes only the server uses. Client frames are validated through the DTOs
 * in envelope.dto.ts.
 */
import type { MessageFrame } from './wire/frames.js';

export type * from './wire/frames.js';

/** A room message as stored in history and carried by the broker: the `message` frame without `type`. */
export type RoomMessage = Omit<MessageFrame, 'type'>;
