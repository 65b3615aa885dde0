import type { INestApplication } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import type { GatewayConfig } from '../../src/config/config.js';
import type { HubService } from '../../src/hub/hub.service.js';
import { PinoLoggerService } from '../../src/logging/pino-logger.service.js';
import { startApp, TEST_SECRET } from '../helpers/app.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A service token for the push API (scope "publish"). */
export function serviceToken(
  sub = 'billing',
  claims: Record<string, unknown> = {},
  options: jwt.SignOptions = {},
): string {
  return jwt.sign({ sub, scope: 'publish', ...claims }, TEST_SECRET, {
    algorithm: 'HS256',
    expiresIn: 3600,
    ...options,
  });
}

export function userToken(sub: string, claims: Record<string, unknown> = {}): string {
  return jwt.sign({ sub, name: sub, ...claims }, TEST_SECRET, { algorithm: 'HS256', expiresIn: 3600 });
}

/** Collects the JSON log lines a PinoLoggerService writes. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const line of chunk.toString().split('\n')) if (line.trim()) this.lines.push(line);
    done();
  }
  get entries(): Record<string, any>[] {
    return this.lines.map((l) => JSON.parse(l));
  }
}

export interface OpsApp {
  app: INestApplication;
  config: GatewayConfig;
  hub: HubService;
  port: number;
  httpUrl: string;
  wsUrl: string;
  logs: LogCapture;
  close(): Promise<void>;
}

/** test/helpers/app.ts startApp with the logs captured (and optionally the microservices started). */
export async function startOpsApp(
  env: Record<string, string> = {},
  options: { microservices?: boolean; logLevel?: 'debug' | 'info' } = {},
): Promise<OpsApp> {
  const level = options.logLevel ?? 'info';
  const logs = new LogCapture();
  const logger = new PinoLoggerService(level, process.env.OPS_LOGS_STDOUT ? undefined : logs);
  const t = await startApp({ LOG_LEVEL: level, ...env }, { logger, microservices: options.microservices });
  return { ...t, logs };
}

export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export { until as waitUntil } from '../helpers/wait.js';

/** A free TCP port on 127.0.0.1 (for nginx, which cannot listen on port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export { DIST_MAIN, requireBuild, startChild, type ChildGateway } from '../helpers/child-gateway.js';
