import { type ArgumentMetadata, Inject, Injectable, type PipeTransform } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { ErrorCode } from './codes.js';
import { type FieldProblem, WsError } from './ws-error.js';

/**
 * Validates a client frame against its DTO. Every failure is a WsError (so an `error` frame), never
 * Nest's HTTP BadRequestException, which a gateway would turn into "Internal server error".
 */
@Injectable()
export class EnvelopePipe implements PipeTransform {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const metatype = metadata.metatype;
    if (!metatype || metatype === Object || metadata.type !== 'body') return value;
    const dto = plainToInstance(metatype, value, { enableImplicitConversion: false }) as object;
    const errors = validateSync(dto, { whitelist: true, forbidUnknownValues: false });
    if (errors.length > 0) {
      const details = flatten(errors);
      throw new WsError(
        ErrorCode.BadEnvelope,
        `invalid fields: ${details.map((d) => d.field).join(', ')}`,
        details,
      );
    }
    const content = (dto as { content?: unknown }).content;
    if (typeof content === 'string' && content.length > this.config.maxContentLength) {
      throw new WsError(
        ErrorCode.TooLong,
        `content is ${content.length} characters; the limit is ${this.config.maxContentLength}`,
      );
    }
    return dto;
  }
}

function flatten(errors: ValidationError[], prefix = ''): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const e of errors) {
    const field = prefix + e.property;
    for (const problem of Object.values(e.constraints ?? {})) out.push({ field, problem });
    if (e.children?.length) out.push(...flatten(e.children, field + '.'));
  }
  return out;
}
