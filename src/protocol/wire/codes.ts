// The wire's code tables: error codes of `error` frames, close codes with their reasons and the
// reconnect advice for each, and the HTTP refusals of the handshake with their messages. Each is
// written once, here; docs/protocol.md documents the same tables for people.

/** Wire error codes, sent in `error {code}` frames. */
export const ErrorCode = {
  /** The frame is not valid JSON: fix the client. */
  BadJson: 'bad_json',
  /** Not an object, no string `type`, or a field of the wrong shape (`details` names the fields). */
  BadEnvelope: 'bad_envelope',
  /** `content` is longer than MAX_CONTENT_LENGTH: shorten it. */
  TooLong: 'too_long',
  /** Over the per-connection token bucket; the frame was not processed: retry with the same id. */
  RateLimited: 'rate_limited',
  /**
   * The token's `rooms` claim does not allow the room (or too many rooms joined), its `publish`
   * claim does not allow sending there, or a join/publish hook refused.
   */
  Forbidden: 'forbidden',
  /** `message`/`leave` for a room the connection has not joined: join first. */
  NotJoined: 'not_joined',
  /** `type` is not a client frame type. */
  UnknownType: 'unknown_type',
  /** A binary frame: send text. */
  Unsupported: 'unsupported',
  /** `auth` with an invalid token or another `sub`: get a new token. */
  Unauthorized: 'unauthorized',
  /** The cluster bus/history is unreachable; nothing was sent: retry with the same id. */
  Unavailable: 'unavailable',
  /** Unexpected server fault, logged with a stack: retry. */
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Errors that may pass: the same frame (same `id`) can be retried after a delay. */
export const TEMPORARY_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.RateLimited,
  ErrorCode.Unavailable,
  ErrorCode.Internal,
]);

/**
 * What a client should do after a close:
 * - `backoff`: reconnect with backoff, same token;
 * - `resume`: reconnect with backoff and rejoin each room with `since` (nothing is lost that history holds);
 * - `new_token`: get a new token first, then reconnect;
 * - `never`: do not reconnect without a decision of the application.
 */
export type Reconnect = 'backoff' | 'resume' | 'new_token' | 'never';

export interface CloseInfo {
  code: number;
  /** The close frame's reason: part of the contract. */
  reason: string;
  reconnect: Reconnect;
}

/** The closes the server sends, each with its reason and the reconnect advice side by side. */
export const Close = {
  /** The instance is draining (SIGTERM). */
  GoingAway: { code: 1001, reason: 'going away', reconnect: 'backoff' },
  /** The token's `exp` passed without an `auth` refresh. */
  TokenExpired: { code: 1008, reason: 'token expired', reconnect: 'new_token' },
  /** ERROR_LIMIT error frames within ERROR_WINDOW_MS: fix the client. Its code is TokenExpired's. */
  TooManyErrors: { code: 1008, reason: 'too many errors', reconnect: 'new_token' },
  /** The outbound queue overflowed; history lets the client resume. */
  SlowConsumer: { code: 1013, reason: 'slow consumer', reconnect: 'resume' },
  /** A service called HubService.disconnectUser (which may give another reason). */
  Disconnected: { code: 4000, reason: 'disconnected', reconnect: 'never' },
  /**
   * The connection's token was revoked (POST /api/tokens/revoke): a new token is needed, and one
   * issued before the revocation is refused too.
   */
  TokenRevoked: { code: 4001, reason: 'token revoked', reconnect: 'new_token' },
} as const satisfies Record<string, CloseInfo>;

/** Close codes a client may see: the server's (Close) and those of the socket library or network. */
export const CloseCode = {
  GoingAway: Close.GoingAway.code,
  /** No close frame at all (network drop, process killed): reconnect with backoff. */
  Abnormal: 1006,
  /** Close.TokenExpired or Close.TooManyErrors. */
  PolicyViolation: Close.TokenExpired.code,
  /** Sent by `ws` for a frame larger than maxMessageBytes: do not resend that frame. */
  MessageTooBig: 1009,
  /** A peer's internal error: reconnect with backoff. */
  InternalError: 1011,
  TryAgainLater: Close.SlowConsumer.code,
  Disconnected: Close.Disconnected.code,
  TokenRevoked: Close.TokenRevoked.code,
} as const;

/** A refused handshake: an HTTP status, the `error` of the JSON body and its default `message`. */
export interface RefusalInfo {
  status: number;
  error: string;
  message: string;
}

/** HTTP refusals at the handshake, answered before any upgrade with a body `{error, message}`. */
export const Refusal = {
  BadRequest: { status: 400, error: 'bad_request', message: 'not a valid WebSocket upgrade request' },
  Unauthorized: { status: 401, error: 'unauthorized', message: 'a valid token is required' },
  ForbiddenOrigin: { status: 403, error: 'forbidden_origin', message: 'this origin is not allowed' },
  /** The connect hook refused the connection (its message replaces this one). */
  Forbidden: { status: 403, error: 'forbidden', message: 'the connection was refused' },
  NotFound: { status: 404, error: 'not_found', message: 'no WebSocket endpoint here' },
  TooManyConnections: {
    status: 429,
    error: 'too_many_connections',
    message: 'too many connections from this address or user',
  },
  ServerFull: { status: 503, error: 'server_full', message: 'the server is at its connection limit' },
  Draining: { status: 503, error: 'draining', message: 'this instance is shutting down; reconnect' },
  /**
   * The handshake could not be checked now: a `?ticket=` whose store (Redis) is unreachable, or a
   * connect hook that failed (timeout, non-2xx, unreachable) with HOOK_FAIL_OPEN off. Retry.
   */
  Unavailable: { status: 503, error: 'unavailable', message: 'the handshake cannot be checked now; retry' },
  Internal: { status: 500, error: 'internal', message: 'internal error' },
} as const satisfies Record<string, RefusalInfo>;
export type Refusal = (typeof Refusal)[keyof typeof Refusal];

/** Body of a refused handshake. */
export interface HandshakeRefusal {
  error: Refusal['error'];
  message: string;
}
