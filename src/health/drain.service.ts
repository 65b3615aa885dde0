import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import type { Connection } from '../hub/connection.js';
import { monotonicNow } from '../hub/clock.js';
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
/**
 * Any other shutdown: how long the close handshakes of the sockets (all closed 1001 at once) may take
 * before the rest are terminated.
 */
const CLOSE_AT_ONCE_MS = 500;
const POLL_MS = 20;
/** The signals that drain; any other shutdown (app.close(), SIGHUP, ...) closes at once. */
const DRAIN_SIGNALS: readonly string[] = ['SIGTERM', 'SIGINT'];

/**
 * Graceful drain (terminus's graceful-shutdown service, for WebSockets). `drain()`:
 * 1. the hub's drain flag goes up: readiness turns false at once (`/readyz` 503), new upgrades and
 *    push requests are refused (503 draining), and the `onStart` hooks run (the `hub.publish`
 *    transport stops consuming, so that the instances staying up take every event);
 * 2. every connection's queued frames are flushed (waiting for the socket to drain when it must);
 * 3. each socket is closed 1001 "going away" at a random moment within DRAIN_SPREAD_MS (at most half
 *    of the grace), so that clients do not all reconnect in the same instant;
 * 4. connections still open at the deadline are terminated.
 * On SIGTERM/SIGINT Nest's shutdown hooks (main.ts) call `beforeApplicationShutdown`, which drains
 * before the app closes; the process exits 1 if SHUTDOWN_GRACE_MS runs out, and at once on a second
 * signal.
 */
@Injectable()
export class DrainService implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Drain');
  private running: Promise<DrainReport> | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private secondSignal: [string, () => void][] = [];
  private readonly startHooks: (() => unknown)[] = [];
  /** How the process ends when the grace runs out or a second signal comes (replaceable in tests). */
  exit: (code: number) => void = (code) => process.exit(code);

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(HubService) private readonly hub: HubService,
  ) {}

  /** True from the first moment of a drain (the hub's flag: admission, readiness, the push API). */
  get isDraining(): boolean {
    return this.hub.isDraining;
  }

  /**
   * Runs `hook` the moment a drain starts (right after the drain flag goes up), before any
   * connection is closed. A hook that throws or rejects is logged; the drain goes on.
   */
  onStart(hook: () => unknown): void {
    this.startHooks.push(hook);
  }

  /** Starts the drain (idempotent) and resolves when every connection is closed or terminated. */
  drain(
    graceMs: number = this.config.shutdownGraceMs,
    spreadMs: number = this.config.drainSpreadMs,
  ): Promise<DrainReport> {
    return (this.running ??= this.run(graceMs, spreadMs));
  }

  /** Nest's shutdown on a signal: drain first when it is SIGTERM/SIGINT, then let the app close. */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    if (signal === undefined || !DRAIN_SIGNALS.includes(signal)) {
      // Closing at once (app.close(), SIGHUP, SIGQUIT, SIGUSR2): every socket is closed 1001 now and
      // cut after CLOSE_AT_ONCE_MS. An open WebSocket keeps the HTTP server's close waiting: without
      // this, one connected client kept the process from ever exiting.
      const connections = this.hub.stats().connections;
      if (connections === 0) return;
      this.logger.log({ msg: 'closing connections', signal: signal ?? 'app.close()', connections });
      const report = await this.drain(CLOSE_AT_ONCE_MS + CLOSE_MARGIN_MS, 0);
      this.logger.log({ msg: 'closed', ...report });
      return;
    }
    this.logger.log({ msg: 'draining', signal, connections: this.hub.stats().connections });
    const hard = setTimeout(() => {
      this.logger.error(
        `drain did not finish within SHUTDOWN_GRACE_MS=${this.config.shutdownGraceMs}: exiting`,
      );
      this.exit(1);
    }, this.config.shutdownGraceMs);
    hard.unref();
    // Nest ignores signals once its shutdown runs; a second one means "stop now".
    for (const s of DRAIN_SIGNALS) {
      const handler = (): void => {
        this.logger.warn(`${s} again while draining: exiting now`);
        this.exit(1);
      };
      process.once(s, handler);
      this.secondSignal.push([s, handler]);
    }
    const report = await this.drain();
    this.logger.log({ msg: 'drained', ...report });
  }

  onApplicationShutdown(): void {
    for (const [signal, handler] of this.secondSignal) process.off(signal, handler);
    this.secondSignal = [];
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private async run(graceMs: number, spreadMs: number): Promise<DrainReport> {
    const started = monotonicNow();
    this.hub.startDraining();
    for (const hook of this.startHooks) {
      try {
        Promise.resolve(hook()).catch((err: unknown) => this.logHookFailure(err));
      } catch (err) {
        this.logHookFailure(err);
      }
    }
    const deadline = started + Math.max(0, graceMs - CLOSE_MARGIN_MS);
    const spread = Math.max(0, Math.min(spreadMs, Math.floor(graceMs / 2)));
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
    while (this.hub.stats().connections > 0 && monotonicNow() < deadline) await this.sleep(POLL_MS);
    let terminated = 0;
    for (const c of this.hub.allConnections()) {
      c.ws.terminate();
      terminated++;
    }
    return {
      connections: connections.length,
      closed,
      terminated,
      elapsedMs: Math.round(monotonicNow() - started),
    };
  }

  private logHookFailure(err: unknown): void {
    this.logger.warn({ msg: 'drain start hook failed', error: (err as Error)?.message ?? String(err) });
  }

  /** Flushes a connection's queue, waiting for its socket to drain, until empty or the deadline. */
  private async untilFlushed(c: Connection, deadline: number): Promise<void> {
    for (;;) {
      if (!c.open) return;
      this.hub.flush(c);
      if (c.queue.length === 0 || monotonicNow() >= deadline) return;
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
