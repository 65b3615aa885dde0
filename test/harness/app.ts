import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createApp } from '../../src/bootstrap.js';
import { type GatewayConfig, loadConfig } from '../../src/config/config.js';
import type { EventEmitter } from 'node:events';
import { HubService, type HubEvents } from '../../src/hub/hub.service.js';
import { PinoLoggerService } from '../../src/logging/pino-logger.service.js';
import { type SignOptions, TEST_SECRET, userToken } from './tokens.js';
import { Conditions, nextEvent } from './wait.js';

/** Collects the JSON log lines a PinoLoggerService writes. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  private readonly conditions = new Conditions();
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const line of chunk.toString().split('\n')) if (line.trim()) this.lines.push(line);
    this.conditions.poke();
    done();
  }
  /** Waits until a captured line satisfies `match`. */
  waitForLine(match: (line: string) => boolean, what: string, timeoutMs = 5000): Promise<void> {
    return this.conditions.waitFor(what, () => this.lines.some(match), timeoutMs);
  }
  get entries(): Record<string, any>[] {
    return this.lines.map((l) => JSON.parse(l));
  }
}

export interface TestApp {
  app: INestApplication;
  config: GatewayConfig;
  hub: HubService;
  port: number;
  /** ws://127.0.0.1:port/ws */
  wsUrl: string;
  httpUrl: string;
  /** The app's log lines when started with `logLevel`; empty otherwise. */
  logs: LogCapture;
  /** userToken(): an HS256 user token with the test secret. */
  token(sub: string, claims?: Record<string, unknown>, options?: SignOptions): string;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Capture the app's logs at this level into `logs` (OPS_LOGS_STDOUT=1 prints them instead). */
  logLevel?: 'debug' | 'info';
  /** Also start the Nest microservices (the Redis transport, with REDIS_URL). */
  microservices?: boolean;
  /** Runs on the created app before it listens (global enhancers, for instance). */
  beforeListen?: (app: INestApplication) => void;
}

/**
 * Starts the real application in this process on an ephemeral port, with `env` on top of the test
 * defaults. For a gateway that must be killed or restarted, see GatewayProcess.
 */
export async function startApp(
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<TestApp> {
  const logs = new LogCapture();
  const level = options.logLevel;
  const config = loadConfig({
    // Development mode: the only one with dev tokens (POST /auth/dev-token), which tests use. With
    // an explicit environment object the generated secret, if any, stays in memory.
    NODE_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: level ?? 'silent',
    JWT_SECRET: TEST_SECRET,
    AUTH_DEV_TOKENS: 'true',
    ...env,
  });
  const logger =
    level === undefined
      ? undefined
      : new PinoLoggerService(level, process.env.OPS_LOGS_STDOUT ? undefined : logs);
  const app = await createApp(config, { logger });
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
    logs,
    token: userToken,
    close: () => app.close(),
  };
}

type HubEventArgs<K extends keyof HubEvents> = HubEvents[K];

/** The next hub lifecycle event of a kind (connected, disconnected, joined, left, evicted) that `match` accepts. */
export function hubEvent<K extends keyof HubEvents>(
  hub: HubService,
  event: K,
  match: (...args: HubEventArgs<K>) => boolean = () => true,
  timeoutMs = 5000,
): Promise<HubEventArgs<K>> {
  return nextEvent(
    hub.events as unknown as EventEmitter,
    event,
    match as (...args: unknown[]) => boolean,
    timeoutMs,
  ) as Promise<HubEventArgs<K>>;
}
