import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { HttpResponse as Response } from '../common/http.js';
import { HubService } from '../hub/hub.service.js';
import { DrainService } from './drain.service.js';
import { MetricsService } from './metrics.service.js';

/**
 * GET /healthz: the process is alive (always 200 while it serves HTTP).
 * GET /readyz: ready for new traffic: not draining and the bus reachable; 503 otherwise.
 * GET /metrics: Prometheus text format.
 */
@Controller()
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(HubService) private readonly hub: HubService,
    @Inject(DrainService) private readonly drain: DrainService,
    @Inject(MetricsService) private readonly metricsService: MetricsService,
  ) {}

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
  async metrics(@Res() res: Response): Promise<void> {
    const body = await this.metricsService.metrics();
    res.setHeader('Content-Type', this.metricsService.contentType);
    res.status(200).send(body);
  }
}
