import { Controller, Get, Header, Inject, Req, Res } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { createHash, timingSafeEqual } from 'node:crypto';
import { bearerToken } from '../auth/bearer.js';
import type { HttpRequest as Request, HttpResponse as Response } from '../common/http.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { HubService } from '../hub/hub.service.js';
import { DrainService } from './drain.service.js';
import { MetricsService } from './metrics.service.js';

/**
 * GET /healthz: the process is alive (always 200 while it serves HTTP).
 * GET /readyz: ready for new traffic: not draining and the bus reachable; 503 otherwise.
 * GET /metrics: Prometheus text format; with METRICS_TOKEN set, only with `Authorization: Bearer <it>`.
 */
@Controller()
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(HubService) private readonly hub: HubService,
    @Inject(DrainService) private readonly drain: DrainService,
    @Inject(MetricsService) private readonly metricsService: MetricsService,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {
    this.metricsTokenHash = config.metricsToken === undefined ? null : sha256(config.metricsToken);
  }

  /** SHA-256 of METRICS_TOKEN: compared in constant time with the hash of the presented token. */
  private readonly metricsTokenHash: Buffer | null;

  @Get('healthz')
  @HealthCheck()
  @Header('Cache-Control', 'no-store')
  liveness() {
    return this.health.check([
      () => this.indicators.check('process').up({ uptimeSec: Math.round(process.uptime()) }),
    ]);
  }

  @Get('readyz')
  @HealthCheck()
  @Header('Cache-Control', 'no-store')
  readiness() {
    return this.health.check([
      () => {
        const session = this.indicators.check('drain');
        return this.drain.isDraining ? session.down({ message: 'draining' }) : session.up();
      },
      () => {
        const session = this.indicators.check('bus');
        return this.hub.isHealthy() ? session.up() : session.down({ message: 'message bus unreachable' });
      },
    ]);
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metrics(@Req() req: Request, @Res() res: Response): Promise<void> {
    if (this.metricsTokenHash !== null) {
      const presented = bearerToken(req.headers.authorization);
      if (presented === null || !timingSafeEqual(sha256(presented), this.metricsTokenHash)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        res.status(401).json({
          error: 'unauthorized',
          message: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>',
        });
        return;
      }
    }
    const body = await this.metricsService.metrics();
    res.setHeader('Content-Type', this.metricsService.contentType);
    res.status(200).send(body);
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
