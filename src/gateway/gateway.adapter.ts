import { type INestApplication, Logger } from '@nestjs/common';
import { AbstractWsAdapter } from '@nestjs/websockets';
import { type MessageMappingProperties } from '@nestjs/websockets';
import { type IncomingMessage, type Server as HttpServer, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { isObservable } from 'rxjs';
import { type WebSocket, WebSocketServer } from 'ws';
import { type HandshakeAuthenticator, HandshakeRefusal } from '../auth/handshake-authenticator.js';
import { type GatewayConfig } from '../config/config.js';
import { type Connection } from '../hub/connection.js';
import { HubCounters } from '../hub/hub-counters.js';
import { type HubService } from '../hub/hub.service.js';
import { ErrorCode, Refusal } from '../protocol/codes.js';
import type { ServerFrame } from '../protocol/frames.js';
import { type HotInvoker, planHotRoute } from './hot-route.js';

const CONNECTION = Symbol('connection');
type TaggedSocket = WebSocket & { [CONNECTION]?: Connection };

/** The hub's Connection behind a socket accepted by GatewayAdapter. */
export function connectionOf(ws: WebSocket): Connection | undefined {
  return (ws as TaggedSocket)[CONNECTION];
}

type Handler = (data: unknown, type: string) => unknown;
/** A frame handler: Nest's wrapped callback, or a hot route's direct invoker (hot-route.ts). */
interface Route {
  nest: Handler;
  hot: HotInvoker | null;
}

const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

/**
 * The WebSocket adapter: owns the upgrade path and the frame router.
 *
 * Upgrade: draining -> path -> a valid WebSocket request -> origin and JWT (HandshakeAuthenticator)
 * -> connection limits (HubService.admit), each refusal a plain HTTP answer with a JSON body written
 * before any upgrade. Only then does `ws` complete the handshake and the hub register the connection.
 *
 * Routing: every text frame is parsed once, charged to the connection's token bucket and dispatched
 * by `type` straight to the gateway's handler (Nest's guards, pipes and filters run inside it). No
 * rxjs per frame, and a handler's return value goes through the hub's queue, never straight to the
 * socket. Framing problems (binary, bad JSON, no type, unknown type) become error frames here.
 */
export class GatewayAdapter extends AbstractWsAdapter {
  private readonly logger = new Logger('GatewayAdapter');

  constructor(
    private readonly app: INestApplication,
    private readonly config: GatewayConfig,
    private readonly hub: HubService,
    private readonly authenticator: HandshakeAuthenticator,
  ) {
    super(app);
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
    const path = options?.path ?? '/ws';
    (this.httpServer as HttpServer).on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(wss, path, req, socket as Socket, head),
    );
    return wss;
  }

  private upgrade(
    wss: WebSocketServer,
    path: string,
    req: IncomingMessage,
    socket: Socket,
    head: Buffer,
  ): void {
    socket.on('error', noop);
    const refuse = (refusal: { status: number; error: string }, message: string): void => {
      HubCounters.bump(this.hub.counters.refusals, refusal.error);
      writeRefusal(socket, refusal, message);
    };
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return refuse(Refusal.BadRequest, 'malformed request target');
    }
    if (url.pathname !== path) return refuse(Refusal.NotFound, `no WebSocket endpoint at ${url.pathname}`);
    if (this.hub.isDraining) return refuse(Refusal.Draining, 'this instance is shutting down; reconnect');
    const problem = invalidUpgrade(req);
    if (problem) return refuse(Refusal.BadRequest, problem);

    let principal;
    try {
      principal = this.authenticator.authenticate(req, url);
    } catch (err) {
      if (err instanceof HandshakeRefusal) return refuse(err.refusal, err.message);
      this.logger.error('handshake failed', (err as Error).stack);
      return refuse({ status: 500, error: 'internal' }, 'internal error');
    }
    const ip = this.authenticator.clientIp(req);
    const limit = this.hub.admit(ip, principal.id);
    if (limit !== null) {
      const message =
        limit === Refusal.ServerFull
          ? 'the server is at its connection limit'
          : limit === Refusal.Draining
            ? 'this instance is shutting down; reconnect'
            : 'too many connections from this address or user';
      return refuse(limit, message);
    }

    let upgraded = false;
    try {
      wss.handleUpgrade(req, socket, head, (ws) => {
        upgraded = true;
        socket.off('error', noop);
        const c = this.hub.register(ws, socket, principal, ip, ws.extensions !== '');
        (ws as TaggedSocket)[CONNECTION] = c;
        ws.on('pong', onPong);
        ws.on('error', (err) => this.logger.debug?.(`socket error on ${c.id}: ${err.message}`));
        ws.once('close', (code: number, reason: Buffer) => this.hub.unregister(c, code, reason.toString()));
        wss.emit('connection', ws, req);
        this.joinRequestedRooms(c, url);
      });
    } finally {
      // `ws` completes (or aborts) the handshake synchronously: no callback means it refused.
      if (!upgraded) this.hub.release(ip, principal.id);
    }
  }

  /** `?rooms=a,b`: each joined exactly as a `join` frame would be (refusals are error frames). */
  private joinRequestedRooms(c: Connection, url: URL): void {
    const rooms = url.searchParams.get('rooms');
    if (!rooms) return;
    const route = this.handlers.get(c.ws)?.get('join');
    for (const room of rooms
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean)) {
      this.dispatchParsed(c.ws, c, route, { type: 'join', room }, 'join', undefined);
    }
  }

  private readonly handlers = new WeakMap<WebSocket, Map<string, Route>>();
  /** Hot route plans by frame type, made on the first connection. */
  private readonly hotRoutes = new Map<string, HotInvoker | null>();

  bindMessageHandlers(ws: WebSocket, handlers: MessageMappingProperties[]): void {
    const map = new Map<string, Route>();
    for (const h of handlers) {
      const type = String(h.message);
      map.set(type, { nest: h.callback as Handler, hot: this.hotRoute(type) });
    }
    this.handlers.set(ws, map);
    ws.on('message', (data: Buffer, isBinary: boolean) => this.dispatch(ws, map, data, isBinary));
  }

  private hotRoute(type: string): HotInvoker | null {
    let route = this.hotRoutes.get(type);
    if (route === undefined) {
      const plan = planHotRoute(this.app, type);
      if (typeof plan === 'string') {
        this.logger.warn(`"${type}" frames: not a hot route (${plan}); they go through Nest's pipeline`);
      }
      route = typeof plan === 'function' ? plan : null;
      this.hotRoutes.set(type, route);
    }
    return route;
  }

  private dispatch(ws: WebSocket, handlers: Map<string, Route>, data: Buffer, isBinary: boolean): void {
    const c = connectionOf(ws);
    if (c === undefined || !c.open) return;
    this.hub.counters.bytesIn += data.length;
    const now = Date.now();
    c.lastSeen = now;
    let msg: unknown;
    let badJson = false;
    if (!isBinary) {
      try {
        msg = JSON.parse(data.toString());
      } catch {
        badJson = true;
      }
    }
    const isObject = typeof msg === 'object' && msg !== null && !Array.isArray(msg);
    const ref = isObject ? (msg as { id?: unknown }).id : undefined;
    const hub = this.hub;
    if (!c.bucket.take(now)) {
      return hub.sendError(c, ErrorCode.RateLimited, `over ${this.config.ratePerSec} frames per second`, ref);
    }
    if (isBinary)
      return hub.sendError(c, ErrorCode.Unsupported, 'binary frames are not supported; send JSON text');
    if (badJson) return hub.sendError(c, ErrorCode.BadJson, 'the frame is not valid JSON');
    if (!isObject) {
      return hub.sendError(
        c,
        ErrorCode.BadEnvelope,
        'a frame must be a JSON object with a string "type"',
        ref,
        [{ field: 'type', problem: 'required' }],
      );
    }
    const type = (msg as { type?: unknown }).type;
    if (typeof type !== 'string') {
      return hub.sendError(c, ErrorCode.BadEnvelope, 'a frame must have a string "type"', ref, [
        { field: 'type', problem: 'must be a string' },
      ]);
    }
    const handler = handlers.get(type);
    HubCounters.bump(this.hub.counters.framesIn, handler !== undefined ? type : 'unknown');
    this.dispatchParsed(ws, c, handler, msg, type, ref);
  }

  private dispatchParsed(
    ws: WebSocket,
    c: Connection,
    route: Route | undefined,
    msg: unknown,
    type: string,
    ref: unknown,
  ): void {
    if (route === undefined) {
      return this.hub.sendError(c, ErrorCode.UnknownType, `unknown frame type "${type.slice(0, 32)}"`, ref);
    }
    let result: unknown;
    try {
      result = route.hot !== null ? route.hot(ws, c, msg, type) : route.nest(msg, type);
    } catch (err) {
      return this.fault(c, err, ref);
    }
    if (result instanceof Promise) {
      result.then(
        (value) => this.reply(c, value),
        (err) => this.fault(c, err, ref),
      );
    } else {
      this.reply(c, result);
    }
  }

  private reply(c: Connection, value: unknown): void {
    if (value === undefined || value === null || isObservable(value)) return;
    if (typeof value === 'object' && c.open) this.hub.send(c, value as ServerFrame); // a handler's answer is a server frame (pong, authed)
  }

  /** Only reached when the exception filter itself failed: still an error frame, never silence. */
  private fault(c: Connection, err: unknown, ref: unknown): void {
    this.logger.error(`unhandled fault on ${c.id}`, (err as Error)?.stack ?? String(err));
    this.hub.sendError(c, ErrorCode.Internal, 'internal error', ref);
  }

  override bindClientDisconnect(ws: WebSocket, callback: (...args: unknown[]) => void): void {
    ws.once('close', callback);
  }

  override async close(wss: WebSocketServer): Promise<void> {
    await new Promise<void>((resolve) => wss.close(() => resolve()));
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
function writeRefusal(socket: Socket, refusal: { status: number; error: string }, message: string): void {
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
