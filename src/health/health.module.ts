import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DrainService } from './drain.service.js';
import { HealthController } from './health.controller.js';
import { MetricsService } from './metrics.service.js';

/** Liveness, readiness, Prometheus metrics and the graceful drain. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [DrainService, MetricsService],
  exports: [DrainService, MetricsService],
})
export class HealthModule {}
