import { type ArgumentMetadata, Inject, Injectable, type PipeTransform } from '@nestjs/common';
import { getMetadataStorage, validateSync } from 'class-validator';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { ErrorCode } from './codes.js';
import { type FastCheck, planFastCheck } from './fast-validator.js';
import { fieldProblems, WsError } from './ws-error.js';

/**
 * Validates a client frame against its DTO. Every failure is a WsError (so an `error` frame), never
 * Nest's HTTP BadRequestException, which a gateway would turn into "Internal server error".
 */
@Injectable()
export class EnvelopePipe implements PipeTransform {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  private instantiate(metatype: new () => object, value: Record<string, unknown>): object {
    const dto = new metatype() as Record<string, unknown>;
    for (const field of fieldsOf(metatype)) {
      if (Object.prototype.hasOwnProperty.call(value, field)) dto[field] = value[field];
    }
    return dto;
  }

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const metatype = metadata.metatype;
    if (!metatype || metatype === Object || metadata.type !== 'body') return value;
    const dto = this.instantiate(metatype as new () => object, value as Record<string, unknown>);
    // The planned check passes valid frames cheaply; anything it does not pass gets validateSync's
    // verdict and error (they agree on every envelope DTO: fast-validator.spec.ts).
    const fast = fastCheckOf(metatype as new () => object);
    const errors = fast !== null && fast(dto) ? [] : validateSync(dto, { forbidUnknownValues: false });
    if (errors.length > 0) {
      const details = fieldProblems(errors);
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

/**
 * The DTO instance holding only the fields its class declares (what `whitelist` would leave), built
 * without class-transformer: the envelope is flat JSON, so a copy of the declared fields is the
 * whole transformation, and it costs a fraction of plainToInstance + whitelist on every frame.
 */
const declaredFields = new Map<new () => object, string[]>();

function fieldsOf(metatype: new () => object): string[] {
  let fields = declaredFields.get(metatype);
  if (fields === undefined) {
    const metas = getMetadataStorage().getTargetValidationMetadatas(metatype, '', true, false);
    fields = [...new Set(metas.map((m) => m.propertyName))];
    declaredFields.set(metatype, fields);
  }
  return fields;
}

const fastChecks = new Map<new () => object, FastCheck | null>();

function fastCheckOf(metatype: new () => object): FastCheck | null {
  let check = fastChecks.get(metatype);
  if (check === undefined) {
    check = planFastCheck(metatype);
    fastChecks.set(metatype, check);
  }
  return check;
}
