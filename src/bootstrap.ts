import 'reflect-metadata';
import { type INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppModule } from './app.module.js';
import { HandshakeAuthenticator } from './auth/handshake-authenticator.js';
import { type GatewayConfig, loadConfig, usesRedis } from './config/config.js';
import { GatewayAdapter } from './gateway/gateway.adapter.js';
import { GatewayHttpAdapter } from './gateway/http-adapter.js';
import { MetricsService } from './health/metrics.service.js';
import type { HooksModuleOptions } from './hooks/hooks.module.js';
import { HooksService } from './hooks/hooks.service.js';
import { HubService } from './hub/hub.service.js';
import { PinoLoggerService } from './logging/pino-logger.service.js';
import { attachHubPublish } from './push/hub-publish-transport.js';
import { publishBodyReader } from './push/publish-body-reader.js';

/** The project root (one level above src/ or dist/). */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface CreateAppOptions {
  /** The logger; defaults to a pino JSON logger on stdout at LOG_LEVEL. */
  logger?: PinoLoggerService;
  /** Hooks written in this process (see HooksModule); default: the HTTP hooks of HOOK_URL, if set. */
  hooks?: HooksModuleOptions;
}

/**
 * Builds the application (not yet listening). Tests call this with their own configuration.
 * Logs go through pino (JSON lines, LOG_LEVEL). TLS_CERT_FILE/TLS_KEY_FILE make the server HTTPS.
 * With REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES set it is a hybrid app: the Nest microservices Redis transport (the `hub.publish`
 * event pattern) is connected here and started by `app.startAllMicroservices()` (main.ts calls it).
 * No signal handlers here: main.ts enables Nest's shutdown hooks, which run the drain on SIGTERM/SIGINT.
 */
export async function createApp(
  config: GatewayConfig = loadConfig(),
  options: CreateAppOptions = {},
): Promise<INestApplication> {
  const logger = options.logger ?? new PinoLoggerService(config.logLevel);
  const tls = config.tls
    ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }
    : undefined;
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config, { hooks: options.hooks }),
    new GatewayHttpAdapter({ headerTimeoutMs: config.headerTimeoutMs, tls }),
    { logger, bodyParser: true },
  );
  app.disable('x-powered-by');
  if (config.trustProxy) app.set('trust proxy', true);
  // The push API's own body reader (413 over PUBLISH_MAX_BODY_BYTES), in front of Nest's parser.
  const metrics = app.get(MetricsService);
  app.use(
    '/api/publish',
    publishBodyReader(config.publishMaxBodyBytes, (status) => metrics.pushRequest(status)),
  );
  for (const dir of [join(PROJECT_ROOT, 'public'), join(PROJECT_ROOT, 'dist', 'public')]) {
    if (existsSync(dir)) app.useStaticAssets(dir, { index: 'index.html' });
  }
  app.useWebSocketAdapter(
    new GatewayAdapter(
      app,
      config,
      app.get(HubService),
      app.get(HandshakeAuthenticator),
      app.get(HooksService),
    ),
  );
  if (usesRedis(config)) {
    // Nest's Redis transport, started whether Redis answers yet or not (see RedisTransportServer),
    // on REDIS_URL, the Sentinel master or the Cluster like every other connection.
    const { RedisTransportServer } = await import('./cluster/redis/transport-server.js');
    const { redisSettings } = await import('./cluster/redis/connection.js');
    app.connectMicroservice<MicroserviceOptions>(
      { strategy: new RedisTransportServer(redisSettings(config)) },
      { inheritAppConfig: true },
    );
  }
  if (usesRedis(config)) attachHubPublish(app, config.redisKeyPrefix);
  const log = new Logger('Bootstrap');
  const devSecret = config.jwt.devSecret;
  if (devSecret?.file) {
    log.warn(
      `JWT secret ${devSecret.created ? 'generated at boot and kept' : 'read'} in ${devSecret.file} (development mode, git-ignored): tokens survive restarts`,
    );
  } else if (config.jwt.secretGenerated) {
    log.warn('JWT secret generated at boot (development mode): tokens do not survive a restart');
  }
  if (config.devTokens) log.warn('dev tokens are ON: POST /auth/dev-token issues tokens to anyone');
  if (tls) log.log('TLS on: serving https:// and wss:// directly');
  return app;
}
