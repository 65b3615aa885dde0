import { type INestApplication } from '@nestjs/common';
import { AbstractWsAdapter, type MessageMappingProperties } from '@nestjs/websockets';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { type HandshakeAuthenticator } from '../auth/handshake-authenticator.js';
import { type GatewayConfig } from '../config/config.js';
import { type HooksService } from '../hooks/hooks.service.js';
import { type HubService } from '../hub/hub.service.js';
import { Router } from './router.js';
import { Upgrade } from './upgrade.js';

/**
 * Nest's WebSocket adapter, wiring only: a `ws` server without its own HTTP server, whose upgrades
 * go through Upgrade (auth and limits before the handshake) and whose frames go through Router
 * (parse, rate limit, dispatch to the gateway's handlers).
 */
export class GatewayAdapter extends AbstractWsAdapter {
  private readonly router: Router;

  constructor(
    app: INestApplication,
    private readonly config: GatewayConfig,
    private readonly hub: HubService,
    private readonly authenticator: HandshakeAuthenticator,
    private readonly hooks: HooksService | null = null,
  ) {
    super(app);
    this.router = new Router(app, hub, config.ratePerSec, config.inboundMaxPending);
  }

  create(_port: number, options?: { path?: string }): WebSocketServer {
    const wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: this.config.maxMessageBytes,
      perMessageDeflate: this.config.perMessageDeflate
        ? {
            threshold: 1024,
            serverNoContextTakeover: true,
            clientNoContextTakeover: true,
            concurrencyLimit: 10,
          }
        : false,
    });
    const upgrade = new Upgrade(
      wss,
      options?.path ?? '/ws',
      this.hub,
      this.authenticator,
      this.router,
      this.config.maxRoomsPerConnection,
      this.hooks,
    );
    (this.httpServer as HttpServer).on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      upgrade.handle(req, socket as Socket, head),
    );
    return wss;
  }

  bindMessageHandlers(ws: WebSocket, handlers: MessageMappingProperties[]): void {
    this.router.bind(ws, handlers);
  }

  override bindClientDisconnect(ws: WebSocket, callback: (...args: unknown[]) => void): void {
    ws.once('close', callback);
  }

  override async close(wss: WebSocketServer): Promise<void> {
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
}
