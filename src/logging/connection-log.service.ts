import type { EventEmitter } from 'node:events';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HubService, type HubEvents } from '../hub/hub.service.js';

/**
 * Structured lifecycle logs with connection and user ids, from HubService.events: connected and
 * disconnected at info, joins/leaves at debug, slow-consumer evictions at warn.
 */
@Injectable()
export class ConnectionLogService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Connection');
  private readonly off: (() => void)[] = [];

  constructor(@Inject(HubService) private readonly hub: HubService) {}

  onModuleInit(): void {
    this.on('connected', (e) =>
      this.logger.log({ msg: 'connected', connectionId: e.connectionId, userId: e.user.id, ip: e.ip }),
    );
    this.on('disconnected', (e) =>
      this.logger.log({
        msg: 'disconnected',
        connectionId: e.connectionId,
        userId: e.user.id,
        code: e.code,
        reason: e.reason,
      }),
    );
    this.on('joined', (e) => this.logger.debug({ msg: 'joined', userId: e.user.id, room: e.room }));
    this.on('left', (e) =>
      this.logger.debug({ msg: 'left', userId: e.user.id, room: e.room, reason: e.reason }),
    );
    this.on('evicted', (e) =>
      this.logger.warn({
        msg: 'slow consumer evicted',
        connectionId: e.connectionId,
        userId: e.user.id,
        queued: e.queued,
      }),
    );
  }

  onApplicationShutdown(): void {
    for (const f of this.off.splice(0)) f();
  }

  private on<K extends keyof HubEvents>(event: K, fn: (...args: HubEvents[K]) => void): void {
    const events = this.hub.events as unknown as EventEmitter;
    const listener = fn as (...args: unknown[]) => void;
    events.on(event, listener);
    this.off.push(() => events.off(event, listener));
  }
}
