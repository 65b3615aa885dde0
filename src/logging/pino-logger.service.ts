import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { GatewayConfig } from '../config/config.js';
import { REDACT_PATHS, REDACTED, scrub, scrubObject } from './redact.js';

/**
 * Nest's LoggerService on pino: one JSON object per line on stdout, level from LOG_LEVEL, the Nest
 * context as `context`. Never logs a token: known header/field paths are censored by pino's
 * `redact`, and every string (message and fields) is scrubbed of JWTs, `Bearer …` and `token=`.
 */
export class PinoLoggerService implements LoggerService {
  readonly pino: Logger;

  constructor(level: GatewayConfig['logLevel'] | 'trace' | 'fatal', destination?: DestinationStream) {
    this.pino = pino(
      {
        level,
        base: { pid: process.pid },
        timestamp: pino.stdTimeFunctions.isoTime,
        messageKey: 'msg',
        redact: { paths: REDACT_PATHS, censor: REDACTED },
        formatters: {
          level: (label) => ({ level: label }),
          log: (obj) => scrubObject(obj),
        },
        hooks: {
          logMethod(args, method) {
            for (let i = 0; i < args.length; i++)
              if (typeof args[i] === 'string') args[i] = scrub(args[i] as string);
            return method.apply(this, args);
          },
        },
      },
      destination ?? pino.destination({ fd: 1, sync: true }),
    );
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    // Nest: error(message, stack?, context?)
    const { context, extra } = splitContext(rest);
    const stack = extra.find((e): e is string => typeof e === 'string' && e.includes('\n'));
    const err = message instanceof Error ? message : undefined;
    const fields: Record<string, unknown> = { context };
    if (err)
      fields.err = { type: err.name, message: scrub(err.message), stack: err.stack && scrub(err.stack) };
    else if (stack) fields.stack = scrub(stack);
    this.pino.error(fields, text(err ? err.message : message));
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  private write(
    level: 'info' | 'warn' | 'debug' | 'trace' | 'fatal',
    message: unknown,
    rest: unknown[],
  ): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const { context } = splitContext(rest);
    if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
      const { msg, message: m, ...fields } = message as Record<string, unknown>;
      this.pino[level]({ context, ...fields }, text(msg ?? m ?? ''));
    } else {
      this.pino[level]({ context }, text(message));
    }
  }
}

/** Nest passes the context as the last string argument. */
function splitContext(rest: unknown[]): { context?: string; extra: unknown[] } {
  if (rest.length > 0 && typeof rest[rest.length - 1] === 'string') {
    const last = rest[rest.length - 1] as string;
    if (!last.includes('\n')) return { context: last, extra: rest.slice(0, -1) };
  }
  return { extra: rest };
}

function text(message: unknown): string {
  if (typeof message === 'string') return message;
  if (message instanceof Error) return message.message;
  try {
    return JSON.stringify(message);
  } catch {
    return String(message);
  }
}
