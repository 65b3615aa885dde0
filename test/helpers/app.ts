import type { INestApplication } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/bootstrap.js';
import { type GatewayConfig, loadConfig } from '../../src/config/config.js';
import { HubService } from '../../src/hub/hub.service.js';
import type { PinoLoggerService } from '../../src/logging/pino-logger.service.js';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-production-0123456789';

export interface TestApp {
  app: INestApplication;
  config: GatewayConfig;
  hub: HubService;
  port: number;
  /** ws://127.0.0.1:port/ws */
  wsUrl: string;
  httpUrl: string;
  /** Signs an HS256 token with the test secret. */
  token(sub: string, claims?: Record<string, unknown>, options?: jwt.SignOptions): string;
  close(): Promise<void>;
}

export interface StartOptions {
  /** A logger for the app (default: the app's own, at LOG_LEVEL). */
  logger?: PinoLoggerService;
  /** Also start the Nest microservices (the Redis transport, with REDIS_URL). */
  microservices?: boolean;
  /** Runs on the created app before it listens (global enhancers, for instance). */
  beforeListen?: (app: INestApplication) => void;
}

/** Starts the real application on an ephemeral port with the given environment on top of test defaults. */
export async function startApp(
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<TestApp> {
  const config = loadConfig({
    // Development mode: the only one with dev tokens (POST /auth/dev-token), which tests use.
    NODE_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    JWT_SECRET: TEST_SECRET,
    AUTH_DEV_TOKENS: 'true',
    ...env,
  });
  const app = await createApp(config, { logger: options.logger });
  options.beforeListen?.(app);
  if (options.microservices) await app.startAllMicroservices();
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return {
    app,
    config,
    hub: app.get(HubService),
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    token: (sub, claims = {}, options = {}) =>
      jwt.sign({ sub, name: sub, ...claims }, TEST_SECRET, {
        algorithm: 'HS256',
        ...(claims.exp === undefined ? { expiresIn: 3600 } : {}),
        ...options,
      }),
    close: () => app.close(),
  };
}
