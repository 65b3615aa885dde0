// Wire protocol v1 frame shapes (docs/protocol.md is the contract they follow). The server and the
// typed client both compile this file, the client for the browser: no Node or Nest import here.

import type { ErrorCode } from './codes.js';

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
  /** Replay the last `last` messages history holds (1..MAX_JOIN_LAST); not together with `since`. */
  last?: number;
}

export interface LeaveFrame {
  type: 'leave';
  room: string;
}

export interface MessageFrameOut {
  type: 'message';
  room: string;
  content: string;
  /** 1..MAX_ID_LENGTH characters; echoed in `ack`, in the delivered `message` and as `ref` in errors; dedup key. */
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
  /**
   * True when every message after `since` was replayed, but those kept out of history
   * (`skipHistory`), which are no loss (always true without `since`).
   */
  recovered: boolean;
  /** The lowest seq history still holds (`seq + 1` when it holds nothing). */
  oldestSeq: number;
  /** One entry per user; present when the room has at most PRESENCE_MAX_MEMBERS members. */
  members?: UserRef[];
  /** `false` when the token's `publish` claim does not allow `message` frames here (read-only); absent otherwise. */
  publish?: false;
}

/**
 * The room's history generation changed under a member (the server lost the room's history): seqs
 * start over in `epoch`. Comes before the first message of the new epoch; `seq` is the new epoch's
 * last seq before that message (the member resumes from it), `oldestSeq` the lowest seq still held.
 * In the member's current epoch: the messages after its last seq up to `seq` were lost on their way
 * to its instance (its subscription was cut for longer than history covers); seqs go on after `seq`.
 */
export interface ResetFrame {
  type: 'reset';
  room: string;
  epoch: string;
  seq: number;
  oldestSeq: number;
}

/**
 * Why a connection is no longer in a room (`left.reason`):
 * - `leave`: the client's own `leave` frame;
 * - `forbidden`: an `auth` refresh whose `rooms` claim no longer allows the room;
 * - `removed`: a service took the user out of the room (`POST /api/users/:id/rooms/:room/leave`).
 */
export const LeftReason = {
  Leave: 'leave',
  Forbidden: 'forbidden',
  Removed: 'removed',
} as const;
export type LeftReason = (typeof LeftReason)[keyof typeof LeftReason];

export interface LeftFrame {
  type: 'left';
  room: string;
  /** Absent from older servers; a reason other than `leave` means the server took the room away. */
  reason?: LeftReason;
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
  | ResetFrame
  | LeftFrame
  | PresenceFrame
  | AckFrame
  | PongFrame
  | AuthedFrame
  | ErrorFrame;

export type ServerFrameType = ServerFrame['type'];

/** Maps a server frame type to its shape: `FrameOf<'joined'>` is `JoinedFrame`. */
export type FrameOf<T extends ServerFrameType> = Extract<ServerFrame, { type: T }>;

/** Each server frame type once; a type missing here is a compile error. */
const SERVER_FRAME_TYPE_SET: Record<ServerFrameType, true> = {
  welcome: true,
  message: true,
  direct: true,
  joined: true,
  reset: true,
  left: true,
  presence: true,
  ack: true,
  pong: true,
  authed: true,
  error: true,
};

/** Every server frame type, for code that enumerates them (event names, tests). */
export const SERVER_FRAME_TYPES = Object.keys(SERVER_FRAME_TYPE_SET) as readonly ServerFrameType[];
