import { Logger } from '@nestjs/common';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket, WebSocketServer } from 'ws';
import { type HandshakeAuthenticator, HandshakeRefusal } from '../auth/handshake-authenticator.js';
import type { Principal } from '../auth/principal.js';
import type { HooksService } from '../hooks/hooks.service.js';
import { HubCounters } from '../hub/hub-counters.js';
import { type HubService } from '../hub/hub.service.js';
import { Refusal } from '../protocol/wire/codes.js';
import type { Router } from './router.js';
import { connectionOf, tagSocket } from './socket-tag.js';

const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

/**
 * The upgrade path: draining -> path -> a valid WebSocket request -> origin and JWT
 * (HandshakeAuthenticator) -> connection limits (HubService.admit). Each refusal is a plain HTTP
 * answer with a JSON body written before any upgrade (Refusal has the statuses and messages). Only
 * then does `ws` complete the handshake and the hub register the connection.
 */
export class Upgrade {
  private readonly logger = new Logger('GatewayAdapter');

  constructor(
    private readonly wss: WebSocketServer,
    private readonly path: string,
    private readonly hub: HubService,
    private readonly authenticator: HandshakeAuthenticator,
    private readonly router: Router,
    private readonly hooks: HooksService | null = null,
  ) {}

  handle(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', noop);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return this.refuse(socket, Refusal.BadRequest, 'malformed request target');
    }
    if (url.pathname !== this.path)
      return this.refuse(socket, Refusal.NotFound, `no WebSocket endpoint at ${url.pathname}`);
    if (this.hub.isDraining) return this.refuse(socket, Refusal.Draining);
    const problem = invalidUpgrade(req);
    if (problem) return this.refuse(socket, Refusal.BadRequest, problem);

    let principal: Principal;
    try {
      principal = this.authenticator.authenticate(req, url);
    } catch (err) {
      if (err instanceof HandshakeRefusal) return this.refuse(socket, err.refusal, err.message);
      this.logger.error('handshake failed', (err as Error).stack);
      return this.refuse(socket, Refusal.Internal);
    }
    const ip = this.authenticator.clientIp(req);
    const limit = this.hub.admit(ip, principal.id);
    if (limit !== null) return this.refuse(socket, limit);
    if (this.hooks?.connects) return this.askConnectHook(this.hooks, req, socket, head, url, principal, ip);
    this.accept(req, socket, head, url, principal, ip);
  }

  /**
   * The connect hook decides between admission and the upgrade (the slot stays reserved while it
   * does): a refusal is the HTTP answer, an allow may rename the user or replace its rooms claim.
   */
  private askConnectHook(
    hooks: HooksService,
    req: IncomingMessage,
    socket: Socket,
    head: Buffer,
    url: URL,
    principal: Principal,
    ip: string,
  ): void {
    hooks.connect(principal, ip).then(
      (outcome) => {
        if (outcome.refusal !== undefined) {
          this.hub.release(ip, principal.id);
          return this.refuse(socket, outcome.refusal, outcome.message);
        }
        if (this.hub.isDraining) {
          this.hub.release(ip, principal.id);
          return this.refuse(socket, Refusal.Draining);
        }
        this.accept(req, socket, head, url, outcome.principal, ip);
      },
      (err: unknown) => {
        this.hub.release(ip, principal.id);
        this.logger.error('connect hook failed', (err as Error)?.stack ?? String(err));
        this.refuse(socket, Refusal.Internal);
      },
    );
  }

  /** Completes the handshake of an admitted request and registers the connection. */
  private accept(
    req: IncomingMessage,
    socket: Socket,
    head: Buffer,
    url: URL,
    principal: Principal,
    ip: string,
  ): void {
    let upgraded = false;
    try {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        upgraded = true;
        socket.off('error', noop);
        const c = this.hub.register(ws, socket, principal, ip, ws.extensions !== '');
        tagSocket(ws, c);
        ws.on('pong', onPong);
        ws.on('error', (err) => this.logger.debug?.(`socket error on ${c.id}: ${err.message}`));
        ws.once('close', (code: number, reason: Buffer) => this.hub.unregister(c, code, reason.toString()));
        this.wss.emit('connection', ws, req);
        this.router.joinRequestedRooms(c, url);
      });
    } finally {
      // `ws` completes (or aborts) the handshake synchronously: no callback means it refused.
      if (!upgraded) this.hub.release(ip, principal.id);
    }
  }

  /** Counts the refusal and answers it; `message` defaults to the refusal's own. */
  private refuse(socket: Socket, refusal: Refusal, message: string = refusal.message): void {
    HubCounters.bump(this.hub.counters.refusals, refusal.error);
    writeRefusal(socket, refusal, message);
  }
}

function onPong(this: WebSocket): void {
  const c = connectionOf(this);
  if (c !== undefined) c.lastSeen = Date.now();
}

function invalidUpgrade(req: IncomingMessage): string | null {
  if (req.method !== 'GET') return 'a WebSocket handshake must be a GET';
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return 'missing Upgrade: websocket';
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !WS_KEY.test(key)) return 'missing or invalid Sec-WebSocket-Key';
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return 'unsupported Sec-WebSocket-Version (13 expected)';
  return null;
}

/** Answers a refused handshake with a plain HTTP response and a JSON body, then closes the socket. */
function writeRefusal(socket: Socket, refusal: Refusal, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: refusal.error, message });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? ''}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body,
  );
}

function noop(): void {}
