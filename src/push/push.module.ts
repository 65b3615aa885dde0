import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { HealthModule } from '../health/health.module.js';
import { PublishClaim } from './publish-claim.js';
import { PushEventsController } from './push-events.controller.js';
import { PushController } from './push.controller.js';
import { PushService } from './push.service.js';
import { ServiceAuthGuard } from './service-auth.guard.js';

/**
 * The push API for other services: POST /api/publish (HTTP) and the `hub.publish` event pattern
 * (Nest microservices Redis transport, hybrid app, when REDIS_URL is set). HubService and the
 * cluster seams come from the global HubModule. The body limit (413) is installed by bootstrap in
 * front of Nest's parser: see publishBodyReader.
 */
@Module({
  imports: [AuthModule, HealthModule],
  controllers: [PushController, PushEventsController],
  providers: [PushService, ServiceAuthGuard, PublishClaim],
})
export class PushModule {}
