import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { HealthModule } from '../health/health.module.js';
import { ServiceAuthGuard } from '../push/service-auth.guard.js';
import { ServerApiController } from './server-api.controller.js';
import { ServerApiService } from './server-api.service.js';

/**
 * The server API (rooms, presence, history, users, disconnect, leave, revoke) for other services.
 * The cluster seams come from the global HubModule; the service credential check and the error
 * answers are the push API's.
 */
@Module({
  imports: [AuthModule, HealthModule],
  controllers: [ServerApiController],
  providers: [ServerApiService, ServiceAuthGuard],
})
export class ApiModule {}
