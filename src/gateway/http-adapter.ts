import { ExpressAdapter } from '@nestjs/platform-express';
import * as http from 'node:http';
import * as https from 'node:https';

export interface HttpServerLimits {
  /** Time for a request's head to arrive (slowloris), ms; with TLS, also for the TLS handshake. */
  headerTimeoutMs: number;
  /** TLS key material; plain HTTP without it. */
  tls?: { cert: Buffer; key: Buffer };
}

/**
 * Express adapter whose server checks header timeouts every second rather than at Node's default
 * 30 s `connectionsCheckingInterval`, which can only be set when the server is created. With TLS,
 * a socket that never completes the handshake is dropped after the same header timeout: Node's
 * default handshake timeout is 120 s, and `headersTimeout` only starts once the handshake is done.
 */
export class GatewayHttpAdapter extends ExpressAdapter {
  constructor(private readonly limits: HttpServerLimits) {
    super();
  }

  override initHttpServer(): void {
    const options = {
      headersTimeout: this.limits.headerTimeoutMs,
      requestTimeout: Math.max(this.limits.headerTimeoutMs, 30000),
      connectionsCheckingInterval: Math.min(1000, this.limits.headerTimeoutMs),
    };
    const app = this.getInstance<http.RequestListener>();
    this.httpServer = this.limits.tls
      ? https.createServer(
          { ...options, ...this.limits.tls, handshakeTimeout: this.limits.headerTimeoutMs },
          app,
        )
      : http.createServer(options, app);
  }
}
