/** Server -> client frame shapes (docs/protocol.md). Client frames are the DTOs in envelope.dto.ts. */
export interface UserRef {
  id: string;
  name: string;
}

export interface RoomMessage {
  id: string;
  room: string;
  seq: number;
  time: number;
  sender: UserRef;
  content: string;
}

export interface MessageFrame extends RoomMessage {
  type: 'message';
}

export interface DirectFrame {
  type: 'direct';
  id: string;
  time: number;
  sender: UserRef;
  to: string;
  content: string;
}

export interface WelcomeFrame {
  type: 'welcome';
  session: string;
  user: UserRef;
  time: number;
  heartbeatMs: number;
  limits: { maxMessageBytes: number; maxContentLength: number; ratePerSec: number; queueMessages: number };
}

export interface JoinedFrame {
  type: 'joined';
  room: string;
  seq: number;
  epoch: string;
  recovered: boolean;
  oldestSeq: number;
  members?: UserRef[];
}

export interface PresenceFrame {
  type: 'presence';
  room: string;
  user: UserRef;
  status: 'joined' | 'left';
}

export interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
  ref?: string;
  details?: { field: string; problem: string }[];
}

export type ServerFrame =
  | WelcomeFrame
  | MessageFrame
  | DirectFrame
  | JoinedFrame
  | PresenceFrame
  | ErrorFrame
  | { type: 'left'; room: string }
  | { type: 'ack'; id: string; room?: string; seq?: number }
  | { type: 'pong'; time: number; id?: string }
  | { type: 'authed'; exp: number | null };
