// Kept only for test/browser (maintained on another branch) until it imports test/harness itself;
// then delete this file. The launcher is test/harness/gateway-process.ts.
import { GatewayProcess, type GatewayProcessOptions } from '../harness/index.js';

export { PROJECT_ROOT } from '../harness/index.js';

export type GatewayServer = GatewayProcess;

/** GatewayProcess in development mode (no JWT_SECRET: a new secret at every boot), as the browser tests expect. */
export const GatewayServer = {
  start: (options: GatewayProcessOptions = {}): Promise<GatewayProcess> =>
    GatewayProcess.start({ development: true, ...options, env: { JWT_SECRET: '', ...options.env } }),
};
