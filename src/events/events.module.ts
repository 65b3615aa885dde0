import { Module } from '@nestjs/common';
import { EventsService } from './events.service.js';

/** The event stream and webhooks (EventsService); needs the global HubService and configuration. */
@Module({ providers: [EventsService] })
export class EventsModule {}
