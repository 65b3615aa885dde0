import { HttpException } from '@nestjs/common';
import { type HubError, HubErrorCode } from '../hub/hub-error.js';
import type { FieldProblem } from '../protocol/ws-error.js';

/** The push API's error answers: `{error, message, details?}` like the handshake refusals. */
export const PushError = {
  BadRequest: { status: 400, error: 'bad_request' },
  Unauthorized: { status: 401, error: 'unauthorized' },
  Forbidden: { status: 403, error: 'forbidden' },
  NotFound: { status: 404, error: 'not_found' },
  TooLarge: { status: 413, error: 'payload_too_large' },
  RateLimited: { status: 429, error: 'rate_limited' },
  Draining: { status: 503, error: 'draining' },
  Unavailable: { status: 503, error: 'unavailable' },
} as const;
export type PushError = (typeof PushError)[keyof typeof PushError];

export class PushHttpError extends HttpException {
  constructor(
    kind: PushError,
    message: string,
    details?: FieldProblem[],
    readonly headers: Record<string, string> = {},
  ) {
    super({ error: kind.error, message, ...(details ? { details } : {}) }, kind.status);
  }
}

/**
 * The push API's answer to a hub failure. Every HubError code maps to one answer; a temporary one
 * says when to retry.
 */
export function fromHubError(err: HubError): PushHttpError {
  const retry: Record<string, string> = err.temporary ? { 'Retry-After': '1' } : {};
  switch (err.code) {
    case HubErrorCode.Unavailable:
      return new PushHttpError(
        PushError.Unavailable,
        'the message bus is unavailable; retry with the same Idempotency-Key',
        undefined,
        retry,
      );
    case HubErrorCode.Forbidden:
      return new PushHttpError(PushError.Forbidden, err.message, undefined, retry);
    case HubErrorCode.NotJoined:
      return new PushHttpError(PushError.BadRequest, err.message, undefined, retry);
    case HubErrorCode.RateLimited:
      return new PushHttpError(PushError.RateLimited, err.message, undefined, retry);
  }
}

export { fieldProblems } from '../protocol/ws-error.js';
