/**
 * Server -> client frame shapes (docs/protocol.md). They are defined once, in the typed client
 * (src/client/frames.ts, which has to build for the browser without the server), and the server
 * uses the same declarations. Client frames are validated through the DTOs in envelope.dto.ts.
 */
import type { MessageFrame } from '../client/frames.js';

export type {
  DirectFrame,
  ErrorFrame,
  JoinedFrame,
  MessageFrame,
  PresenceFrame,
  ServerFrame,
  UserRef,
  WelcomeFrame,
} from '../client/frames.js';

/** A room message as stored in history and carried by the broker: the `message` frame without `type`. */
export type RoomMessage = Omit<MessageFrame, 'type'>;
