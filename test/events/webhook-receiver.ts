import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '../../src/events/webhook-signature.js';
import { Conditions } from '../harness/index.js';

export interface Delivery {
  status: number;
  valid: boolean;
  events: { id: string; type: string; data: any }[];
}

/**
 * A real webhook receiver on 127.0.0.1: answers 500 to the first `failFirst` deliveries, can be taken
 * down (stops listening) and brought back on the same port, verifies every signature.
 */
export class WebhookReceiver {
  readonly deliveries: Delivery[] = [];
  private readonly conditions = new Conditions();
  private server: Server | null = null;
  port = 0;

  constructor(
    private readonly secret: string,
    private failFirst = 0,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async start(): Promise<void> {
    const server = createServer(
      (req, res) => void this.handle(req).then((status) => res.writeHead(status).end()),
    );
    server.keepAliveTimeout = 100;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops open connections: deliveries fail to connect until `start`. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Accepted events in arrival order, each id once (a retried batch can repeat some). */
  accepted(): Delivery['events'] {
    const seen = new Set<string>();
    const out: Delivery['events'] = [];
    for (const d of this.deliveries) {
      if (d.status !== 204) continue;
      for (const e of d.events) {
        if (seen.has(e.id)) continue;
        seen.add(e.id);
        out.push(e);
      }
    }
    return out;
  }

  waitFor(what: string, check: (events: Delivery['events']) => boolean, timeoutMs = 20_000): Promise<void> {
    return this.conditions.waitFor(what, () => check(this.accepted()), timeoutMs);
  }

  private async handle(req: IncomingMessage): Promise<number> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    const valid = verifyWebhook(
      this.secret,
      req.headers['x-gateway-timestamp'] as string | undefined,
      req.headers['x-gateway-signature'] as string | undefined,
      body,
    );
    const status = this.failFirst > 0 ? (this.failFirst--, 500) : valid ? 204 : 401;
    this.deliveries.push({
      status,
      valid,
      events: (JSON.parse(body) as { events: Delivery['events'] }).events,
    });
    this.conditions.poke();
    return status;
  }
}
