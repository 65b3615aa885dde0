import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import type { Connection } from '../hub/connection.js';
import { HubService } from '../hub/hub.service.js';
import { Close } from '../protocol/codes.js';

export interface DrainReport {
  /** Connections open when the drain started. */
  connections: number;
  /** Closed with 1001 after their queue was flushed. */
  closed: number;
  /** Still open at the deadline and terminated. */
  terminated: number;
  elapsedMs: number;
}

/** Time kept back from SHUTDOWN_GRACE_MS for closing the server and the bus after the drain. */
const CLOSE_MARGIN_MS = 1000;
const POLL_MS = 20;

/**
 * Graceful drain (terminus's graceful-shutdown service, for WebSockets). `drain()`:
 * 1. readiness turns false at once (`/readyz` 503) and the hub refuses new upgrades (503 draining);
 * 2. every connection's queued frames are flushed (waiting for the socket to drain when it must);
 * 3. each socket is closed 1001 "going away" at a random moment within DRAIN_SPREAD_MS (at most half
 *    of the grace), so that clients do not all reconnect in the same instant;
 * 4. connections still open at the deadline are terminated.
 * `handleSignals(app)` (main.ts) runs it on SIGTERM/SIGINT, then closes the app and exits, with a
 * hard exit at SHUTDOWN_GRACE_MS whatever happens.
 */
@Injectable()
export class DrainService implements OnApplicationShutdown {
  private readonly logger = new Logger('Drain');
  private running: Promise<DrainReport> | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private signalHandlers: [NodeJS.Signals, () => void][] = [];

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(HubService) private readonly hub: HubService,
  ) {}

  /** True from the first moment of a drain (readiness). */
  get isDraining(): boolean {
    return this.running !== null || this.hub.isDraining;
  }

  /** Starts the drain (idempotent) and resolves when every connection is closed or terminated. */
  drain(graceMs: number = this.config.shutdownGraceMs): Promise<DrainReport> {
    return (this.running ??= this.run(graceMs));
  }

  /**
   * Installs SIGTERM/SIGINT handlers: drain, `app.close()`, exit 0; exit 1 if the grace runs out.
   * A second signal while draining exits at once.
   */
  handleSignals(
    app: { close(): Promise<void> },
    exit: (code: number) => void = (code) => process.exit(code),
  ): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const handler = (): void => {
        if (this.running !== null) {
          this.logger.warn(`${signal} again while draining: exiting now`);
          exit(1);
          return;
        }
        this.logger.log({ msg: 'draining', signal, connections: this.hub.stats().connections });
        const hard = setTimeout(() => {
          this.logger.error(
            `drain did not finish within SHUTDOWN_GRACE_MS=${this.config.shutdownGraceMs}: exiting`,
          );
          exit(1);
        }, this.config.shutdownGraceMs);
        hard.unref();
        this.drain()
          .then((report) => {
            this.logger.log({ msg: 'drained', ...report });
            return app.close();
          })
          .then(
            () => exit(0),
            (err: unknown) => {
              this.logger.error(`shutdown failed: ${(err as Error)?.message}`, (err as Error)?.stack);
              exit(1);
            },
          );
      };
      process.on(signal, handler);
      this.signalHandlers.push([signal, handler]);
    }
  }

  onApplicationShutdown(): void {
    for (const [signal, handler] of this.signalHandlers) process.off(signal, handler);
    this.signalHandlers = [];
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private async run(graceMs: number): Promise<DrainReport> {
    const started = Date.now();
    this.hub.startDraining();
    const deadline = started + Math.max(0, graceMs - CLOSE_MARGIN_MS);
    const spread = Math.max(0, Math.min(this.config.drainSpreadMs, Math.floor(graceMs / 2)));
    const connections = [...this.hub.allConnections()];
    for (const c of connections) this.hub.flush(c);

    let closed = 0;
    await Promise.all(
      connections.map(async (c) => {
        await this.sleep(Math.floor(Math.random() * spread));
        await this.untilFlushed(c, deadline);
        if (c.open) {
          this.hub.close(c, Close.GoingAway.code, Close.GoingAway.reason);
          closed++;
        }
      }),
    );
    // Wait for the close handshakes (the hub unregisters each connection on its 'close').
    while (this.hub.stats().connections > 0 && Date.now() < deadline) await this.sleep(POLL_MS);
    let terminated = 0;
    for (const c of this.hub.allConnections()) {
      c.ws.terminate();
      terminated++;
    }
    return { connections: connections.length, closed, terminated, elapsedMs: Date.now() - started };
  }

  /** Flushes a connection's queue, waiting for its socket to drain, until empty or the deadline. */
  private async untilFlushed(c: Connection, deadline: number): Promise<void> {
    for (;;) {
      if (!c.open) return;
      this.hub.flush(c);
      if (c.queue.length === 0 || Date.now() >= deadline) return;
      await this.sleep(POLL_MS);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}
