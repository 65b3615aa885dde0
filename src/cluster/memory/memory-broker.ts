import { randomBytes } from 'node:crypto';
import type { RoomMessage } from '../../protocol/frames.js';
import { MemoryDedup } from './memory-dedup.js';
import {
  type Broker,
  type BrokerHandler,
  type HistorySlice,
  type PublishOptions,
  type RoomEvent,
  sliceHistory,
} from '../broker.js';

interface RoomLog {
  seq: number;
  /** Ring buffer of the last `size` messages. */
  ring: RoomMessage[];
  start: number;
  epoch: string;
  /** Estimated bytes of the messages in `ring` (see messageBytes). */
  bytes: number;
  /** Time of the last publication or of the last member leaving (ms). */
  usedAt: number;
  /** The hub has members in the room: it is never freed, only its history trimmed. */
  subscribed: boolean;
  /**
   * Runs of seqs published with `skipHistory`, oldest first, flat: start, end, start, end, ...;
   * null until the first. A run ends where a stored message took the next seq.
   */
  skips: number[] | null;
}

export interface MemoryBrokerOptions {
  /** A room with no member and no publication for this long is freed; 0: never. */
  roomIdleTtlMs: number;
  /** Cap on the estimated bytes of all rooms' history; 0: none. */
  historyMaxBytes: number;
}

const NO_BOUNDS: MemoryBrokerOptions = { roomIdleTtlMs: 0, historyMaxBytes: 0 };

/** Over the cap, history is evicted down to this share of it, so that eviction runs rarely. */
const EVICT_TO = 0.9;

/**
 * Single-instance broker: seq, history (a ring buffer per room) and fan-out to this process.
 *
 * Rooms are bounded: a room with no member and no traffic for ROOM_IDLE_TTL_SEC is freed, and when
 * the history of all rooms exceeds HISTORY_MAX_BYTES the longest-idle rooms without members are freed
 * first, then the oldest messages of the longest-idle rooms with members are dropped. A room with
 * members is never freed, so its epoch never changes under them. A freed room that is used again
 * starts at seq 1 with a new epoch: epochs are `<process>.<generation>`, and the generation moves on
 * each time a room with messages is freed, so a freed room's epoch is never handed out again.
 * Idempotency keys are looked up in and recorded to the memory store it is given (the seam set's).
 */
export class MemoryBroker implements Broker {
  private handler: BrokerHandler | null = null;
  private readonly rooms = new Map<string, RoomLog>();
  private readonly base = randomBytes(6).toString('base64url');
  private generation = 0;
  /** The epoch a room created now gets. */
  private currentEpoch = this.base + '.0';
  /** Estimated bytes of all rooms' history. */
  private bytes = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly historySize: number,
    private readonly idempotency: MemoryDedup = new MemoryDedup(),
    private readonly bounds: MemoryBrokerOptions = NO_BOUNDS,
  ) {
    const idle = bounds.roomIdleTtlMs;
    if (idle > 0) {
      this.timer = setInterval(() => this.freeIdle(Date.now()), Math.max(100, Math.min(idle / 2, 60_000)));
      this.timer.unref();
    }
  }

  setHandler(handler: BrokerHandler): void {
    this.handler = handler;
  }

  publish(message: Omit<RoomMessage, 'seq'>, options?: PublishOptions): RoomMessage {
    const key = options?.idempotencyKey;
    if (key !== undefined) {
      const prior = this.idempotency.get(key);
      if (prior?.seq !== undefined && prior.room === message.room) return { ...message, seq: prior.seq };
    }
    const log = this.rooms.get(message.room) ?? this.createLog(message.room);
    const full = message as RoomMessage;
    full.seq = ++log.seq;
    log.usedAt = full.time;
    if (this.historySize > 0) {
      if (options?.skipHistory === true) this.recordSkip(log, full.seq);
      else {
        let delta = messageBytes(full);
        if (log.ring.length < this.historySize) log.ring.push(full);
        else {
          delta -= messageBytes(log.ring[log.start]);
          log.ring[log.start] = full;
          log.start = (log.start + 1) % this.historySize;
        }
        log.bytes += delta;
        this.bytes += delta;
        if (this.bytes > this.bounds.historyMaxBytes && this.bounds.historyMaxBytes > 0) this.evict();
      }
    }
    this.handler?.onMessage(full);
    if (key !== undefined) {
      this.idempotency.set(key, { room: full.room, seq: full.seq }, options!.idempotentResultTtlMs ?? 0);
    }
    return full;
  }

  publishRoomEvent(_room: string, event: RoomEvent): Promise<void> {
    this.handler?.onRoomEvent(event);
    return Promise.resolve();
  }

  publishUserEvent(userId: string, frame: object): Promise<void> {
    this.handler?.onUserEvent(userId, frame);
    return Promise.resolve();
  }

  publishBroadcast(frame: object): Promise<void> {
    this.handler?.onBroadcast(frame);
    return Promise.resolve();
  }

  history(room: string, since?: number, epoch?: string): Promise<HistorySlice> {
    const log = this.rooms.get(room);
    if (log === undefined) return Promise.resolve(sliceHistory([], 0, this.currentEpoch, since, epoch));
    return Promise.resolve(
      sliceHistory(held(log), log.seq, log.epoch, since, epoch, (oldest) => skippedFrom(log.skips, oldest)),
    );
  }

  /** The hub has members in the room: it is held (and keeps its epoch) until they leave. */
  subscribeRoom(room: string): Promise<void> {
    (this.rooms.get(room) ?? this.createLog(room)).subscribed = true;
    return Promise.resolve();
  }

  /** The last member left: a room nobody published to is dropped now, others when idle. */
  unsubscribeRoom(room: string): Promise<void> {
    const log = this.rooms.get(room);
    if (log !== undefined) {
      log.subscribed = false;
      log.usedAt = Date.now();
      if (log.seq === 0) this.rooms.delete(room);
    }
    return Promise.resolve();
  }

  // Users are all local: nothing to subscribe.
  subscribeUser(): Promise<void> {
    return Promise.resolve();
  }
  unsubscribeUser(): Promise<void> {
    return Promise.resolve();
  }
  isHealthy(): boolean {
    return true;
  }
  close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    return Promise.resolve();
  }

  /** Rooms held and their estimated history bytes (tests, stats). */
  get usage(): { rooms: number; bytes: number } {
    return { rooms: this.rooms.size, bytes: this.bytes };
  }

  /** Frees the rooms without members whose last use is ROOM_IDLE_TTL_SEC ago or more. */
  freeIdle(now: number): void {
    const before = now - this.bounds.roomIdleTtlMs;
    for (const [room, log] of this.rooms) {
      if (!log.subscribed && log.usedAt <= before) this.free(room, log);
    }
  }

  private createLog(room: string): RoomLog {
    const log: RoomLog = {
      seq: 0,
      ring: [],
      start: 0,
      epoch: this.currentEpoch,
      bytes: 0,
      usedAt: Date.now(),
      subscribed: false,
      skips: null,
    };
    this.rooms.set(room, log);
    return log;
  }

  /**
   * Remembers a seq published with `skipHistory`: it extends the newest run of skipped seqs, or
   * starts one. Runs are separated by stored messages, so the run right before the oldest message
   * held is among the historySize + 1 newest: older ones are dropped (in bulk, rarely).
   */
  private recordSkip(log: RoomLog, seq: number): void {
    const runs = (log.skips ??= []);
    const n = runs.length;
    if (n > 0 && runs[n - 1] === seq - 1) {
      runs[n - 1] = seq;
      return;
    }
    runs.push(seq, seq);
    const keep = 2 * (this.historySize + 1);
    if (runs.length >= 2 * keep) runs.splice(0, runs.length - keep);
  }

  private free(room: string, log: RoomLog): void {
    this.rooms.delete(room);
    this.bytes -= log.bytes;
    if (log.seq > 0 && log.epoch === this.currentEpoch) {
      this.currentEpoch = `${this.base}.${++this.generation}`;
    }
  }

  /**
   * Over HISTORY_MAX_BYTES: frees the longest-idle rooms without members, then trims the history of
   * the longest-idle rooms with members (their epoch stays), down to EVICT_TO of the cap.
   */
  private evict(): void {
    const target = this.bounds.historyMaxBytes * EVICT_TO;
    const byIdle = [...this.rooms].sort((a, b) => a[1].usedAt - b[1].usedAt);
    for (const [room, log] of byIdle) {
      if (this.bytes <= target) return;
      if (!log.subscribed) this.free(room, log);
    }
    for (const [, log] of byIdle) {
      if (this.bytes <= target) return;
      if (!log.subscribed || log.ring.length === 0) continue;
      const messages = held(log);
      let drop = 0;
      while (drop < messages.length && this.bytes > target) {
        const b = messageBytes(messages[drop++]);
        log.bytes -= b;
        this.bytes -= b;
      }
      log.ring = messages.slice(drop);
      log.start = 0;
    }
  }
}

/** The messages a room holds, oldest first. */
function held(log: RoomLog): RoomMessage[] {
  return log.start === 0 ? log.ring : log.ring.slice(log.start).concat(log.ring.slice(0, log.start));
}

/**
 * The first seq of the run of skipped seqs that ends at oldestSeq - 1, or oldestSeq when there is
 * none (see sliceHistory).
 */
function skippedFrom(runs: readonly number[] | null, oldestSeq: number): number {
  if (runs === null) return oldestSeq;
  const end = oldestSeq - 1;
  let lo = 0;
  let hi = runs.length >>> 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[2 * mid + 1] < end) lo = mid + 1;
    else hi = mid;
  }
  return 2 * lo < runs.length && runs[2 * lo + 1] === end ? runs[2 * lo] : oldestSeq;
}

/** Estimated memory of a held message: its strings plus the objects around them. */
function messageBytes(m: RoomMessage): number {
  return 160 + 2 * (m.content.length + m.id.length);
}
