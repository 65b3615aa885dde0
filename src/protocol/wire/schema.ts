// The wire's frames as data: every client and server frame type with its fields, their types,
// whether each is required and its limits. The AsyncAPI document (GET /asyncapi.json) is generated
// from this table, so adding a frame or a field is one entry here. The `satisfies` clauses make the
// table follow frames.ts at compile time: a frame type or a field missing here, or one frames.ts
// does not have, or a required-ness or JSON type that differs, is a type error. The client DTOs'
// class-validator rules are compared with it in schema.spec.ts.

import { type Close, CloseCode, ErrorCode, type Reconnect } from './codes.js';
import type { ClientFrame, ErrorDetail, Limits, ServerFrame, UserRef } from './frames.js';
import {
  MAX_ID_LENGTH,
  MAX_JOIN_LAST,
  MAX_TOKEN_LENGTH,
  MAX_USER_ID_LENGTH,
  MAX_ROOM_LENGTH,
  ROOM_NAME,
} from './limits.js';

/** The shared object shapes that fields refer to by name (`ref`, `items`). */
export type ObjectName = 'UserRef' | 'Limits' | 'ErrorDetail';

/** One field of a frame, in the terms of JSON Schema. */
export interface FieldSchema {
  type: 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array';
  required: boolean;
  /** The value may also be `null`. */
  nullable?: boolean;
  description?: string;
  minLength?: number;
  maxLength?: number;
  /** A JavaScript RegExp source that is also a valid JSON Schema (ECMA-262) pattern. */
  pattern?: string;
  minimum?: number;
  maximum?: number;
  enum?: readonly string[];
  /** For `object`: the shape's name. */
  ref?: ObjectName;
  /** For `array`: the items' shape. */
  items?: ObjectName;
  /** Another field of the same frame that must not be given together with this one. */
  notWith?: string;
}

/** A frame or object shape: a description and its fields (`type` excluded). */
export interface ShapeSchema {
  description: string;
  fields: Record<string, FieldSchema>;
}

// Compile-time agreement between a frame interface and its entry.
type Json<V> = [V] extends [string]
  ? 'string'
  : [V] extends [number]
    ? 'integer' | 'number'
    : [V] extends [boolean]
      ? 'boolean'
      : [V] extends [readonly unknown[]]
        ? 'array'
        : 'object';
type Field<F, K extends keyof F> = FieldSchema & {
  type: Json<Exclude<F[K], null | undefined>>;
  // Optional in F when an object without the field is assignable to Pick<F, K>.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  required: {} extends Pick<F, K> ? false : true;
} & (null extends F[K] ? { nullable: true } : { nullable?: false });
/** The entry a shape F must have: exactly F's fields (less `type`), each with its JSON type and required-ness. */
export type ShapeOf<F> = {
  description: string;
  fields: { [K in Exclude<keyof F, 'type'>]-?: Field<F, K> };
};

type ClientFrameType = ClientFrame['type'];
type ServerFrameType = ServerFrame['type'];

const room = (description: string) =>
  ({
    type: 'string',
    required: true,
    // The pattern holds the length rule too (1..MAX_ROOM_LENGTH), as the DTOs' single check does.
    pattern: ROOM_NAME.source,
    description: `${description} 1..${MAX_ROOM_LENGTH} characters of A-Z a-z 0-9 _ - . :`,
  }) as const;
const clientId = {
  type: 'string',
  required: false,
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  description:
    'Given by the client: echoed in `ack`, in the delivered frame and as `ref` in errors; the deduplication key.',
} as const;
const time = (description: string) => ({ type: 'integer', required: true, description }) as const;
const user = (description: string) =>
  ({ type: 'object', required: true, ref: 'UserRef', description }) as const;

/** Shapes that frames refer to. */
export const OBJECT_SCHEMAS = {
  UserRef: {
    description: 'A user as the server names it.',
    fields: {
      id: { type: 'string', required: true, description: "The token's `sub`." },
      name: { type: 'string', required: true, description: "The token's `name` (defaults to `sub`)." },
    },
  },
  Limits: {
    description: "The server's configured limits for this connection.",
    fields: {
      maxMessageBytes: {
        type: 'integer',
        required: true,
        description: 'Largest frame in bytes (MAX_MESSAGE_BYTES).',
      },
      maxContentLength: {
        type: 'integer',
        required: true,
        description: 'Longest `content` in UTF-16 code units (MAX_CONTENT_LENGTH); longer is `too_long`.',
      },
      ratePerSec: {
        type: 'integer',
        required: true,
        description: 'Client frames per second (token bucket, same burst).',
      },
      queueMessages: {
        type: 'integer',
        required: true,
        description: 'Outbound queue length before close 1013.',
      },
    },
  },
  ErrorDetail: {
    description: 'One invalid field of a client frame.',
    fields: {
      field: { type: 'string', required: true, description: 'The field name.' },
      problem: { type: 'string', required: true, description: 'What is wrong with it.' },
    },
  },
} as const satisfies {
  UserRef: ShapeOf<UserRef>;
  Limits: ShapeOf<Limits>;
  ErrorDetail: ShapeOf<ErrorDetail>;
};

/** Client -> server frames, one entry per type. */
export const CLIENT_FRAME_SCHEMAS = {
  join: {
    description: 'Join a room; the server replays history after `since`, then answers `joined`.',
    fields: {
      room: room('The room to join.'),
      since: {
        type: 'integer',
        required: false,
        minimum: 0,
        description: 'Replay the messages with seq > since.',
      },
      epoch: {
        type: 'string',
        required: false,
        minLength: 1,
        maxLength: MAX_ID_LENGTH,
        description:
          "The room's history generation last seen; a different current epoch answers recovered: false.",
      },
      last: {
        type: 'integer',
        required: false,
        minimum: 1,
        maximum: MAX_JOIN_LAST,
        notWith: 'since',
        description:
          'Replay the last N messages history holds (a first join); not together with `since`. Budgeted like any replay.',
      },
    },
  },
  leave: {
    description: 'Leave a room; answered by `left`.',
    fields: { room: room('The room to leave.') },
  },
  message: {
    description: 'Publish to a joined room; answered by `ack` and delivered as `message` to every member.',
    fields: {
      room: room('A room the connection has joined.'),
      content: {
        type: 'string',
        required: true,
        description: 'At most `welcome.limits.maxContentLength` UTF-16 code units; longer is `too_long`.',
      },
      id: clientId,
    },
  },
  direct: {
    description: "Send to every connection of a user (and the sender's); answered by `ack`.",
    fields: {
      to: {
        type: 'string',
        required: true,
        minLength: 1,
        maxLength: MAX_USER_ID_LENGTH,
        description: 'The user id (token `sub`) to send to.',
      },
      content: {
        type: 'string',
        required: true,
        description: 'At most `welcome.limits.maxContentLength` UTF-16 code units; longer is `too_long`.',
      },
      id: clientId,
    },
  },
  ping: {
    description: 'Application-level ping; answered by `pong`.',
    fields: { id: clientId },
  },
  auth: {
    description: "Replace the connection's token (same `sub`) before it expires; answered by `authed`.",
    fields: {
      token: {
        type: 'string',
        required: true,
        minLength: 1,
        maxLength: MAX_TOKEN_LENGTH,
        description: 'A JWT for the same `sub`.',
      },
    },
  },
} as const satisfies { [T in ClientFrameType]: ShapeOf<Extract<ClientFrame, { type: T }>> };

/** Server -> client frames, one entry per type (SERVER_FRAME_TYPES). */
export const SERVER_FRAME_SCHEMAS = {
  welcome: {
    description: 'Always the first frame of a connection.',
    fields: {
      session: { type: 'string', required: true, description: "This connection's id." },
      user: user('The authenticated user.'),
      time: time('Server time, epoch milliseconds.'),
      heartbeatMs: { type: 'integer', required: true, description: 'The server pings every heartbeatMs.' },
      limits: { type: 'object', required: true, ref: 'Limits', description: 'The limits in force.' },
    },
  },
  message: {
    description: 'A room message (live, or replayed after a `join` with `since`).',
    fields: {
      id: { type: 'string', required: true, description: "The sender's `id`, or a server-made unique id." },
      room: { type: 'string', required: true, description: 'The room.' },
      seq: { type: 'integer', required: true, description: "The message's position in the room, from 1." },
      time: time('Set by the server, epoch milliseconds.'),
      sender: user('The sender, from its token.'),
      content: { type: 'string', required: true, description: 'The text.' },
    },
  },
  direct: {
    description: 'A direct message, to every connection of `to` and of the sender.',
    fields: {
      id: { type: 'string', required: true, description: "The sender's `id`, or a server-made unique id." },
      time: time('Set by the server, epoch milliseconds.'),
      sender: user('The sender, from its token.'),
      to: { type: 'string', required: true, description: 'The recipient user id.' },
      content: { type: 'string', required: true, description: 'The text.' },
    },
  },
  joined: {
    description: 'Answers `join`, after any replayed messages.',
    fields: {
      room: { type: 'string', required: true, description: 'The room.' },
      seq: {
        type: 'integer',
        required: true,
        description: 'The last seq the client now has for the room (after the replay).',
      },
      epoch: { type: 'string', required: true, description: "The room's history generation." },
      recovered: {
        type: 'boolean',
        required: true,
        description:
          'True when every message after `since` was replayed, but those kept out of history (`skipHistory`), which are no loss (always true without `since`).',
      },
      oldestSeq: {
        type: 'integer',
        required: true,
        description: 'The lowest seq history still holds (`seq + 1` when it holds nothing).',
      },
      members: {
        type: 'array',
        required: false,
        items: 'UserRef',
        description: 'One entry per user; present when the room has at most PRESENCE_MAX_MEMBERS members.',
      },
      publish: {
        type: 'boolean',
        required: false,
        description:
          "`false` when the token's `publish` claim does not allow this room (read-only: `message` there is `forbidden`); absent otherwise.",
      },
    },
  },
  reset: {
    description:
      "The room's history generation changed under the member: seqs start over in `epoch`. Comes before the first message of the new epoch. In the member's current epoch: the messages after its last seq up to `seq` were lost on their way to its instance (history no longer held them); seqs go on after `seq`.",
    fields: {
      room: { type: 'string', required: true, description: 'The room.' },
      epoch: {
        type: 'string',
        required: true,
        description: 'The new history generation (or the current one: a loss).',
      },
      seq: {
        type: 'integer',
        required: true,
        description: "The new epoch's last seq before the next message (the member resumes from it).",
      },
      oldestSeq: { type: 'integer', required: true, description: 'The lowest seq history still holds.' },
    },
  },
  left: {
    description:
      'The connection is no longer in the room: its own `leave`, or the server took the room away.',
    fields: {
      room: { type: 'string', required: true, description: 'The room.' },
      reason: {
        type: 'string',
        required: false,
        enum: ['leave', 'forbidden', 'removed'],
        description:
          '`leave` (its own leave), `forbidden` (an `auth` refresh no longer allows the room), `removed` (a service removed the user); any reason but `leave`: do not rejoin blindly.',
      },
    },
  },
  presence: {
    description: "A user's first connection joined or last connection left the room.",
    fields: {
      room: { type: 'string', required: true, description: 'The room.' },
      user: user('The user.'),
      status: { type: 'string', required: true, enum: ['joined', 'left'], description: 'What happened.' },
    },
  },
  ack: {
    description: 'A `message` or `direct` was accepted.',
    fields: {
      id: { type: 'string', required: true, description: "The client frame's `id`." },
      room: { type: 'string', required: false, description: 'For room messages.' },
      seq: {
        type: 'integer',
        required: false,
        description: 'For room messages: the seq given to the message.',
      },
    },
  },
  pong: {
    description: 'Answers `ping`.',
    fields: {
      time: time('Server time, epoch milliseconds.'),
      id: { type: 'string', required: false, description: "The ping's `id`." },
    },
  },
  authed: {
    description: 'Answers `auth`: the new token is in force.',
    fields: {
      exp: {
        type: 'integer',
        required: true,
        nullable: true,
        description: "The new token's `exp` (epoch seconds); null when it has none.",
      },
    },
  },
  error: {
    description: 'A client frame failed; the connection stays open.',
    fields: {
      code: {
        type: 'string',
        required: true,
        enum: Object.values(ErrorCode),
        description: 'See ERROR_CODE_DESCRIPTIONS.',
      },
      message: { type: 'string', required: true, description: 'For people.' },
      ref: { type: 'string', required: false, description: "The client frame's `id`, when it had one." },
      details: {
        type: 'array',
        required: false,
        items: 'ErrorDetail',
        description: 'For `bad_envelope`: the invalid fields.',
      },
    },
  },
} as const satisfies { [T in ServerFrameType]: ShapeOf<Extract<ServerFrame, { type: T }>> };

/** What each error code means and what a client should do. */
export const ERROR_CODE_DESCRIPTIONS: Record<ErrorCode, string> = {
  bad_json: 'The frame is not valid JSON: fix the client.',
  bad_envelope:
    'Not an object, no string `type`, or a field of the wrong shape (`details` names the fields): fix the client.',
  too_long: '`content` is longer than MAX_CONTENT_LENGTH: shorten it.',
  rate_limited:
    'Over the per-connection rate limit; the frame was not processed: retry later with the same `id`.',
  forbidden: "The token's `rooms` claim does not allow the room, or too many rooms joined.",
  not_joined: '`message`/`leave` for a room the connection has not joined: join first.',
  unknown_type: '`type` is not a client frame type: fix the client.',
  unsupported: 'A binary frame: send text.',
  unauthorized: '`auth` with an invalid token or another `sub`: get a new token.',
  unavailable: 'The cluster bus/history is unreachable; nothing was sent: retry with the same `id`.',
  internal: 'Unexpected server fault: retry.',
};

/** What each close the server sends means (the codes, reasons and advice are in Close). */
export const CLOSE_DESCRIPTIONS: Record<keyof typeof Close, string> = {
  GoingAway: 'The instance is draining (SIGTERM).',
  TokenExpired: "The token's `exp` passed without an `auth` refresh.",
  TooManyErrors: 'ERROR_LIMIT error frames within ERROR_WINDOW_MS: fix the client.',
  SlowConsumer: 'The outbound queue overflowed; the queued frames were dropped.',
  Disconnected: 'A service called disconnectUser (which may give another reason).',
  TokenRevoked: 'The token was revoked (POST /api/tokens/revoke): get a new token.',
};

/** Closes a client may see that the server does not send itself (socket library, network). */
export const OTHER_CLOSES: readonly { code: number; reconnect: Reconnect; description: string }[] = [
  {
    code: CloseCode.Abnormal,
    reconnect: 'backoff',
    description:
      'No close frame at all (network drop, process killed, or a refused handshake seen by a browser).',
  },
  {
    code: CloseCode.MessageTooBig,
    reconnect: 'backoff',
    description: 'Sent by `ws` for a frame larger than maxMessageBytes: do not resend that frame.',
  },
  { code: CloseCode.InternalError, reconnect: 'backoff', description: "A peer's internal error." },
];

/** One parameter of the WebSocket handshake (GET /ws). */
export interface HandshakeParam {
  name: string;
  in: 'query' | 'header';
  description: string;
}

/** The handshake's parameters: how a client authenticates and what it may ask for before `welcome`. */
export const HANDSHAKE_PARAMS: readonly HandshakeParam[] = [
  {
    name: 'Authorization',
    in: 'header',
    description: '`Bearer <jwt>`; wins over the `token` query parameter.',
  },
  { name: 'token', in: 'query', description: 'The JWT, for clients that cannot set headers (browsers).' },
  {
    name: 'rooms',
    in: 'query',
    description: 'Comma-separated rooms joined right after `welcome`, each as a `join` frame would.',
  },
];
