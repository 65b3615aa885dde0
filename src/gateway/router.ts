import { type INestApplication, Logger } from '@nestjs/common';
import { type MessageMappingProperties } from '@nestjs/websockets';
import { isObservable } from 'rxjs';
import type { WebSocket } from 'ws';
import { type Connection } from '../hub/connection.js';
import { HubCounters } from '../hub/hub-counters.js';
import { type HubService } from '../hub/hub.service.js';
import { ErrorCode } from '../protocol/wire/codes.js';
import type { ServerFrame } from '../protocol/wire/frames.js';
import { type HotInvoker, planHotRoute } from './hot-route.js';
import { InboundLimit } from './inbound-limit.js';
import { connectionOf } from './socket-tag.js';
import { monotonicNow } from '../hub/clock.js';

type Handler = (data: unknown, type: string) => unknown;
/** A frame handler: Nest's wrapped callback, or a hot route's direct invoker (hot-route.ts). */
interface Route {
  nest: Handler;
  hot: HotInvoker | null;
}

/**
 * The frame router: every text frame is parsed once, charged to the connection's token bucket and
 * dispatched by `type` straight to the gateway's handler (Nest's guards, pipes and filters run inside
 * it). No rxjs per frame, and a handler's return value goes through the hub's queue, never straight
 * to the socket. Framing problems (binary, bad JSON, no type, unknown type) become error frames here.
 */
export class Router {
  private readonly logger = new Logger('GatewayAdapter');
  private readonly handlers = new WeakMap<WebSocket, Map<string, Route>>();
  /** Hot route plans by frame type, made on the first connection. */
  private readonly hotRoutes = new Map<string, HotInvoker | null>();
  private readonly inbound: InboundLimit;

  constructor(
    private readonly app: INestApplication,
    private readonly hub: HubService,
    private readonly ratePerSec: number,
    maxPending: number,
  ) {
    this.inbound = new InboundLimit(maxPending, hub.counters);
  }

  /** Routes the socket's frames to the gateway's handlers (Nest calls this once per connection). */
  bind(ws: WebSocket, handlers: MessageMappingProperties[]): void {
    const map = new Map<string, Route>();
    for (const h of handlers) {
      const type = String(h.message);
      map.set(type, { nest: h.callback as Handler, hot: this.hotRoute(type) });
    }
    this.handlers.set(ws, map);
    ws.on('message', (data: Buffer, isBinary: boolean) => this.dispatch(ws, map, data, isBinary));
  }

  /**
   * The rooms of `?rooms=` (handshake-rooms.ts), each joined exactly as a `join` frame would be and
   * charged to the token bucket like one (refusals are error frames). Those the bucket does not
   * cover are not joined: one `rate_limited` error names them.
   */
  joinRequestedRooms(c: Connection, rooms: readonly string[]): void {
    if (rooms.length === 0) return;
    const route = this.handlers.get(c.ws)?.get('join');
    const now = Date.now();
    const refused: string[] = [];
    for (const room of rooms) {
      if (!c.bucket.take(now)) refused.push(room);
      else this.dispatchParsed(c.ws, c, route, { type: 'join', room }, 'join', undefined);
    }
    if (refused.length > 0) {
      this.hub.sendError(
        c,
        ErrorCode.RateLimited,
        `over ${this.ratePerSec} frames per second: ${refused.length} rooms of ?rooms= not joined; send join frames for them`,
        undefined,
        refused.map((room) => ({ field: 'rooms', problem: `${room}: not joined (rate limit)` })),
      );
    }
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
    const now = monotonicNow();
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
      return hub.sendError(c, ErrorCode.RateLimited, `over ${this.ratePerSec} frames per second`, ref);
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
      const inbound = this.inbound;
      inbound.started(ws);
      result.then(
        (value) => {
          inbound.settled();
          this.reply(c, value);
        },
        (err) => {
          inbound.settled();
          this.fault(c, err, ref);
        },
      );
    } else {
      this.reply(c, result);
    }
  }

  /** A handler's return value is its answer frame (`pong`, `authed`), sent through the queue. */
  private reply(c: Connection, value: unknown): void {
    if (value === undefined || value === null || isObservable(value)) return;
    if (typeof value === 'object' && c.open) this.hub.send(c, value as ServerFrame);
  }

  /** Only reached when the exception filter itself failed: still an error frame, never silence. */
  private fault(c: Connection, err: unknown, ref: unknown): void {
    this.logger.error(`unhandled fault on ${c.id}`, (err as Error)?.stack ?? String(err));
    this.hub.sendError(c, ErrorCode.Internal, 'internal error', ref);
  }
}
