import { ConfigError, loadConfig } from './config/config.js';
import { createApp } from './bootstrap.js';

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
const app = await createApp(config);
await app.listen(config.port, config.host);
const address = app.getHttpServer().address();
const port = typeof address === 'object' && address ? address.port : config.port;
console.log(`gateway listening on http://localhost:${port} (ws endpoint /ws, mode ${config.nodeEnv})`);
