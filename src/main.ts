import { existsSync } from 'node:fs';
import type { Server } from 'node:net';
import { ConfigError, loadConfig, usesRedis } from './config/config.js';
import { createApp } from './bootstrap.js';
import { listenOrExit } from './listen-error.js';
import { PinoLoggerService } from './logging/pino-logger.service.js';

// A .env file in the working directory is read if present; variables already in the environment win.
if (existsSync('.env')) process.loadEnvFile('.env');

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  throw err;
}
const logger = new PinoLoggerService(config.logLevel);
const app = await createApp(config, { logger });
// SIGTERM/SIGINT: Nest's shutdown runs DrainService.beforeApplicationShutdown (readiness off, no new
// upgrades, flush, close 1001 over a jittered window), closes the app and exits 0, all within
// SHUTDOWN_GRACE_MS. Other signals close the app at once and re-raise the signal.
app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
app.enableShutdownHooks(['SIGHUP', 'SIGQUIT', 'SIGUSR2']);
await app.startAllMicroservices();
await listenOrExit(() => app.listen(config.port, config.host), config);
const address = (app.getHttpServer() as Server).address();
const port = typeof address === 'object' && address ? address.port : config.port;
const scheme = config.tls ? 'https' : 'http';
logger.pino.info(
  { context: 'Main', port, host: config.host, mode: config.nodeEnv, redis: usesRedis(config) },
  `gateway listening on ${scheme}://localhost:${port} (ws endpoint /ws, mode ${config.nodeEnv})`,
);
