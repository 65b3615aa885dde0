import { Logger } from '@nestjs/common';
import { type RedisStatus, ServerRedis } from '@nestjs/microservices';
import type { Redis } from 'ioredis';
import {
  newTransportCluster,
  type RedisSettings,
  RedisOutageLog,
  targetLabel,
  targetOptions,
} from './connection.js';

/**
 * Nest's Redis transport server (the `hub.publish` event pattern), changed in two ways:
 * - it starts whether Redis answers or not: its subscriptions wait in the client's offline queue and
 *   go out when Redis is reachable, so a gateway started before Redis neither crashes nor loops
 *   (Nest's own server fails `startAllMicroservices` when the first connection attempt fails);
 * - its connections report to the process's Redis outage log instead of logging every failed
 *   reconnect attempt at error level;
 * - it connects in the same mode as the rest of the gateway (connection.ts): in Sentinel mode it
 *   follows a failover to the new master and re-subscribes there; in a Redis Cluster its clients are
 *   Cluster clients (classic SUBSCRIBE on one node, which ioredis replaces when it fails; a PUBLISH
 *   to any node reaches it).
 */
export class RedisTransportServer extends ServerRedis {
  private readonly outage: RedisOutageLog;

  /** Connects where the gateway's other connections do: REDIS_URL, the Sentinel master, or the Cluster. */
  constructor(private readonly settings: RedisSettings) {
    // Nest passes these options to ioredis as they are (its retryStrategy uses the two retry ones).
    super({
      ...(settings.cluster === undefined ? targetOptions(settings) : {}),
      retryAttempts: 1_000_000,
      retryDelay: 1000,
    } as ConstructorParameters<typeof ServerRedis>[0]);
    this.outage = RedisOutageLog.for(targetLabel(settings), new Logger('Redis'));
  }

  override async createRedisClient(): Promise<Redis> {
    const name = this.subClient === undefined ? 'transport-sub' : 'transport-pub';
    // Nest types its clients as Redis; a Cluster client answers the same calls (connect, subscribe,
    // publish, quit, events).
    const client =
      this.settings.cluster !== undefined
        ? (newTransportCluster(this.settings, name) as unknown as Redis)
        : ((await super.createRedisClient()) as Redis);
    this.outage.watch(client, name);
    return client;
  }

  override start(callback?: () => void): void {
    this.bindEvents(this.subClient, this.pubClient);
    for (const client of [this.subClient, this.pubClient] as Redis[]) {
      // Fails while Redis is down; the retry strategy keeps trying and the outage log reports it.
      if (client.status === 'wait') client.connect().catch(() => undefined);
    }
    callback?.();
  }

  override registerErrorListener(client: Redis): void {
    client.on('error', () => undefined); // reported by the outage log
  }

  override registerReconnectListener(client: Redis): void {
    client.on('reconnecting', () => {
      if (!this.isManuallyClosed) this._status$.next('reconnecting' as RedisStatus);
    });
  }

  override registerReadyListener(client: Redis): void {
    client.on('ready', () => this._status$.next('connected' as RedisStatus));
  }

  override registerEndListener(client: Redis): void {
    client.on('end', () => {
      if (!this.isManuallyClosed) this._status$.next('disconnected' as RedisStatus);
    });
  }
}
