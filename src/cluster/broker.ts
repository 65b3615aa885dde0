import type { RoomMessage, UserRef } from '../protocol/frames.js';
import type { DedupEntry } from './idempotency.js';
import type { MaybeAsync } from './maybe-async.js';

/**
 * The seam between this instance's hub and the rest of the cluster (centrifuge's Broker).
 *
 * Guarantees every implementation gives:
 * - `publish` assigns the room's next seq, appends the message to the room's history (unless
 *   `skipHistory`) and fans it out to every subscribed instance (this one included) as ONE atomic
 *   step, so that every instance sees a room's messages in seq order. Splitting "assign seq" from
 *   "fan out" would let two instances' publications cross on the wire.
 * - A room's seq increases by exactly 1 per message. `epoch` changes when the history is lost.
 * - Handlers are called for rooms/users this instance subscribed to, each message once, a room's
 *   messages in seq order (within an epoch; onRoomReset announces a new epoch).
 * - When the backend is unreachable, publish/history reject with BrokerUnavailableError and nothing
 *   was published.
 */
export interface Broker {
  /** Installs the receiver; called once by the hub before any subscribe. */
  setHandler(handler: BrokerHandler): void;
  /**
   * With `options.idempotencyKey`, a publication retried under the same key to the same room within
   * `idempotentResultTtlMs` resolves with the original seq and is not published again, even when the
   * first attempt failed after the backend had applied it (lost reply), and a retry racing its
   * original on this instance waits for the original's answer. A broker inside this process answers
   * at once (and throws instead of rejecting).
   */
  publish(message: Omit<RoomMessage, 'seq'>, options?: PublishOptions): MaybeAsync<RoomMessage>;
  /**
   * True when `publish` to `room` with `takeSenderRecord` takes the sender record of `key`
   * (`IdempotencyStore.take`, the same record) itself, in the same atomic step as the publication:
   * one round trip to Redis per message instead of a take, then the publish script. Such a publish
   * rejects with IdTakenElsewhere when the id was taken for another room, publishing nothing.
   */
  takesSenderRecord?(room: string, key: string): boolean;
  /**
   * Whether publications this instance made are on their way (sent to the backend, their own
   * delivery not back yet). The hub's writer holds its write pass once for them (Writer.holdPassWhile).
   * Absent for a broker that publishes synchronously.
   */
  publishing?(): boolean;
  /**
   * Sends now what waits for the end of the turn on the backend's connection (RedisBroker: the
   * turn's publish batches, and the id takes of the IdempotencyStore that shares the connection),
   * instead of at the end of the turn: the hub calls it before its write pass.
   */
  sendPending?(): void;
  /** Ephemeral room event (presence): not in history, no seq. */
  publishRoomEvent(room: string, event: RoomEvent): Promise<void>;
  /** A frame for every connection of a user (direct messages, service pushes). */
  publishUserEvent(userId: string, frame: object): Promise<void>;
  /** A frame for every connection on every instance. */
  publishBroadcast(frame: object): Promise<void>;
  /**
   * History after `since`. Without `since` (or with `since` >= the current seq on the same epoch)
   * it returns no messages. An `epoch` other than the current one means the client's seqs belong to
   * a lost history: everything still held is returned with recovered=false.
   */
  history(room: string, since?: number, epoch?: string): Promise<HistorySlice>;
  subscribeRoom(room: string): Promise<void>;
  unsubscribeRoom(room: string): Promise<void>;
  subscribeUser(userId: string): Promise<void>;
  unsubscribeUser(userId: string): Promise<void>;
  /** Whether the backend is reachable now (readiness). */
  isHealthy(): boolean;
  close(): Promise<void>;
}

/** Options of `Broker.publish` (centrifuge's WithIdempotencyKey / WithIdempotentResultTTL). */
export interface PublishOptions {
  /** Names the publication across retries (see `idempotencyKey()` in idempotency.ts). */
  idempotencyKey?: string;
  /** How long the key's answer is remembered (DEDUP_WINDOW_MS). */
  idempotentResultTtlMs?: number;
  /**
   * The message gets the room's next seq and is fanned out (and written to the event stream) like
   * any other, but it is not stored in the room's history: no `history` read returns it, so a
   * resuming client sees its seq skipped. The broker remembers which seqs were skipped (runs of
   * them, bounded like the history) so that a skipped seq before the oldest message held is not
   * reported as a loss (`HistorySlice.recovered`).
   */
  skipHistory?: boolean;
  /**
   * With `idempotencyKey` (a room message's key), when the broker's `takesSenderRecord` says so for
   * this room and key: take the sender's record of the id for this room in the publication's own
   * step (see there).
   */
  takeSenderRecord?: boolean;
}

/**
 * A publication with `takeSenderRecord` whose id the sender had already used in another room:
 * nothing was published. `prior` is what `IdempotencyStore.take` would have answered: that room,
 * and its seq once that publication is known.
 */
export class IdTakenElsewhere extends Error {
  constructor(readonly prior: DedupEntry) {
    super(`the message id was taken for room ${JSON.stringify(prior.room)}`);
    this.name = 'IdTakenElsewhere';
  }
}

export interface HistorySlice {
  messages: RoomMessage[];
  /** The room's current (last assigned) seq. */
  seq: number;
  epoch: string;
  /** Lowest seq still held, seq + 1 when none. */
  oldestSeq: number;
  /**
   * Every message after `since` that history was to hold is in `messages`: each seq after `since`
   * missing from them was published with `skipHistory`. False when a message after `since` was
   * trimmed away (or the epoch differs).
   */
  recovered: boolean;
}

export interface RoomEvent {
  type: 'presence';
  room: string;
  user: UserRef;
  status: 'joined' | 'left';
  /** The connection that caused it; it does not receive the event. */
  origin?: string;
}

export interface BrokerHandler {
  onMessage(message: RoomMessage): void;
  onRoomEvent(event: RoomEvent): void;
  onUserEvent(userId: string, frame: object): void;
  onBroadcast(frame: object): void;
  /**
   * The room's history was lost in the backend (its epoch changed): seqs start over, so the next
   * message may have a lower seq than the last one delivered. Called right before the first message
   * of the new epoch is handed to `onMessage`; `reset.seq` is that message's seq minus 1.
   */
  onRoomReset?(room: string, reset: RoomReset): void;
}

/** A room's new history generation, as the `reset` frame carries it. */
export interface RoomReset {
  epoch: string;
  /** The last seq of the new epoch before the next message delivered. */
  seq: number;
  /** The lowest seq of the new epoch still held. */
  oldestSeq: number;
}

export class BrokerUnavailableError extends Error {
  override name = 'BrokerUnavailableError';
}

export const BROKER = Symbol('BROKER');

/**
 * Computes a history slice from the messages (oldest first, ascending seqs) held for a room; seqs
 * may be missing between them (messages published with `skipHistory`). `skippedFrom(oldestSeq)`
 * answers the first seq of the run of skipped seqs that ends at oldestSeq - 1 (oldestSeq when
 * oldestSeq - 1 was not skipped, or is not known to be): a `since` from one before it on loses
 * nothing. It is asked only when `since` + 1 < oldestSeq in the current epoch.
 * Shared by the implementations so that they agree on every edge.
 */
export function sliceHistory(
  held: readonly RoomMessage[],
  seq: number,
  epoch: string,
  since?: number,
  clientEpoch?: string,
  skippedFrom?: (oldestSeq: number) => number,
): HistorySlice {
  const oldestSeq = held.length > 0 ? held[0].seq : seq + 1;
  if (since === undefined) return { messages: [], seq, epoch, oldestSeq, recovered: true };
  const sameEpoch = clientEpoch === undefined || clientEpoch === epoch;
  if (!sameEpoch || since > seq) {
    return { messages: held.slice(), seq, epoch, oldestSeq, recovered: false };
  }
  return {
    messages: held.slice(firstAfter(held, since)),
    seq,
    epoch,
    oldestSeq,
    recovered: since + 1 >= oldestSeq || (skippedFrom !== undefined && since + 1 >= skippedFrom(oldestSeq)),
  };
}

/** Index of the first held message with seq > `since` (held.length when none). */
function firstAfter(held: readonly RoomMessage[], since: number): number {
  let lo = 0;
  let hi = held.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (held[mid].seq <= since) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
