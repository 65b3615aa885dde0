import { existsSync } from 'node:fs';
import type { Server } from 'node:net';
import { ConfigError, loadConfig } from './config/config.js';
import { createApp, startMicroservices } from './bootstrap.js';
import { DrainService } from './health/drain.service.js';
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
// SIGTERM/SIGINT: readiness off, no new upgrades, flush, close 1001 over a jittered window, exit
// within SHUTDOWN_GRACE_MS. Other signals close the app at once.
app.get(DrainService).handleSignals(app);
app.enableShutdownHooks(['SIGHUP', 'SIGQUIT', 'SIGUSR2']);
await startMicroservices(app);
await listenOrExit(() => app.listen(config.port, config.host), config);
const address = (app.getHttpServer() as Server).address();
const port = typeof address === 'object' && address ? address.port : config.port;
const scheme = config.tls ? 'https' : 'http';
logger.pino.info(
  { context: 'Main', port, host: config.host, mode: config.nodeEnv, redis: Boolean(config.redisUrl) },
  `gateway listening on ${scheme}://localhost:${port} (ws endpoint /ws, mode ${config.nodeEnv})`,
);
