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
}

/**
 * Single-instance broker: seq, history (a ring buffer per room) and fan-out to this process.
 * Its epoch is the process's: in-memory history is lost exactly when the process restarts.
 * Idempotency keys are looked up in and recorded to the memory store it is given (the seam set's).
 */
export class MemoryBroker implements Broker {
  private handler: BrokerHandler | null = null;
  private readonly rooms = new Map<string, RoomLog>();
  readonly epoch = randomBytes(6).toString('base64url');

  constructor(
    private readonly historySize: number,
    private readonly idempotency: MemoryDedup = new MemoryDedup(),
  ) {}

  setHandler(handler: BrokerHandler): void {
    this.handler = handler;
  }

  publish(message: Omit<RoomMessage, 'seq'>, options?: PublishOptions): RoomMessage {
    const key = options?.idempotencyKey;
    if (key !== undefined) {
      const prior = this.idempotency.get(key);
      if (prior?.seq !== undefined && prior.room === message.room) return { ...message, seq: prior.seq };
    }
    let log = this.rooms.get(message.room);
    if (log === undefined) {
      log = { seq: 0, ring: [], start: 0 };
      this.rooms.set(message.room, log);
    }
    const full = message as RoomMessage;
    full.seq = ++log.seq;
    if (this.historySize > 0) {
      if (log.ring.length < this.historySize) log.ring.push(full);
      else {
        log.ring[log.start] = full;
        log.start = (log.start + 1) % this.historySize;
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
    if (log === undefined) return Promise.resolve(sliceHistory([], 0, this.epoch, since, epoch));
    const held = log.start === 0 ? log.ring : log.ring.slice(log.start).concat(log.ring.slice(0, log.start));
    return Promise.resolve(sliceHistory(held, log.seq, this.epoch, since, epoch));
  }

  // Everything is local: every room and user is "subscribed".
  subscribeRoom(): Promise<void> {
    return Promise.resolve();
  }
  unsubscribeRoom(): Promise<void> {
    return Promise.resolve();
  }
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
    return Promise.resolve();
  }
}
