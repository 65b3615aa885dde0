import { type ErrorCode } from './codes.js';

export interface FieldProblem {
  field: string;
  problem: string;
}

/** An error that becomes an `error` frame on the wire; the connection stays open. */
export class WsError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: FieldProblem[],
  ) {
    super(message);
    this.name = 'WsError';
  }
}
