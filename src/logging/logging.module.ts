import { Module } from '@nestjs/common';
import { ConnectionLogService } from './connection-log.service.js';

/** Lifecycle logging (the pino LoggerService itself is installed by bootstrap). */
@Module({ providers: [ConnectionLogService] })
export class LoggingModule {}
