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

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const metatype = metadata.metatype as (new () => object) | undefined;
    if (!metatype || metatype === Object || metadata.type !== 'body') return value;
    const plan = planOf(metatype);
    const dto = new metatype() as Record<string, unknown>;
    const frame = value as Record<string, unknown>;
    for (const field of plan.fields) {
      if (Object.prototype.hasOwnProperty.call(frame, field)) dto[field] = frame[field];
    }
    // The planned check passes valid frames cheaply; anything it does not pass gets validateSync's
    // verdict and error (they agree on every envelope DTO: fast-validator.spec.ts).
    const errors =
      plan.fast !== null && plan.fast(dto) ? [] : validateSync(dto, { forbidUnknownValues: false });
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
 * Per DTO class, made once: the fields it declares and the planned pass check. The DTO instance holds
 * only the declared fields (what `whitelist` would leave), built without class-transformer: the
 * envelope is flat JSON, so a copy of the declared fields is the whole transformation, and it costs a
 * fraction of plainToInstance + whitelist on every frame.
 */
interface DtoPlan {
  fields: string[];
  fast: FastCheck | null;
}

const plans = new Map<new () => object, DtoPlan>();

function planOf(metatype: new () => object): DtoPlan {
  let plan = plans.get(metatype);
  if (plan === undefined) {
    const metas = getMetadataStorage().getTargetValidationMetadatas(metatype, '', true, false);
    plan = { fields: [...new Set(metas.map((m) => m.propertyName))], fast: planFastCheck(metatype) };
    plans.set(metatype, plan);
  }
  return plan;
}
