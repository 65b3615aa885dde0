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
import { requestedRooms, tooManyRoomsMessage } from './handshake-rooms.js';
import type { Router } from './router.js';
import { connectionOf, tagSocket } from './socket-tag.js';
import { monotonicNow } from '../hub/clock.js';

const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

/** A handshake past the instance's admission: what the cluster checks, the hook and the upgrade need. */
interface Admitted {
  req: IncomingMessage;
  socket: Socket;
  head: Buffer;
  /** `?rooms=`, joined right after `welcome`. */
  rooms: readonly string[];
  principal: Principal;
  ip: string;
  /** The connection's id, named before the upgrade so that the user directory's lease carries it. */
  id: string;
}

/**
 * The upgrade path: draining -> path -> a valid WebSocket request -> origin and JWT
 * (HandshakeAuthenticator) -> connection limits (HubService.admit) -> revocation and the user's
 * cluster-wide connection lease (HubService.admitUser). Each refusal is a plain HTTP
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
    /** MAX_ROOMS_PER_CONNECTION: a handshake naming more rooms in `?rooms=` is refused 400. */
    private readonly maxRooms = Number.MAX_SAFE_INTEGER,
    private readonly hooks: HooksService | null = null,
  ) {}

  /** `redeemed`: the principal of a `?ticket=` already redeemed (the second pass, after the await). */
  handle(req: IncomingMessage, socket: Socket, head: Buffer, redeemed?: Principal): void {
    if (redeemed === undefined) socket.on('error', noop);
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
    const rooms = requestedRooms(url);
    if (rooms.length > this.maxRooms)
      return this.refuse(socket, Refusal.BadRequest, tooManyRoomsMessage(rooms.length, this.maxRooms));

    let principal: Principal;
    const ticket = redeemed === undefined ? this.authenticator.ticketOf(req, url) : null;
    if (redeemed !== undefined) {
      principal = redeemed;
    } else if (ticket !== null) {
      return this.redeem(req, socket, head, ticket);
    } else {
      try {
        principal = this.authenticator.authenticate(req, url);
      } catch (err) {
        return this.authFailed(socket, err);
      }
    }
    const ip = this.authenticator.clientIp(req);
    const limit = this.hub.admit(ip, principal.id);
    if (limit !== null) return this.refuse(socket, limit);
    void this.admitCluster({ req, socket, head, rooms, principal, ip, id: this.hub.newId() });
  }

  /**
   * The checks that ask the cluster, both at once: the token's revocation (401) and a lease in the
   * user directory (MAX_CONNECTIONS_PER_USER over every instance, 429). Then the connect hook, if
   * any, and the upgrade.
   */
  private async admitCluster(h: Admitted): Promise<void> {
    let refusal: Refusal | null = null;
    let message: string | undefined;
    let leased = false;
    try {
      const [revoked, lease] = await Promise.all([
        this.authenticator.isRevoked(h.principal),
        this.hub.admitUser(h.principal.id, h.id),
      ]);
      leased = lease;
      if (revoked) [refusal, message] = [Refusal.Unauthorized, 'token revoked'];
      else if (!lease) refusal = Refusal.TooManyConnections;
    } catch (err) {
      this.logger.error('handshake failed', (err as Error).stack);
      refusal = Refusal.Internal;
    }
    if (refusal !== null || h.socket.destroyed) {
      this.hub.release(h.ip, h.principal.id);
      if (leased) this.hub.abandonLease(h.principal.id, h.id);
      if (refusal !== null) this.refuse(h.socket, refusal, message);
      return;
    }
    if (this.hooks?.connects) return this.askConnectHook(this.hooks, h);
    this.accept(h);
  }

  /** Gives back what admission reserved: the instance's slot and the user directory's lease. */
  private releaseAdmitted(h: Admitted): void {
    this.hub.release(h.ip, h.principal.id);
    this.hub.abandonLease(h.principal.id, h.id);
  }

  /**
   * The connect hook decides between admission and the upgrade (the slot stays reserved while it
   * does): a refusal is the HTTP answer, an allow may rename the user or replace its rooms claim.
   */
  private askConnectHook(hooks: HooksService, h: Admitted): void {
    hooks.connect(h.principal, h.ip).then(
      (outcome) => {
        if (outcome.refusal !== undefined) {
          this.releaseAdmitted(h);
          return this.refuse(h.socket, outcome.refusal, outcome.message);
        }
        if (this.hub.isDraining) {
          this.releaseAdmitted(h);
          return this.refuse(h.socket, Refusal.Draining);
        }
        this.accept({ ...h, principal: outcome.principal });
      },
      (err: unknown) => {
        this.releaseAdmitted(h);
        this.logger.error('connect hook failed', (err as Error)?.stack ?? String(err));
        this.refuse(h.socket, Refusal.Internal);
      },
    );
  }

  /** Completes the handshake of an admitted request and registers the connection. */
  private accept(h: Admitted): void {
    const { req, socket, principal, ip } = h;
    let upgraded = false;
    // The 101 answer and the first frames (`welcome`) leave in one write: one syscall, one packet.
    socket.cork();
    try {
      this.wss.handleUpgrade(req, socket, h.head, (ws) => {
        upgraded = true;
        socket.off('error', noop);
        const c = this.hub.register(ws, socket, principal, ip, ws.extensions !== '', h.id);
        tagSocket(ws, c);
        ws.on('pong', onPong);
        ws.on('error', (err) => this.logger.debug?.(`socket error on ${c.id}: ${err.message}`));
        ws.once('close', (code: number, reason: Buffer) => this.hub.unregister(c, code, reason.toString()));
        this.wss.emit('connection', ws, req);
        this.router.joinRequestedRooms(c, h.rooms);
        this.hub.flush(c);
      });
    } finally {
      socket.uncork();
      // `ws` completes (or aborts) the handshake synchronously: no callback means it refused.
      if (!upgraded) this.releaseAdmitted(h);
    }
  }

  /**
   * Redeems a ticket (a Redis round trip with REDIS_URL), then runs the handshake again with its
   * principal: draining and the socket's state are checked anew after the wait.
   */
  private redeem(req: IncomingMessage, socket: Socket, head: Buffer, ticket: string): void {
    this.authenticator.redeem(req, ticket).then(
      (principal) => {
        if (socket.destroyed) return;
        this.handle(req, socket, head, principal);
      },
      (err: unknown) => this.authFailed(socket, err),
    );
  }

  private authFailed(socket: Socket, err: unknown): void {
    if (err instanceof HandshakeRefusal) return this.refuse(socket, err.refusal, err.message);
    this.logger.error('handshake failed', (err as Error).stack);
    return this.refuse(socket, Refusal.Internal);
  }

  /** Counts the refusal and answers it; `message` defaults to the refusal's own. */
  private refuse(socket: Socket, refusal: Refusal, message: string = refusal.message): void {
    HubCounters.bump(this.hub.counters.refusals, refusal.error);
    writeRefusal(socket, refusal, message);
  }
}

function onPong(this: WebSocket): void {
  const c = connectionOf(this);
  if (c !== undefined) c.lastSeen = monotonicNow();
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
