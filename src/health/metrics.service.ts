import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import { GATEWAY_CONFIG, type GatewayConfig, usesRedis } from '../config/config.js';
import type { HubCounters } from '../hub/hub-counters.js';
import { HubService, type HubStats } from '../hub/hub.service.js';
import { DepthHistogram } from './depth-histogram.js';
import { DrainService } from './drain.service.js';

/**
 * prom-client default metrics that list every handle or resource of the process on each scrape
 * (a socket per connection): their cost grows with the connections, so they are left out.
 * `process_open_fds` (one readdir) stays.
 */
const PER_HANDLE_DEFAULTS = [
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
];

/**
 * Prometheus metrics (prom-client, one registry per application). The hot path only bumps the plain
 * HubCounters; every value here is read from them in `collect()` when Prometheus scrapes, except the
 * fan-out latency histogram, observed through `counters.onFanout`. Names follow the Prometheus
 * conventions: `gateway_` prefix, base units (seconds, bytes), `_total` on counters.
 *
 * A scrape costs the same at 8,000 connections as at none: the gauges read running totals the hub
 * keeps as things change (connections, queued frames and bytes), the queue-depth histogram samples
 * only the backed-up queues, and no default metric walks the process's handles.
 *
 * The registry lives until the application has shut down (onApplicationShutdown, after the drain of
 * beforeApplicationShutdown): a SIGTERM drain is watched through /metrics until its end.
 */
@Injectable()
export class MetricsService implements OnApplicationShutdown {
  readonly registry = new Registry();
  private readonly counters: HubCounters;
  private readonly pushRequests: Counter<'status'>;
  private readonly pushEvents: Counter<'result'>;
  /** hub.stats() read once per scrape, shared by the gauges of that scrape. */
  private snapshot: HubStats | null = null;

  constructor(
    @Inject(HubService) private readonly hub: HubService,
    @Inject(DrainService) private readonly drain: DrainService,
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
  ) {
    const counters = (this.counters = hub.counters);
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    for (const name of PER_HANDLE_DEFAULTS) this.registry.removeSingleMetric(name);
    const stats = (): HubStats => this.snapshot ?? hub.stats();

    const fromNumber = (name: string, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    const fromMap = (name: string, help: string, label: string, map: Map<string, number>): void => {
      new Counter({
        name,
        help,
        labelNames: [label],
        registers,
        collect() {
          this.reset();
          for (const [key, value] of map) this.inc({ [label]: key }, value);
        },
      });
    };
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };

    gauge('gateway_connections', 'Open WebSocket connections on this instance.', () => stats().connections);
    gauge('gateway_users', 'Distinct users connected to this instance.', () => stats().users);
    gauge('gateway_rooms', 'Rooms with at least one member on this instance.', () => stats().rooms);
    gauge('gateway_send_queue_frames', 'Frames waiting in all send queues.', () => stats().queuedFrames);
    gauge('gateway_send_queue_bytes', 'Bytes waiting in all send queues.', () => stats().queuedBytes);
    gauge('gateway_draining', '1 while this instance drains (SIGTERM), else 0.', () =>
      drain.isDraining ? 1 : 0,
    );
    gauge('gateway_ready', '1 when /readyz answers 200, else 0.', () =>
      !drain.isDraining && hub.isHealthy() ? 1 : 0,
    );
    // Only with Redis: without it there is no Redis to be up, and an alert on `== 0` stays silent.
    if (usesRedis(config)) {
      gauge('gateway_redis_up', "1 while this instance's Redis connections answer, else 0.", () =>
        hub.isHealthy() ? 1 : 0,
      );
    }
    fromNumber('gateway_connects_total', 'WebSocket connections accepted.', () => counters.connects);
    fromMap('gateway_handshake_refusals_total', 'Upgrades refused, by reason.', 'reason', counters.refusals);
    fromMap('gateway_frames_received_total', 'Client frames received, by type.', 'type', counters.framesIn);
    fromMap('gateway_frames_sent_total', 'Frames queued to clients, by type.', 'type', counters.framesOut);
    fromNumber('gateway_received_bytes_total', 'Bytes of client frames received.', () => counters.bytesIn);
    fromNumber('gateway_sent_bytes_total', 'Bytes of frames queued to clients.', () => counters.bytesOut);
    fromMap('gateway_errors_total', 'Error frames sent, by code.', 'code', counters.errors);
    fromNumber(
      'gateway_slow_consumer_evictions_total',
      'Connections closed 1013 because their send queue overflowed.',
      () => counters.evictions,
    );
    gauge(
      'gateway_inbound_pending',
      'Client frames whose handling waits for Redis or a hook (INBOUND_MAX_PENDING bounds it).',
      () => counters.inboundPending,
    );
    fromNumber(
      'gateway_read_pauses_total',
      'Connections no longer read for a while because INBOUND_MAX_PENDING client frames were waiting.',
      () => counters.readPauses,
    );
    fromNumber(
      'gateway_webhook_events_dropped_total',
      'Webhook events dropped: buffer full, given up after WEBHOOK_MAX_RETRY_SEC, or trimmed unsent.',
      () => counters.webhookEventsDropped,
    );
    fromNumber(
      'gateway_history_replays_total',
      'Joins with `since` answered from history.',
      () => counters.historyReplays,
    );
    fromNumber(
      'gateway_history_replayed_messages_total',
      'Messages replayed from history.',
      () => counters.replayedMessages,
    );
    fromNumber(
      'gateway_history_not_recovered_total',
      'Replays answered `recovered: false` (history no longer covered the gap).',
      () => counters.notRecovered,
    );
    fromNumber(
      'gateway_bus_published_total',
      'Messages this instance published to the bus.',
      () => counters.busPublished,
    );
    fromNumber(
      'gateway_bus_received_total',
      'Messages this instance received from the bus.',
      () => counters.busReceived,
    );

    const queueDepth = new DepthHistogram(
      'gateway_send_queue_depth',
      'Frames waiting in each connection send queue, sampled for every connection at each scrape.',
      [0, 1, 4, 16, 64, 128, 256, 1024],
      stats,
    );
    this.registry.registerMetric(queueDepth as unknown as Metric);
    const fanout = new Histogram({
      name: 'gateway_fanout_latency_seconds',
      help: 'Time from a room message being published to its fan-out on this instance.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    counters.onFanout = (latencyMs) => fanout.observe(Math.max(0, latencyMs) / 1000);

    this.pushRequests = new Counter({
      name: 'gateway_push_requests_total',
      help: 'POST /api/publish requests, by HTTP status.',
      labelNames: ['status'],
      registers,
    });
    this.pushEvents = new Counter({
      name: 'gateway_push_events_total',
      help: 'hub.publish events received over the microservice transport, by result.',
      labelNames: ['result'],
      registers,
    });
  }

  /** Counts a push API answer (called by the push module). */
  pushRequest(status: number): void {
    this.pushRequests.inc({ status: String(status) });
  }

  /** Counts a hub.publish event: published, duplicate, already_claimed, invalid, failed. */
  pushEvent(result: string): void {
    this.pushEvents.inc({ result });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async metrics(): Promise<string> {
    this.snapshot = this.hub.stats();
    try {
      return await this.registry.metrics();
    } finally {
      this.snapshot = null;
    }
  }

  onApplicationShutdown(): void {
    if (this.counters.onFanout !== null) this.counters.onFanout = null;
    this.registry.clear();
  }
}
