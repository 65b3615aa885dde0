import 'reflect-metadata';
import { type INestApplication, Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppModule } from './app.module.js';
import { HandshakeAuthenticator } from './auth/handshake-authenticator.js';
import { type GatewayConfig, loadConfig } from './config/config.js';
import { GatewayAdapter } from './gateway/gateway.adapter.js';
import { GatewayHttpAdapter } from './gateway/http-adapter.js';
import { HubService } from './hub/hub.service.js';

/** The project root (one level above src/ or dist/). */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const LEVELS: Record<GatewayConfig['logLevel'], LogLevel[]> = {
  debug: ['debug', 'log', 'warn', 'error', 'fatal'],
  info: ['log', 'warn', 'error', 'fatal'],
  warn: ['warn', 'error', 'fatal'],
  error: ['error', 'fatal'],
  silent: [],
};

/** Builds the application (not yet listening). Tests call this with their own configuration. */
export async function createApp(config: GatewayConfig = loadConfig()): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config),
    new GatewayHttpAdapter({ headerTimeoutMs: config.headerTimeoutMs }),
    { logger: LEVELS[config.logLevel], bodyParser: true },
  );
  app.disable('x-powered-by');
  for (const dir of [join(PROJECT_ROOT, 'public'), join(PROJECT_ROOT, 'dist', 'public')]) {
    if (existsSync(dir)) app.useStaticAssets(dir, { index: 'index.html' });
  }
  app.useWebSocketAdapter(new GatewayAdapter(app, config, app.get(HubService), app.get(HandshakeAuthenticator)));
  app.enableShutdownHooks();
  const logger = new Logger('Bootstrap');
  if (config.jwt.secretGenerated) {
    logger.warn('JWT secret generated at boot (development mode): tokens do not survive a restart');
  }
  if (config.devTokens) logger.warn('dev tokens are ON: POST /auth/dev-token issues tokens to anyone');
  return app;
}
