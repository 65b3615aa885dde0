import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Inject,
  Logger,
} from '@nestjs/common';
import type { HttpResponse as Response } from '../common/http.js';
import { MetricsService } from '../health/metrics.service.js';
import { HubError } from '../hub/hub-error.js';
import { fromHubError, PushHttpError } from './push-errors.js';

/**
 * Every push API failure as `{error, message, details?}` with its status (the hub's HubError
 * translated by `fromHubError`); an unexpected fault is a 500 `internal`, logged with its stack.
 */
@Catch()
export class PushExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Push');

  constructor(@Inject(MetricsService) private readonly metrics: MetricsService) {}

  catch(thrown: unknown, host: ArgumentsHost): void {
    const exception = thrown instanceof HubError ? fromHubError(thrown) : thrown;
    const res = host.switchToHttp().getResponse<Response>();
    let status = 500;
    let body: unknown = { error: 'internal', message: 'internal error' };
    if (exception instanceof HttpException) {
      status = exception.getStatus();
      const r = exception.getResponse();
      body =
        typeof r === 'object' && r !== null && 'error' in r && typeof r.error === 'string'
          ? r
          : { error: errorName(status), message: exception.message };
      if (exception instanceof PushHttpError)
        for (const [k, v] of Object.entries(exception.headers)) res.setHeader(k, v);
    } else {
      this.logger.error(`publish failed: ${(exception as Error)?.message}`, (exception as Error)?.stack);
    }
    this.count(status);
    res.status(status).json(body);
  }

  /** Counts the answer in gateway_push_requests_total (the push API's own metric). */
  protected count(status: number): void {
    this.metrics.pushRequest(status);
  }
}

function errorName(status: number): string {
  if (status === 400) return 'bad_request';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 413) return 'payload_too_large';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'unavailable';
  return 'error';
}
