// Helpers for the client and browser e2e tests: a recorder that waits on a GatewayClient's events,
// an instrumented WebSocket (count handshakes, record frames, cut the network), a raw `ws` client,
// and an HS256 signer for tokens with a chosen `exp`.

import { createHmac } from 'node:crypto';
import WebSocket from 'ws';
import { SERVER_FRAME_TYPES } from '../../src/protocol/wire/frames.js';
import type { GatewayClient, GatewayClientEvents } from '../../src/client/gateway-client.js';

type EventName = keyof GatewayClientEvents;
const EVENT_NAMES: EventName[] = [...SERVER_FRAME_TYPES, 'status', 'gap', 'close', 'reconnect', 'frame'];

interface Waiter {
  description: string;
  check: () => boolean;
  resolve: () => void;
}

/** Resolves when `check` holds, re-evaluated by `poke()`; rejects with `description` after `timeoutMs`. */
class Conditions {
  private waiters = new Set<Waiter>();

  waitFor(
    description: string,
    check: () => boolean,
    timeoutMs = 10_000,
    dump: () => string = () => '',
  ): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        description,
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${description}${dump() ? '\n' + dump() : ''}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  poke(): void {
    for (const w of [...this.waiters]) {
      if (w.check()) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }
}

/** Records every event of a GatewayClient, in order. */
export class ClientRecorder {
  readonly events: Array<{ type: EventName; data: unknown }> = [];
  private readonly conditions = new Conditions();

  constructor(readonly client: GatewayClient) {
    for (const type of EVENT_NAMES) {
      client.on(type, (data: unknown) => {
        this.events.push({ type, data });
        this.conditions.poke();
      });
    }
  }

  of<K extends EventName>(type: K): Array<GatewayClientEvents[K]> {
    return this.events.filter((e) => e.type === type).map((e) => e.data as GatewayClientEvents[K]);
  }

  /** Contents of the room messages delivered to the application, in delivery order. */
  contents(room: string): string[] {
    return this.of('message')
      .filter((m) => m.room === room)
      .map((m) => m.content);
  }

  statuses(): string[] {
    return this.of('status').map((s) => s.status);
  }

  waitFor(description: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
    return this.conditions.waitFor(description, check, timeoutMs, () => `events: ${this.summary()}`);
  }

  waitForStatus(status: string, after = 0, timeoutMs = 10_000): Promise<void> {
    return this.waitFor(`status ${status}`, () => this.statuses().slice(after).includes(status), timeoutMs);
  }

  waitForContents(room: string, expected: string[], timeoutMs = 10_000): Promise<void> {
    return this.waitFor(
      `${expected.length} messages in ${room}`,
      () => this.contents(room).length >= expected.length,
      timeoutMs,
    );
  }

  summary(): string {
    return this.events
      .filter((e) => e.type !== 'frame')
      .slice(-40)
      .map((e) => `${e.type}:${JSON.stringify(e.data)}`)
      .join('\n  ');
  }
}

/**
 * A WebSocket implementation for GatewayClient that wraps `ws` and lets a test count handshakes,
 * read the frames the client sent, cut the connection, refuse new ones (as if the network were
 * down: they go to a port nothing listens on) and swallow chosen inbound frames.
 */
export function instrumentedWebSocket(deadPort: number) {
  const control = {
    /** Every URL the client opened, in order. */
    urls: [] as string[],
    /** Every frame the client sent, parsed. */
    sent: [] as Array<Record<string, unknown>>,
    sockets: [] as WebSocket[],
    /** New connections fail with ECONNREFUSED while true. */
    blocked: false,
    /**
     * Inbound frames for which this returns 'drop' are not delivered; 'cut' also kills the
     * connection; 'twice' delivers the frame two times (a duplicate delivery).
     */
    inbound: (_frame: Record<string, unknown>): 'pass' | 'drop' | 'cut' | 'twice' => 'pass',
    /** Kills every open connection without a close frame (a network drop). */
    cutAll(): void {
      for (const s of control.sockets)
        if (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING) s.terminate();
    },
    sentOfType(type: string): Array<Record<string, unknown>> {
      return control.sent.filter((f) => f.type === type);
    },
  };

  class InstrumentedWebSocket {
    onopen: ((e: unknown) => void) | null = null;
    onmessage: ((e: { data: unknown }) => void) | null = null;
    onerror: ((e: unknown) => void) | null = null;
    onclose: ((e: { code: number; reason: string }) => void) | null = null;
    private readonly ws: WebSocket;

    constructor(url: string) {
      control.urls.push(url);
      const target = control.blocked ? url.replace(/:\d+\//, `:${deadPort}/`) : url;
      this.ws = new WebSocket(target);
      control.sockets.push(this.ws);
      this.ws.onopen = (e) => this.onopen?.(e);
      this.ws.onerror = (e) => this.onerror?.(e);
      this.ws.onclose = (e) => this.onclose?.({ code: e.code, reason: e.reason });
      this.ws.onmessage = (e) => {
        const frame = JSON.parse(typeof e.data === 'string' ? e.data : '') as Record<string, unknown>;
        const verdict = control.inbound(frame);
        if (verdict === 'cut') this.ws.terminate();
        if (verdict === 'drop' || verdict === 'cut') return;
        this.onmessage?.({ data: e.data });
        if (verdict === 'twice') this.onmessage?.({ data: e.data });
      };
    }

    get readyState(): number {
      return this.ws.readyState;
    }

    send(data: string): void {
      control.sent.push(JSON.parse(data) as Record<string, unknown>);
      this.ws.send(data);
    }

    close(code?: number, reason?: string): void {
      this.ws.close(code, reason);
    }
  }

  return { Impl: InstrumentedWebSocket, control };
}

/** A bare `ws` connection speaking the protocol by hand (the "third client" of the tests). */
export class RawClient {
  readonly frames: Array<Record<string, unknown>> = [];
  private readonly conditions = new Conditions();
  private closed: Promise<void>;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse((data as Buffer).toString()) as Record<string, unknown>);
      this.conditions.poke();
    });
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
  }

  /** Connects with `token` and waits for the welcome. */
  static async open(wsUrl: string, token: string): Promise<RawClient> {
    const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await client.next((f) => f.type === 'welcome', 'welcome');
    return client;
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Waits until a frame matching `match` has been received (earlier frames count). */
  async next(
    match: (f: Record<string, unknown>) => boolean,
    description: string,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    await this.conditions.waitFor(
      description,
      () => this.frames.some(match),
      timeoutMs,
      () => `frames: ${JSON.stringify(this.frames.slice(-10))}`,
    );
    return this.frames.find(match) as Record<string, unknown>;
  }

  async join(room: string): Promise<Record<string, unknown>> {
    this.send({ type: 'join', room });
    return this.next((f) => f.type === 'joined' && f.room === room, `joined ${room}`);
  }

  /** Sends a room message and waits for its ack. */
  async say(room: string, content: string, id: string): Promise<Record<string, unknown>> {
    this.send({ type: 'message', room, content, id });
    return this.next(
      (f) => (f.type === 'ack' || f.type === 'error') && (f.id === id || f.ref === id),
      `ack ${id}`,
    ).then((f) => {
      if (f.type === 'error') throw new Error(`message ${id} refused: ${JSON.stringify(f)}`);
      return f;
    });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.closed;
  }
}

/** An HS256 JWT signed with `secret` (tests that need a short `exp`). */
export function signHs256(secret: string, claims: Record<string, unknown>): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  const sig = createHmac('sha256', secret).update(head).digest('base64url');
  return `${head}.${sig}`;
}

/**
 * Waits until the wall clock passes `epochMs`. Only for asserting that something does NOT happen
 * before a deadline (a token's expiry): there is no event to wait on for an absence.
 */
export function untilTime(epochMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, epochMs - Date.now())));
}
