import { BrokerUnavailableError } from '../cluster/broker.js';

/**
 * Why the hub refused an operation, transport-free: the WebSocket filter turns it into an `error`
 * frame with the same code, the push filter into an HTTP answer. The codes are a subset of the wire's
 * error codes (docs/protocol.md).
 */
export const HubErrorCode = {
  /** The token's `rooms` claim does not allow the room, or the connection has joined too many. */
  Forbidden: 'forbidden',
  /** A message to or a leave of a room the connection has not joined. */
  NotJoined: 'not_joined',
  /** Over a per-connection budget (history replay); nothing was done: retry later. */
  RateLimited: 'rate_limited',
  /** The cluster bus or history is unreachable; nothing was sent. */
  Unavailable: 'unavailable',
} as const;
export type HubErrorCode = (typeof HubErrorCode)[keyof typeof HubErrorCode];

export class HubError extends Error {
  override name = 'HubError';

  constructor(
    readonly code: HubErrorCode,
    message: string,
    /** Retrying the same operation (with the same id) may succeed later. */
    readonly temporary = false,
    /**
     * The refusal is the client's doing (over its own budget, not allowed, ...): over WebSocket it
     * counts toward ERROR_LIMIT. False for the server's own state that the client cannot see (a
     * slow publish hook's backlog). `unavailable` never counts, whatever this says.
     */
    readonly byClient = true,
  ) {
    super(message);
  }
}

/** A broker outage as the hub reports it; any other error passes through unchanged. */
export function toHubError(err: unknown): unknown {
  if (err instanceof BrokerUnavailableError) {
    return new HubError(
      HubErrorCode.Unavailable,
      'the message bus is unavailable; retry with the same id',
      true,
    );
  }
  return err;
}
