// Wire protocol v1 frame shapes, copied from docs/protocol.md (the source of truth).
// This file is shared by the browser build and Node callers: types only, no imports.

/** A user as the server names it: `id` is the token's `sub`, `name` its display name. */
export interface UserRef {
  id: string;
  name: string;
}

// ---------------------------------------------------------------------------------------------
// Client -> server

export interface JoinFrame {
  type: 'join';
  room: string;
  /** Replay the messages with seq > since (integer >= 0). */
  since?: number;
  /** The room's history generation last seen; a different current epoch answers recovered:false. */
  epoch?: string;
}

export interface LeaveFrame {
  type: 'leave';
  room: string;
}

export interface MessageFrameOut {
  type: 'message';
  room: string;
  content: string;
  /** 1..64 characters; echoed in `ack`, in the delivered `message` and as `ref` in errors; dedup key. */
  id?: string;
}

export interface DirectFrameOut {
  type: 'direct';
  to: string;
  content: string;
  id?: string;
}

export interface PingFrame {
  type: 'ping';
  id?: string;
}

export interface AuthFrame {
  type: 'auth';
  token: string;
}

export type ClientFrame = JoinFrame | LeaveFrame | MessageFrameOut | DirectFrameOut | PingFrame | AuthFrame;

// ---------------------------------------------------------------------------------------------
// Server -> client

export interface Limits {
  maxMessageBytes: number;
  maxContentLength: number;
  ratePerSec: number;
  queueMessages: number;
}

export interface WelcomeFrame {
  type: 'welcome';
  session: string;
  user: UserRef;
  /** Epoch milliseconds. */
  time: number;
  heartbeatMs: number;
  limits: Limits;
}

export interface MessageFrame {
  type: 'message';
  id: string;
  room: string;
  seq: number;
  time: number;
  sender: UserRef;
  content: string;
}

export interface DirectFrame {
  type: 'direct';
  id: string;
  time: number;
  sender: UserRef;
  to: string;
  content: string;
}

export interface JoinedFrame {
  type: 'joined';
  room: string;
  /** The last seq the client now has for the room (after the replay). */
  seq: number;
  epoch: string;
  /** True when every message after `since` was replayed (always true without `since`). */
  recovered: boolean;
  /** The lowest seq history still holds (`seq + 1` when it holds nothing). */
  oldestSeq: number;
  /** One entry per user; present when the room has at most PRESENCE_MAX_MEMBERS members. */
  members?: UserRef[];
}

export interface LeftFrame {
  type: 'left';
  room: string;
}

export interface PresenceFrame {
  type: 'presence';
  room: string;
  user: UserRef;
  status: 'joined' | 'left';
}

export interface AckFrame {
  type: 'ack';
  id: string;
  /** Present for room messages. */
  room?: string;
  seq?: number;
}

export interface PongFrame {
  type: 'pong';
  time: number;
  id?: string;
}

export interface AuthedFrame {
  type: 'authed';
  /** Expiry of the new token (JWT `exp`, epoch seconds); null when the token has none. */
  exp: number | null;
}

export type ErrorCode =
  | 'bad_json'
  | 'bad_envelope'
  | 'too_long'
  | 'rate_limited'
  | 'forbidden'
  | 'not_joined'
  | 'unknown_type'
  | 'unsupported'
  | 'unauthorized'
  | 'unavailable'
  | 'internal';

export interface ErrorDetail {
  field: string;
  problem: string;
}

export interface ErrorFrame {
  type: 'error';
  code: ErrorCode;
  message: string;
  /** The client frame's `id`, when it had one. */
  ref?: string;
  details?: ErrorDetail[];
}

export type ServerFrame =
  | WelcomeFrame
  | MessageFrame
  | DirectFrame
  | JoinedFrame
  | LeftFrame
  | PresenceFrame
  | AckFrame
  | PongFrame
  | AuthedFrame
  | ErrorFrame;

export type ServerFrameType = ServerFrame['type'];

/** Maps a server frame type to its shape: `FrameOf<'joined'>` is `JoinedFrame`. */
export type FrameOf<T extends ServerFrameType> = Extract<ServerFrame, { type: T }>;

export const SERVER_FRAME_TYPES: readonly ServerFrameType[] = [
  'welcome',
  'message',
  'direct',
  'joined',
  'left',
  'presence',
  'ack',
  'pong',
  'authed',
  'error',
];

// ---------------------------------------------------------------------------------------------
// Handshake refusals (HTTP answers before the upgrade) and close codes.

/** Body of a refused handshake: `{error, message}`. */
export interface HandshakeRefusal {
  error:
    | 'bad_request'
    | 'unauthorized'
    | 'forbidden_origin'
    | 'not_found'
    | 'too_many_connections'
    | 'server_full'
    | 'draining';
  message: string;
}

/** Close codes the server uses, with the client's reaction in gateway-client.ts. */
export const CloseCode = {
  /** Instance draining (SIGTERM), reason "going away": reconnect with backoff. */
  GoingAway: 1001,
  /** No close frame at all (network drop, process killed). */
  Abnormal: 1006,
  /** "token expired" or "too many errors": get a new token before reconnecting. */
  PolicyViolation: 1008,
  /** A frame larger than maxMessageBytes: do not resend it. */
  MessageTooBig: 1009,
  /** "internal error": reconnect. */
  InternalError: 1011,
  /** "slow consumer": reconnect and resume with since. */
  TryAgainLater: 1013,
  /** A service called disconnectUser: do not reconnect blindly. */
  Disconnected: 4000,
} as const;

/** Room names: 1..64 characters from A-Z a-z 0-9 _ - . : */
export const ROOM_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Maximum length of a client-given `id`. */
export const MAX_ID_LENGTH = 64;
