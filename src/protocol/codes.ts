/** Wire error codes, sent in `error {code}` frames. docs/protocol.md has the table with advice. */
export const ErrorCode = {
  /** The frame is not valid JSON. */
  BadJson: 'bad_json',
  /** Not an object, no string `type`, or a field of the wrong shape (`details` names the fields). */
  BadEnvelope: 'bad_envelope',
  /** `content` is longer than MAX_CONTENT_LENGTH. */
  TooLong: 'too_long',
  /** Over the per-connection token bucket; the frame was not processed. */
  RateLimited: 'rate_limited',
  /** The token's `rooms` claim does not allow the room (or too many rooms joined). */
  Forbidden: 'forbidden',
  /** `message`/`leave` for a room the connection has not joined. */
  NotJoined: 'not_joined',
  /** `type` is not a client frame type. */
  UnknownType: 'unknown_type',
  /** A binary frame. */
  Unsupported: 'unsupported',
  /** `auth` with an invalid token or another `sub`. */
  Unauthorized: 'unauthorized',
  /** The cluster bus/history is unreachable; nothing was sent, retry with the same id. */
  Unavailable: 'unavailable',
  /** Unexpected server fault; logged with a stack. */
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** WebSocket close codes and their reasons; the reasons are part of the contract. */
export const Close = {
  GoingAway: { code: 1001, reason: 'going away' },
  TokenExpired: { code: 1008, reason: 'token expired' },
  TooManyErrors: { code: 1008, reason: 'too many errors' },
  /** Sent by `ws` itself when a frame exceeds maxPayload. */
  TooBig: { code: 1009, reason: '' },
  Internal: { code: 1011, reason: 'internal error' },
  SlowConsumer: { code: 1013, reason: 'slow consumer' },
  /** A service called HubService.disconnectUser. */
  Disconnected: { code: 4000, reason: 'disconnected' },
} as const;

/** HTTP refusals at the handshake: status and the `error` field of the JSON body. */
export const Refusal = {
  BadRequest: { status: 400, error: 'bad_request' },
  Unauthorized: { status: 401, error: 'unauthorized' },
  ForbiddenOrigin: { status: 403, error: 'forbidden_origin' },
  NotFound: { status: 404, error: 'not_found' },
  TooManyConnections: { status: 429, error: 'too_many_connections' },
  ServerFull: { status: 503, error: 'server_full' },
  Draining: { status: 503, error: 'draining' },
} as const;
export type Refusal = (typeof Refusal)[keyof typeof Refusal];
