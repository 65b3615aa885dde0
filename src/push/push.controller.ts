import {
  Body,
  Controller,
  Headers,
  HttpCode,
  Inject,
  Post,
  Req,
  UseFilters,
  UseGuards,
  UsePipes,
  ValidationPipe,
} from '@nestjs/common';
import { MetricsService } from '../health/metrics.service.js';
import { PublishRequest } from './publish.dto.js';
import { fieldProblems, PushError, PushHttpError } from './push-errors.js';
import { PushExceptionFilter } from './push.filter.js';
import { PushService } from './push.service.js';
import { ServiceAuthGuard, type ServiceRequest } from './service-auth.guard.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,64}$/;

/**
 * POST /api/publish for services in other processes.
 *
 * Body `{room, content}` or `{to, content}`; `Authorization: Bearer <service JWT with scope
 * "publish">`; optional `Idempotency-Key` (1..64 visible ASCII characters), used as the message id so
 * a retry within DEDUP_WINDOW_MS answers the original `{id, seq}` and is not delivered again.
 * Answers 202 `{id, seq?}`; 400 `{error, message, details}`; 401; 403; 413; 429; 503.
 *
 * Validation is this controller's own pipe (not a global one, which would also run on the gateway).
 */
@Controller('api')
@UseFilters(PushExceptionFilter)
@UseGuards(ServiceAuthGuard)
@UsePipes(
  new ValidationPipe({
    whitelist: true,
    forbidUnknownValues: true,
    exceptionFactory: (errors) =>
      new PushHttpError(PushError.BadRequest, 'invalid publish request', fieldProblems(errors)),
  }),
)
export class PushController {
  constructor(
    @Inject(PushService) private readonly push: PushService,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  @Post('publish')
  @HttpCode(202)
  async publish(
    @Req() req: ServiceRequest,
    @Body() body: PublishRequest,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<{ id: string; seq?: number; room?: string }> {
    if (body.room !== undefined && body.to !== undefined) {
      throw new PushHttpError(PushError.BadRequest, 'invalid publish request', [
        { field: 'to', problem: 'give either room or to, not both' },
      ]);
    }
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new PushHttpError(PushError.BadRequest, 'invalid Idempotency-Key', [
        { field: 'Idempotency-Key', problem: 'must be 1..64 visible ASCII characters' },
      ]);
    }
    const service = req.service!;
    const result = await this.push.push(
      { room: body.room, to: body.to, content: body.content, id: idempotencyKey },
      { id: service.id, name: service.name },
    );
    this.metrics.pushRequest(202);
    if (result.seq === undefined) return { id: result.id };
    // A key already used in another room: the original publication, where the message lives.
    if (result.room !== undefined) return { id: result.id, seq: result.seq, room: result.room };
    return { id: result.id, seq: result.seq };
  }
}
