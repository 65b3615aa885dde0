// A typed client for wire protocol v1 (docs/protocol.md). It runs in browsers and in Node (pass
// the `ws` package's WebSocket as `WebSocketImpl`): no Node-only imports, no framework.
//
// What it adds on top of a raw socket:
// - reconnects by itself with capped exponential backoff and full jitter;
// - rejoins its rooms with `since` = the last seq it delivered and `epoch` = the last epoch seen, and
//   delivers every room message to the application exactly once and in seq order (`gap` reports
//   what the server could not replay);
// - keeps unacknowledged sends in a bounded outbox and resends them with the same `id` after a
//   reconnect, or after `rate_limited` / `unavailable`: the server's dedup by (user, id) makes that safe;
// - never reconnects after a 401 at the handshake or a close 1008 without asking the application
//   for a new token through `getToken`.

import { CloseCode, TEMPORARY_ERRORS } from '../protocol/wire/codes.js';
import type {
  AckFrame,
  AuthedFrame,
  ClientFrame,
  DirectFrame,
  ErrorFrame,
  JoinedFrame,
  LeftFrame,
  Limits,
  MessageFrame,
  PongFrame,
  PresenceFrame,
  ResetFrame,
  ServerFrame,
  WelcomeFrame,
} from '../protocol/wire/frames.js';
import { MAX_JOIN_LAST, MAX_USER_ID_LENGTH, ROOM_NAME } from '../protocol/wire/limits.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { TypedEmitter } from './emitter.js';
import { type ClientErrorCode, GatewayError } from './gateway-error.js';
import { newId } from './ids.js';
import { Outbox, type OutgoingFrame } from './outbox.js';
import { Pacer } from './pacer.js';
import { type GapEvent, RoomResume } from './room-resume.js';
import { defaultTicketUrl, type FetchLike, TicketSource } from './ticket.js';
import { tokenExpiryMs } from './token.js';

export * from '../protocol/wire/codes.js';
export * from '../protocol/wire/frames.js';
export * from '../protocol/wire/limits.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { type ClientErrorCode, GatewayError } from './gateway-error.js';
export { newId } from './ids.js';
export type { GapEvent } from './room-resume.js';
export { defaultTicketUrl, type FetchLike } from './ticket.js';
export { tokenExpiryMs } from './token.js';

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

/**
 * Why the client asks for a token:
 * - `initial`: `connect()` without a `token` option;
 * - `unauthorized`: the handshake was answered 401 (known in Node; browsers hide the status);
 * - `expired`: the server closed 1008, or the token's `exp` has passed before a reconnect;
 * - `refresh`: the token expires soon; the answer is sent in an `auth` frame;
 * - `handshake_failed`: the handshake failed and the host does not say why (browsers): the server
 *   may be down or may have refused the token. Returning the same token keeps retrying with it.
 */
export type TokenReason = 'initial' | 'unauthorized' | 'expired' | 'refresh' | 'handshake_failed';

export type TokenProvider = (
  reason: TokenReason,
) => string | null | undefined | Promise<string | null | undefined>;

/** The part of the WHATWG WebSocket interface the client uses (browsers and `ws` both have it). */
interface SocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, `(await import('ws')).WebSocket` in Node. */
export type WebSocketConstructor = new (url: string) => unknown;

export interface GatewayClientOptions {
  /**
   * The endpoint, e.g. `wss://chat.example.com/ws`. The handshake carries a single-use ticket
   * (`?ticket=`, see `ticketUrl`), or the token itself (`?token=`) when the server has no tickets.
   */
  url: string;
  /**
   * Where the token is traded for a ticket before each handshake (POST, `Authorization: Bearer`),
   * so that the token never appears in a URL. Default: `api/ws-ticket` next to `url`
   * (`wss://host/ws` -> `https://host/api/ws-ticket`). A 404/405 answer means the server offers no
   * tickets: the client then sends `?token=`. `false`: always `?token=`.
   */
  ticketUrl?: string | false;
  /** The fetch used for tickets (default `globalThis.fetch`; without one, `?token=` is used). */
  fetch?: FetchLike;
  /** A token to start with. Without it, `connect()` asks `getToken('initial')`. */
  token?: string;
  /** Asked for a token when there is none, after a 401 or a close 1008, and before expiry. */
  getToken?: TokenProvider;
  /** Default `globalThis.WebSocket`. */
  WebSocketImpl?: WebSocketConstructor;
  /** Reconnect backoff (default 250 ms .. 10 s), or `false` never to reconnect. */
  reconnect?: Partial<BackoffOptions> | false;
  /** At most this many unacknowledged `send`/`direct` calls (default 100); more reject `outbox_full`. */
  outboxLimit?: number;
  /** Times a send answered `rate_limited` / `unavailable` / `internal` is retried (default 8). */
  maxSendRetries?: number;
  /** Base delay before such a retry (default 1000 ms, doubled per retry, capped by reconnect.maxMs). */
  retryDelayMs?: number;
  /** Pace outgoing frames to the server's `limits.ratePerSec` so they are not refused (default true). */
  pace?: boolean;
  /** Refresh the token with an `auth` frame this long before it expires (default 60000), or `false`. */
  tokenRefresh?: { marginMs: number } | false;
  /** Random source for the backoff jitter (tests). */
  random?: () => number;
}

export interface StatusEvent {
  status: ConnectionStatus;
  /** Why the client went offline or is reconnecting (e.g. `closed`, `unauthorized`, `close 1013 slow consumer`). */
  reason?: string;
}

export interface CloseEvent {
  code: number;
  reason: string;
  /** The HTTP status of a refused handshake, when the host reports it (Node's `ws` does). */
  httpStatus?: number;
  willReconnect: boolean;
}

export interface ReconnectEvent {
  attempt: number;
  delayMs: number;
}

export interface GatewayClientEvents {
  welcome: WelcomeFrame;
  /** Room messages, each exactly once per room and in seq order (duplicates from replays are dropped). */
  message: MessageFrame;
  direct: DirectFrame;
  joined: JoinedFrame;
  /** The room's history generation changed (before the first message of the new epoch). */
  reset: ResetFrame;
  left: LeftFrame;
  presence: PresenceFrame;
  ack: AckFrame;
  pong: PongFrame;
  authed: AuthedFrame;
  /** Every `error` frame, including those that also reject a pending call. */
  error: ErrorFrame;
  status: StatusEvent;
  gap: GapEvent;
  close: CloseEvent;
  reconnect: ReconnectEvent;
  /** Every frame as received, before any filtering (diagnostics). */
  frame: ServerFrame;
}

export interface SendResult {
  id: string;
  room: string;
  seq: number;
}

export interface RoomInfo {
  room: string;
  /** The last seq delivered to the application (the next rejoin's `since`). */
  lastSeq?: number;
  epoch?: string;
  /** Joined on the current connection. */
  joined: boolean;
}

// ---------------------------------------------------------------------------------------------

const OPEN = 1;
/** Handshake statuses after which retrying the same request cannot succeed. */
const FATAL_HANDSHAKE: ReadonlySet<number> = new Set([400, 403, 404]);
/** setTimeout's largest delay (2^31 - 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

/** A frame without an `id` the server answers exactly once (joined/left/authed or a ref-less error). */
interface PendingControl {
  kind: 'join' | 'leave' | 'auth';
  room?: string;
  token?: string;
  settle: (answer: { ok: true; frame: ServerFrame } | { ok: false; error: ErrorFrame }) => void;
}

interface Timers {
  reconnect?: ReturnType<typeof setTimeout>;
  heartbeat?: ReturnType<typeof setInterval>;
  refresh?: ReturnType<typeof setTimeout>;
}

export class GatewayClient extends TypedEmitter<GatewayClientEvents> {
  private readonly url: string;
  private readonly getToken?: TokenProvider;
  private readonly Impl: WebSocketConstructor;
  private readonly backoff: BackoffOptions | false;
  private readonly maxSendRetries: number;
  private readonly retryDelayMs: number;
  private readonly refreshMarginMs: number | false;
  private readonly random: () => number;
  private readonly tickets: TicketSource;

  private token?: string;
  private sock: SocketLike | null = null;
  private currentStatus: ConnectionStatus = 'offline';
  /** The app called close(): nothing reconnects until connect() again. */
  private stopped = true;
  /** Bumped whenever the client stops, so that an attempt begun before a stop cannot open a socket after it. */
  private run = 0;
  private attempt = 0;
  private connectedAt = 0;
  /** performance.now() of the last frame received (monotonic: a wall-clock step is not silence). */
  private lastInbound = 0;
  private welcomeFrame?: WelcomeFrame;
  private readonly rooms = new Map<string, RoomResume>();
  private readonly outbox: Outbox;
  private readonly pacer: Pacer;
  private controls: PendingControl[] = [];
  private readonly timers: Timers = {};
  private connectWaiters: Array<{ resolve: (w: WelcomeFrame) => void; reject: (e: GatewayError) => void }> =
    [];
  private closeWaiters: Array<() => void> = [];

  constructor(options: GatewayClientOptions) {
    super();
    const Impl = options.WebSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Impl) {
      throw new Error(
        'GatewayClient: no WebSocket implementation; pass WebSocketImpl (in Node: the ws package)',
      );
    }
    this.Impl = Impl;
    this.url = options.url;
    const globalFetch = (globalThis as { fetch?: FetchLike }).fetch;
    this.tickets = new TicketSource(
      options.ticketUrl ?? defaultTicketUrl(options.url),
      options.fetch ?? (globalFetch && ((url, init) => globalFetch(url, init))),
    );
    this.token = options.token;
    this.getToken = options.getToken;
    this.backoff =
      options.reconnect === false
        ? false
        : { minMs: options.reconnect?.minMs ?? 250, maxMs: options.reconnect?.maxMs ?? 10_000 };
    this.maxSendRetries = options.maxSendRetries ?? 8;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.refreshMarginMs =
      options.tokenRefresh === false ? false : (options.tokenRefresh?.marginMs ?? 60_000);
    this.random = options.random ?? Math.random;
    this.pacer = new Pacer(options.pace ?? true, () => (this.isLive() ? this.sock : null));
    this.outbox = new Outbox(
      {
        isLive: () => this.isLive(),
        // A message waits while its room is being rejoined; one for a room the app left goes out.
        ready: (frame) => frame.type !== 'message' || this.rooms.get(frame.room)?.joined !== false,
        write: (frame) => this.write(frame),
        limits: () => this.welcomeFrame?.limits,
      },
      {
        limit: options.outboxLimit ?? 100,
        maxRetries: this.maxSendRetries,
        retryDelayMs: this.retryDelayMs,
        maxRetryDelayMs: this.backoff === false ? 30_000 : this.backoff.maxMs,
      },
    );
  }

  // ---- public API ------------------------------------------------------------------------------

  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  /** The last `welcome` (user, limits), if the client has connected once. */
  get welcome(): WelcomeFrame | undefined {
    return this.welcomeFrame;
  }

  get limits(): Limits | undefined {
    return this.welcomeFrame?.limits;
  }

  /** Number of sends not yet acknowledged (the outbox). */
  get pendingCount(): number {
    return this.outbox.size;
  }

  roomInfo(room: string): RoomInfo | undefined {
    const r = this.rooms.get(room);
    return r && { room: r.name, lastSeq: r.lastSeq, epoch: r.epoch, joined: r.joined };
  }

  listRooms(): RoomInfo[] {
    return [...this.rooms.keys()].map((room) => this.roomInfo(room) as RoomInfo);
  }

  /**
   * Opens the connection; resolves with the first `welcome`. Failed attempts are retried with
   * backoff, so the promise waits until the server answers, or rejects when the client goes offline
   * for good (refused token, `close()`, reconnect disabled).
   */
  connect(): Promise<WelcomeFrame> {
    if (this.currentStatus === 'connected' && this.welcomeFrame) return Promise.resolve(this.welcomeFrame);
    const promise = new Promise<WelcomeFrame>((resolve, reject) =>
      this.connectWaiters.push({ resolve, reject }),
    );
    if (this.stopped) {
      this.stopped = false;
      this.attempt = 0;
      this.setStatus('connecting');
      void this.openWithToken(this.token ? undefined : 'initial');
    }
    return promise;
  }

  /**
   * Joins a room; resolves with its `joined`. `since` replays the messages after it; `last` (first
   * join only, 1..MAX_JOIN_LAST) replays the room's last messages the server holds, before `joined`.
   * The room is rejoined after every reconnect, resuming from the last seq delivered.
   */
  join(room: string, options: { since?: number; last?: number } = {}): Promise<JoinedFrame> {
    if (!ROOM_NAME.test(room))
      return Promise.reject(new GatewayError('invalid', `bad room name: ${JSON.stringify(room)}`));
    if (options.since !== undefined && !(Number.isInteger(options.since) && options.since >= 0)) {
      return Promise.reject(new GatewayError('invalid', 'since must be an integer >= 0'));
    }
    const last = options.last;
    if (last !== undefined && !(Number.isInteger(last) && last >= 1 && last <= MAX_JOIN_LAST)) {
      return Promise.reject(new GatewayError('invalid', `last must be an integer 1..${MAX_JOIN_LAST}`));
    }
    if (last !== undefined && options.since !== undefined) {
      return Promise.reject(new GatewayError('invalid', 'since and last cannot be combined'));
    }
    if (this.stopped)
      return Promise.reject(new GatewayError('offline', 'not connected: call connect() first'));
    let state = this.rooms.get(room);
    if (state && state.joined && options.since === undefined && state.lastJoined)
      return Promise.resolve(state.lastJoined);
    if (!state) {
      state = new RoomResume(room);
      this.rooms.set(room, state);
    }
    if (options.since !== undefined) state.restartFrom(options.since);
    else if (last !== undefined && state.lastSeq === undefined) state.recent = last;
    const promise = new Promise<JoinedFrame>((resolve, reject) => state.waiters.push({ resolve, reject }));
    // Not connected: the join goes out with the rejoins after the next welcome.
    if (this.isLive() && !state.joining) this.sendJoin(state);
    return promise;
  }

  /** Leaves a room: it is no longer rejoined, and its messages are no longer delivered. */
  leave(room: string): Promise<void> {
    const state = this.rooms.get(room);
    if (!state) return Promise.resolve();
    this.rooms.delete(room);
    for (const w of state.waiters.splice(0))
      w.reject(new GatewayError('left', `left ${room} before it was joined`));
    if (!this.isLive() || !state.joined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const frame = { type: 'leave' as const, room };
      // A refused leave (not_joined, rate_limited...) still means the app no longer gets this room's messages.
      this.writeControl(frame, { kind: 'leave', room, settle: () => resolve() });
    });
  }

  /**
   * Sends `content` to a room; resolves with `{id, room, seq}` from the `ack`, or rejects with the
   * server's `error` for the same id. While disconnected the message waits in the outbox and is sent,
   * with the same id, after the reconnect.
   */
  async send(room: string, content: string, options: { id?: string } = {}): Promise<SendResult> {
    if (!ROOM_NAME.test(room)) throw new GatewayError('invalid', `bad room name: ${JSON.stringify(room)}`);
    const ack = await this.enqueueSend({ type: 'message', room, content, id: options.id ?? newId() });
    return { id: ack.id, room: ack.room ?? room, seq: ack.seq ?? -1 };
  }

  /** Sends a direct message to every connection of user `to` (and the sender's other connections). */
  async direct(to: string, content: string, options: { id?: string } = {}): Promise<{ id: string }> {
    if (typeof to !== 'string' || to.length < 1 || to.length > MAX_USER_ID_LENGTH)
      throw new GatewayError('invalid', `to must be 1..${MAX_USER_ID_LENGTH} characters`);
    const ack = await this.enqueueSend({ type: 'direct', to, content, id: options.id ?? newId() });
    return { id: ack.id };
  }

  /** Replaces the token: sent in an `auth` frame when connected, used for the next handshake otherwise. */
  authenticate(token: string): Promise<AuthedFrame | undefined> {
    if (!this.isLive()) {
      this.token = token;
      return Promise.resolve(undefined);
    }
    return new Promise<AuthedFrame | undefined>((resolve, reject) => {
      this.writeControl(
        { type: 'auth', token },
        {
          kind: 'auth',
          token,
          settle: (answer) => {
            if (answer.ok) {
              this.token = token;
              this.scheduleRefresh();
              resolve(answer.frame as AuthedFrame);
            } else {
              reject(GatewayError.fromFrame(answer.error));
            }
          },
        },
      );
    });
  }

  /** Sends a `ping`; the server answers `pong` (also used by the idle watchdog). */
  ping(): void {
    if (this.isLive()) this.write({ type: 'ping', id: newId() });
  }

  /**
   * Closes for good (until connect() again): pending sends and joins reject with `closed`.
   * Resolves when the socket has closed.
   */
  close(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    const sock = this.sock;
    const done = new Promise<void>((resolve) => {
      if (!sock) resolve();
      else this.closeWaiters.push(resolve);
    });
    this.goOffline('closed', 'closed');
    if (sock) {
      try {
        sock.close(1000, 'client closing');
      } catch {
        this.onSocketClose(sock, 1006, 'client closing');
      }
    }
    return done;
  }

  // ---- connection lifecycle ------------------------------------------------------------------

  private isLive(): boolean {
    return this.currentStatus === 'connected' && this.sock !== null && this.sock.readyState === OPEN;
  }

  private setStatus(status: ConnectionStatus, reason?: string): void {
    if (this.currentStatus === status) return;
    this.currentStatus = status;
    this.emit('status', reason === undefined ? { status } : { status, reason });
  }

  /** Gets a token first when `reason` says the current one cannot be used, then opens a socket. */
  private async openWithToken(reason?: TokenReason): Promise<void> {
    const run = this.run;
    const expiry = this.token ? tokenExpiryMs(this.token) : undefined;
    if (!reason && expiry !== undefined && expiry <= Date.now() && this.getToken) reason = 'expired';
    if (reason) {
      const previous = this.token;
      let fresh: string | null | undefined;
      try {
        fresh = this.getToken ? await this.getToken(reason) : undefined;
      } catch {
        fresh = undefined;
      }
      if (this.stopped || run !== this.run) return;
      const mustChange = reason === 'unauthorized' || reason === 'expired';
      if (fresh) this.token = fresh;
      if (!this.token || (mustChange && (!fresh || fresh === previous))) {
        this.goOffline(
          reason === 'initial' ? 'no_token' : reason,
          reason === 'initial' ? 'no token' : `${reason}: no new token`,
        );
        return;
      }
    }
    const credential = await this.tickets.credential(this.token as string);
    if (this.stopped || run !== this.run) return;
    if ('failure' in credential) {
      // The ticket request was refused: the same as a refused handshake with that status.
      this.afterClose(1006, 'ticket request failed', { opened: false, ...credential.failure });
      return;
    }
    this.openSocket(credential.query);
  }

  /** `query`: `ticket=...` or `token=...`. */
  private openSocket(query: string): void {
    const url = this.url + (this.url.includes('?') ? '&' : '?') + query;
    let sock: SocketLike;
    try {
      sock = new this.Impl(url) as SocketLike;
    } catch (err) {
      // A malformed URL throws synchronously: retrying cannot help.
      this.goOffline('refused', `cannot open ${this.url}: ${(err as Error).message}`);
      return;
    }
    this.sock = sock;
    const handshake: { opened: boolean; httpStatus?: number; networkError?: string } = { opened: false };
    sock.onopen = () => {
      handshake.opened = true;
    };
    sock.onmessage = (event) => {
      if (this.sock === sock) this.onData(event.data);
    };
    sock.onerror = (event) => {
      // Node's ws reports a refused handshake as "Unexpected server response: 401"; browsers say nothing.
      const raw = (event as { message?: unknown } | null)?.message;
      const message = typeof raw === 'string' ? raw : '';
      const status = /Unexpected server response: (\d{3})/.exec(message);
      if (status) handshake.httpStatus = Number(status[1]);
      else if (message) handshake.networkError = message;
    };
    sock.onclose = (event) => this.onSocketClose(sock, event.code, event.reason, handshake);
  }

  private onSocketClose(
    sock: SocketLike,
    code: number,
    reason: string,
    handshake: { opened: boolean; httpStatus?: number; networkError?: string } = { opened: true },
  ): void {
    sock.onopen = sock.onmessage = sock.onerror = sock.onclose = null;
    for (const resolve of this.closeWaiters.splice(0)) resolve();
    if (this.sock !== sock) return;
    this.sock = null;
    this.afterClose(code, reason, handshake);
  }

  /** What a closed socket, a refused handshake or a refused ticket request means for the next attempt. */
  private afterClose(
    code: number,
    reason: string,
    handshake: { opened: boolean; httpStatus?: number; networkError?: string },
  ): void {
    const wasWelcomed = this.currentStatus === 'connected';
    const upMs = wasWelcomed ? performance.now() - this.connectedAt : 0;
    this.resetConnectionState();
    if (this.stopped) {
      this.emit('close', { code, reason, willReconnect: false });
      return;
    }

    // What the close means for the next attempt.
    let tokenReason: TokenReason | undefined;
    let fatal: string | undefined;
    if (!handshake.opened && handshake.httpStatus !== undefined) {
      if (handshake.httpStatus === 401) tokenReason = 'unauthorized';
      else if (FATAL_HANDSHAKE.has(handshake.httpStatus))
        fatal = `handshake refused: HTTP ${handshake.httpStatus}`;
    } else if (!handshake.opened && handshake.networkError === undefined) {
      tokenReason = this.getToken ? 'handshake_failed' : undefined;
    } else if (code === CloseCode.PolicyViolation) {
      tokenReason = 'expired';
    } else if (code === CloseCode.Disconnected) {
      fatal = `disconnected by the server: ${reason || code}`;
    }
    const mayRetry =
      this.backoff !== false &&
      fatal === undefined &&
      (tokenReason === undefined || tokenReason === 'handshake_failed' || this.getToken !== undefined);
    this.emit('close', {
      code,
      reason,
      ...(handshake.httpStatus !== undefined ? { httpStatus: handshake.httpStatus } : {}),
      willReconnect: mayRetry,
    });
    if (!mayRetry) {
      const why =
        fatal ??
        (tokenReason
          ? `${tokenReason}: no getToken to ask for a new token`
          : `closed ${code} ${reason}`.trim());
      this.goOffline(
        tokenReason === 'unauthorized' || tokenReason === 'expired' ? tokenReason : 'refused',
        why,
      );
      return;
    }
    // A connection that stayed up a while starts the backoff over; a flapping one keeps growing it.
    if (wasWelcomed && upMs >= 5000) this.attempt = 0;
    const why =
      handshake.httpStatus !== undefined
        ? `handshake HTTP ${handshake.httpStatus}`
        : `close ${code}${reason ? ' ' + reason : ''}`;
    this.setStatus('reconnecting', why);
    this.scheduleReconnect(tokenReason);
  }

  private scheduleReconnect(tokenReason?: TokenReason): void {
    if (this.backoff === false) return;
    const delayMs = backoffDelay(this.attempt, this.backoff, this.random);
    this.attempt++;
    this.emit('reconnect', { attempt: this.attempt, delayMs });
    this.timers.reconnect = setTimeout(() => {
      this.timers.reconnect = undefined;
      if (!this.stopped) void this.openWithToken(tokenReason);
    }, delayMs);
  }

  /** Forgets everything tied to the socket that just closed; rooms and the outbox survive. */
  private resetConnectionState(): void {
    this.pacer.clear();
    clearInterval(this.timers.heartbeat);
    clearTimeout(this.timers.refresh);
    this.timers.heartbeat = this.timers.refresh = undefined;
    // Answers to these will never come; joins are redone after the next welcome.
    const controls = this.controls;
    this.controls = [];
    for (const control of controls) {
      if (control.kind !== 'join') {
        control.settle({
          ok: false,
          error: { type: 'error', code: 'unavailable', message: 'connection lost' },
        });
      }
    }
    for (const room of this.rooms.values()) room.disconnected();
    this.outbox.requeue();
  }

  private goOffline(code: ClientErrorCode | TokenReason, reason: string): void {
    this.stopped = true;
    this.run++;
    this.clearTimers();
    const err = new GatewayError(
      code === 'closed' ? 'closed' : code === 'no_token' ? 'no_token' : 'offline',
      reason,
    );
    for (const w of this.connectWaiters.splice(0)) w.reject(err);
    this.outbox.rejectAll(err);
    for (const room of this.rooms.values()) {
      for (const w of room.waiters.splice(0)) w.reject(err);
    }
    if (code === 'closed') this.rooms.clear();
    this.setStatus('offline', code === 'closed' ? 'closed' : reason);
  }

  private clearTimers(): void {
    clearTimeout(this.timers.reconnect);
    this.pacer.pause();
    clearInterval(this.timers.heartbeat);
    clearTimeout(this.timers.refresh);
    this.timers.reconnect = this.timers.heartbeat = this.timers.refresh = undefined;
  }

  // ---- inbound -------------------------------------------------------------------------------

  private onData(data: unknown): void {
    this.lastInbound = performance.now();
    if (typeof data !== 'string') return; // the protocol only has text frames
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return;
    this.emit('frame', frame);
    switch (frame.type) {
      case 'welcome':
        return this.onWelcome(frame);
      case 'message':
        return this.onMessage(frame);
      case 'joined':
        return this.onJoined(frame);
      case 'reset':
        if (!this.rooms.has(frame.room)) return;
        this.rooms.get(frame.room)!.reset(frame, (gap) => this.emit('gap', gap));
        return this.emit('reset', frame);
      case 'left':
        this.settleControl((c) => c.kind === 'leave' && c.room === frame.room, { ok: true, frame });
        // The server took the room away (e.g. `forbidden` after a token refresh): not rejoined.
        if (frame.reason !== undefined && frame.reason !== 'leave') this.dropRoom(frame.room, frame);
        return this.emit('left', frame);
      case 'ack':
        return this.onAck(frame);
      case 'authed':
        this.settleControl((c) => c.kind === 'auth', { ok: true, frame });
        return this.emit('authed', frame);
      case 'error':
        return this.onError(frame);
      case 'direct':
        return this.emit('direct', frame);
      case 'presence':
        if (this.rooms.has(frame.room)) this.emit('presence', frame);
        return;
      case 'pong':
        return this.emit('pong', frame);
      default:
        return; // a newer server's frame type: ignored
    }
  }

  /** Forgets a room the server removed the connection from; a pending join() rejects. */
  private dropRoom(room: string, frame: LeftFrame): void {
    const state = this.rooms.get(room);
    if (!state) return;
    this.rooms.delete(room);
    const err = new GatewayError('left', `removed from ${room} by the server (${frame.reason})`);
    for (const w of state.waiters.splice(0)) w.reject(err);
  }

  private onWelcome(frame: WelcomeFrame): void {
    this.welcomeFrame = frame;
    this.connectedAt = performance.now();
    this.pacer.start(frame.limits?.ratePerSec);
    this.emit('welcome', frame);
    this.setStatus('connected');
    for (const w of this.connectWaiters.splice(0)) w.resolve(frame);
    for (const room of this.rooms.values()) this.sendJoin(room);
    this.outbox.flush();
    this.startHeartbeat(frame.heartbeatMs);
    this.scheduleRefresh();
  }

  private onMessage(frame: MessageFrame): void {
    // Not in the room: left, or never joined.
    this.rooms.get(frame.room)?.receive(frame, this.deliver);
  }

  private readonly deliver = (frame: MessageFrame): void => this.emit('message', frame);

  private onJoined(frame: JoinedFrame): void {
    const room = this.rooms.get(frame.room);
    this.settleControl((c) => c.kind === 'join' && c.room === frame.room, { ok: true, frame });
    if (!room) return; // left meanwhile
    room.complete(frame, (gap) => this.emit('gap', gap), this.deliver);
    this.emit('joined', frame);
    for (const w of room.waiters.splice(0)) w.resolve(frame);
    this.outbox.flush();
  }

  private onAck(frame: AckFrame): void {
    this.outbox.ack(frame);
    this.emit('ack', frame);
  }

  private onError(frame: ErrorFrame): void {
    if (frame.ref !== undefined) {
      this.outbox.error(frame);
    } else {
      // join/leave/auth carry no id: the server answers frames in order, so a ref-less error
      // belongs to the oldest control frame still waiting for its answer.
      const control = this.controls.shift();
      if (control) control.settle({ ok: false, error: frame });
    }
    this.emit('error', frame);
  }

  private settleControl(
    match: (c: PendingControl) => boolean,
    answer: { ok: true; frame: ServerFrame },
  ): void {
    const index = this.controls.findIndex(match);
    if (index < 0) return;
    const [control] = this.controls.splice(index, 1);
    control.settle(answer);
  }

  // ---- outbound ------------------------------------------------------------------------------

  private sendJoin(room: RoomResume): void {
    const frame = room.beginJoin();
    this.writeControl(frame, {
      kind: 'join',
      room: room.name,
      settle: (answer) => {
        if (answer.ok) return; // onJoined does the work
        if (this.rooms.get(room.name) !== room) return;
        room.abandonJoin();
        const error = answer.error;
        if (TEMPORARY_ERRORS.has(error.code) && room.retries < this.maxSendRetries) {
          room.retries++;
          setTimeout(() => {
            if (this.rooms.get(room.name) === room && this.isLive() && !room.joined && !room.joining)
              this.sendJoin(room);
          }, this.retryDelayMs);
          return;
        }
        // forbidden, bad_envelope...: the room cannot be joined with this token.
        this.rooms.delete(room.name);
        for (const w of room.waiters.splice(0)) w.reject(GatewayError.fromFrame(error));
      },
    });
  }

  private enqueueSend(frame: OutgoingFrame): Promise<AckFrame> {
    if (this.stopped)
      return Promise.reject(new GatewayError('offline', 'not connected: call connect() first'));
    return this.outbox.add(frame);
  }

  private writeControl(frame: ClientFrame, control: PendingControl): void {
    // Registered when written, so the queue's order is the order the server answers in.
    this.write(frame, () => this.controls.push(control));
  }

  private write(frame: ClientFrame, onWrite?: () => void): void {
    this.pacer.write(frame, onWrite);
  }

  // ---- liveness and token refresh --------------------------------------------------------------

  /**
   * Browsers answer the server's pings without telling the page, so the client watches for
   * silence itself: a `ping` after one quiet period, a reconnect after two and a half.
   */
  private startHeartbeat(heartbeatMs: number): void {
    if (!(heartbeatMs > 0)) return;
    this.lastInbound = performance.now();
    this.timers.heartbeat = setInterval(() => {
      const quietMs = performance.now() - this.lastInbound;
      const sock = this.sock;
      if (!sock) return;
      if (quietMs > heartbeatMs * 2.5) {
        try {
          sock.close(4001, 'heartbeat timeout');
        } catch {
          // already closing
        }
        this.onSocketClose(sock, 1006, 'heartbeat timeout');
      } else if (quietMs >= heartbeatMs) {
        this.ping();
      }
    }, heartbeatMs);
  }

  private scheduleRefresh(): void {
    clearTimeout(this.timers.refresh);
    this.timers.refresh = undefined;
    if (this.refreshMarginMs === false || !this.getToken || !this.token) return;
    const expiry = tokenExpiryMs(this.token);
    if (expiry === undefined) return;
    const lifetime = expiry - Date.now();
    if (lifetime - this.refreshMarginMs > MAX_TIMER_MS) {
      // Beyond what a timer can hold (24.8 days): look again then.
      this.timers.refresh = setTimeout(() => this.scheduleRefresh(), MAX_TIMER_MS);
      return;
    }
    const margin = Math.min(this.refreshMarginMs, lifetime / 2);
    const getToken = this.getToken;
    const refresh = async (): Promise<void> => {
      this.timers.refresh = undefined;
      let fresh: string | null | undefined;
      try {
        fresh = await getToken('refresh');
      } catch {
        fresh = undefined;
      }
      if (fresh && fresh !== this.token && this.isLive()) {
        // A refused refresh leaves the old token in force; its expiry closes 1008 and we ask again.
        this.authenticate(fresh).catch(() => undefined);
      }
    };
    this.timers.refresh = setTimeout(
      () => void refresh(),
      Math.min(MAX_TIMER_MS, Math.max(0, lifetime - margin)),
    );
  }
}
