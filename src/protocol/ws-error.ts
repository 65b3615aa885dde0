import type { ValidationError } from 'class-validator';
import type { ErrorCode } from './wire/codes.js';
import type { ErrorDetail } from './wire/frames.js';

/** One invalid field: `{field, problem}`, an error frame's `details` entry. */
export type FieldProblem = ErrorDetail;

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

/** class-validator errors as `[{field, problem}]`: the wire's bad_envelope details and the push API's 400. */
export function fieldProblems(errors: ValidationError[], prefix = ''): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const e of errors) {
    const field = prefix + e.property;
    for (const problem of Object.values(e.constraints ?? {})) out.push({ field, problem });
    if (e.children?.length) out.push(...fieldProblems(e.children, field + '.'));
  }
  return out;
}
