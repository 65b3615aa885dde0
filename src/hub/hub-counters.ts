/**
 * Plain counters the hot path bumps (a property increment, no call into a metrics library); the
 * metrics module reads them when Prometheus scrapes. Maps are keyed by frame type or error code.
 */
export class HubCounters {
  connects = 0;
  readonly refusals = new Map<string, number>();
  readonly framesIn = new Map<string, number>();
  bytesIn = 0;
  readonly framesOut = new Map<string, number>();
  bytesOut = 0;
  readonly errors = new Map<string, number>();
  evictions = 0;
  /** Client frames whose handling waits (Redis, a hook): gateway/inbound-limit.ts keeps it. */
  inboundPending = 0;
  /** Connections no longer read because INBOUND_MAX_PENDING frames were waiting. */
  readPauses = 0;
  /** Publications handed to the broker (room messages, presence, user frames, broadcasts). */
  busPublished = 0;
  /** Publications the broker delivered to this instance. */
  busReceived = 0;
  historyReplays = 0;
  replayedMessages = 0;
  notRecovered = 0;
  /** Webhook events dropped: buffer full, given up after WEBHOOK_MAX_RETRY_SEC, or trimmed unsent. */
  webhookEventsDropped = 0;
  /** Called once per room message delivered on this instance (latency from its `time`). */
  onFanout: ((latencyMs: number, recipients: number) => void) | null = null;

  static bump(map: Map<string, number>, key: string, by = 1): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }
}
