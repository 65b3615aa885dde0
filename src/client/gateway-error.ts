import type { ErrorCode } from '../protocol/wire/codes.js';
import type { ErrorDetail, ErrorFrame } from '../protocol/wire/frames.js';

/** Client-side failure codes, next to the server's `ErrorCode`s. */
export type ClientErrorCode =
  'offline' | 'closed' | 'outbox_full' | 'too_large' | 'invalid' | 'left' | 'no_token' | 'refused';

/** Rejection of `send`, `direct`, `join`, `connect`: a server `error` frame or a client-side failure. */
export class GatewayError extends Error {
  readonly code: ErrorCode | ClientErrorCode;
  readonly ref?: string;
  readonly details?: ErrorDetail[];
  /** True when the server sent it as an `error` frame. */
  readonly fromServer: boolean;

  constructor(
    code: ErrorCode | ClientErrorCode,
    message: string,
    extra: { ref?: string; details?: ErrorDetail[]; fromServer?: boolean } = {},
  ) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.ref = extra.ref;
    this.details = extra.details;
    this.fromServer = extra.fromServer ?? false;
  }

  static fromFrame(frame: ErrorFrame): GatewayError {
    return new GatewayError(frame.code, frame.message, {
      ref: frame.ref,
      details: frame.details,
      fromServer: true,
    });
  }
}
