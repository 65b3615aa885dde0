// GatewayClient test tools: a recorder that waits on a GatewayClient's events, and an instrumented
// WebSocket (count handshakes, record frames, cut the network, refuse reconnects).

import WebSocket from 'ws';
import { SERVER_FRAME_TYPES } from '../../src/protocol/wire/frames.js';
import type { GatewayClient, GatewayClientEvents } from '../../src/client/gateway-client.js';
import { Conditions } from './wait.js';

type EventName = keyof GatewayClientEvents;
const EVENT_NAMES: EventName[] = [...SERVER_FRAME_TYPES, 'status', 'gap', 'close', 'reconnect', 'frame'];

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
