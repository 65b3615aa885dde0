import { mayJoin, mayPublish } from '../auth/principal.js';
import {
  type Broker,
  type PublishOptions as BrokerPublishOptions,
  IdTakenElsewhere,
} from '../cluster/broker.js';
import { type DedupEntry, type IdempotencyStore, idempotencyKey, InFlight } from '../cluster/idempotency.js';
import { after, type MaybeAsync } from '../cluster/maybe-async.js';
import type { DirectFrame, RoomMessage, UserRef } from '../protocol/frames.js';
import type { Connection } from './connection.js';
import type { HubEventBus } from './hub-events.js';
import type { HubCounters } from './hub-counters.js';
import { HubError, HubErrorCode, toHubError } from './hub-error.js';
import type { Writer } from './writer.js';

export interface PublishOptions {
  /** Shown as the sender; defaults to `{id: 'system', name: 'system'}`. */
  sender?: UserRef;
  /** Message id; with it, a retry within DEDUP_WINDOW_MS is not delivered twice. */
  id?: string;
}

export interface PublishResult {
  id: string;
  seq: number;
  /**
   * Set when the id had been published already in another room: that room (`seq` is its seq there),
   * and nothing was published now.
   */
  room?: string;
  duplicate?: true;
}

export const SYSTEM: UserRef = { id: 'system', name: 'system' };

/**
 * A message id its sender had already used in another room: nothing is published, the answer is
 * that room's publication (`duplicate`), or `unavailable` (retry) while its seq is not known yet.
 */
function takenElsewhere(id: string, prior: DedupEntry): PublishResult {
  if (prior.seq === undefined) {
    throw new HubError(
      HubErrorCode.Unavailable,
      `message id "${id}" is being published in another room; retry`,
      true,
    );
  }
  return { id, seq: prior.seq, room: prior.room, duplicate: true };
}

/** Broker options of a message sent without an id that the publish hook keeps out of history. */
const SKIP_HISTORY: BrokerPublishOptions = Object.freeze({ skipHistory: true });

/**
 * Publishing (centrifuge's node.go Publish): room messages through the broker, with the sender's id
 * as the broker's idempotency key; direct messages, user frames and broadcasts; and the acks.
 */
export class Publisher {
  /** Direct messages with an id under way (room messages have theirs in the broker). */
  private readonly inflight = new InFlight();

  constructor(
    private readonly broker: Broker,
    private readonly idempotency: IdempotencyStore,
    private readonly writer: Writer,
    private readonly counters: HubCounters,
    private readonly windowMs: number,
    private readonly newId: () => string,
    private readonly events: HubEventBus,
  ) {}

  /**
   * A client's `message`: publish (idempotent by sender and id), then ack with the seq. With the
   * seams in this process (memory) it all happens now, with no promise. `skipHistory` (the publish
   * hook's answer): delivered and acked as usual, not stored in the room's history.
   */
  fromClient(
    c: Connection,
    room: string,
    content: string,
    clientId?: string,
    skipHistory = false,
  ): MaybeAsync<void> {
    if (!c.joined(room)) {
      if (!mayJoin(c.principal, room)) {
        throw new HubError(HubErrorCode.Forbidden, `your token does not allow room "${room}"`);
      }
      throw new HubError(HubErrorCode.NotJoined, `join room "${room}" before sending to it`);
    }
    if (c.principal.publish != null && !mayPublish(c.principal, room)) {
      throw new HubError(HubErrorCode.Forbidden, `your token does not allow publishing to room "${room}"`);
    }
    return after(this.publish(room, content, c.user, clientId, skipHistory), (result) => {
      this.writer.send(c, { type: 'ack', id: result.id, room: result.room ?? room, seq: result.seq });
    });
  }

  /**
   * Publishes a message to a room on every instance. With a `clientId`, the sender's id is used once
   * within DEDUP_WINDOW_MS, whichever room: the sender's record (`IdempotencyStore.take`) is taken
   * before publishing (by the broker itself, in the publication's own step, when it
   * `takesSenderRecord`). A retry in the same room is published under the same key and the broker
   * answers it with the original seq (also when the first attempt's reply was lost); a reuse in
   * another room publishes nothing and answers the original room and seq (`duplicate`). With
   * `skipHistory` the message is delivered but not stored in the room's history.
   */
  publish(
    room: string,
    content: string,
    sender: UserRef,
    clientId?: string,
    skipHistory = false,
  ): MaybeAsync<PublishResult> {
    if (clientId === undefined) {
      return this.send(room, content, sender, this.newId(), skipHistory ? SKIP_HISTORY : undefined);
    }
    const key = idempotencyKey(sender.id, 'message', clientId);
    if (this.broker.takesSenderRecord?.(room, key) === true) {
      return this.send(room, content, sender, clientId, {
        idempotencyKey: key,
        idempotentResultTtlMs: this.windowMs,
        skipHistory,
        takeSenderRecord: true,
      });
    }
    let taken: MaybeAsync<DedupEntry | undefined>;
    try {
      taken = this.idempotency.take(key, room, this.windowMs);
    } catch (err) {
      throw toHubError(err);
    }
    if (!(taken instanceof Promise)) {
      return this.publishTaken(room, content, sender, clientId, key, taken, skipHistory);
    }
    return taken.then(
      (prior) => this.publishTaken(room, content, sender, clientId, key, prior, skipHistory),
      (err: unknown) => {
        throw toHubError(err);
      },
    );
  }

  private publishTaken(
    room: string,
    content: string,
    sender: UserRef,
    id: string,
    key: string,
    prior: DedupEntry | undefined,
    skipHistory: boolean,
  ): MaybeAsync<PublishResult> {
    if (prior?.room !== undefined && prior.room !== room) return takenElsewhere(id, prior);
    const options: BrokerPublishOptions = {
      idempotencyKey: key,
      idempotentResultTtlMs: this.windowMs,
      skipHistory,
    };
    if (prior !== undefined) return this.send(room, content, sender, id, options);
    // Taken now: if the publication fails, the id is given back so that a retry publishes it.
    let sent: MaybeAsync<PublishResult>;
    try {
      sent = this.send(room, content, sender, id, options);
    } catch (err) {
      void this.giveBack(key);
      throw err;
    }
    if (!(sent instanceof Promise)) return sent;
    return sent.catch(async (err: unknown) => {
      await this.giveBack(key);
      throw err;
    });
  }

  /** Releases a taken id; when that fails too (Redis down), a retry in the same room still publishes. */
  private async giveBack(key: string): Promise<void> {
    try {
      await this.idempotency.release(key);
    } catch {
      // The record still names the room; the room's own record (not set: nothing was published)
      // lets a retry there publish, and the record expires with the window.
    }
  }

  private send(
    room: string,
    content: string,
    sender: UserRef,
    id: string,
    options: BrokerPublishOptions | undefined,
  ): MaybeAsync<PublishResult> {
    this.counters.busPublished++;
    let published: MaybeAsync<RoomMessage>;
    try {
      published = this.broker.publish({ id, room, time: Date.now(), sender, content }, options);
    } catch (err) {
      throw toHubError(err);
    }
    if (!(published instanceof Promise))
      return this.events.acked(published, { id, seq: published.seq }, toHubError);
    return published.then(
      (m) => this.events.acked(m, { id, seq: m.seq }, toHubError),
      (err: unknown) => {
        if (err instanceof IdTakenElsewhere) return takenElsewhere(id, err.prior);
        throw toHubError(err);
      },
    );
  }

  /** A client's `direct`: to every connection of `to` and of the sender, acked with the id. */
  async directFromClient(c: Connection, to: string, content: string, clientId?: string): Promise<void> {
    const { id } = await this.direct(c.user, to, content, { id: clientId, echo: true });
    this.writer.send(c, { type: 'ack', id });
  }

  /**
   * A `direct` frame to every connection of `to` (and of the sender with `echo`), on every instance.
   * With an `id`, a retry by the same sender within DEDUP_WINDOW_MS is not delivered again.
   */
  direct(
    sender: UserRef,
    to: string,
    content: string,
    options: { id?: string; echo?: boolean } = {},
  ): Promise<{ id: string; duplicate: boolean }> {
    const { id, echo = false } = options;
    if (id === undefined) return this.directOnce(sender, to, content, this.newId(), null, echo);
    const key = idempotencyKey(sender.id, 'direct', id);
    return this.inflight.once(key, () => this.directOnce(sender, to, content, id, key, echo)) as Promise<{
      id: string;
      duplicate: boolean;
    }>;
  }

  private async directOnce(
    sender: UserRef,
    to: string,
    content: string,
    id: string,
    key: string | null,
    echo: boolean,
  ): Promise<{ id: string; duplicate: boolean }> {
    try {
      if (key !== null && (await this.idempotency.get(key)) !== undefined) return { id, duplicate: true };
      const frame: DirectFrame = { type: 'direct', id, time: Date.now(), sender, to, content };
      await this.toUser(to, frame);
      if (echo && to !== sender.id) await this.toUser(sender.id, frame);
      await this.events.direct(frame);
      if (key !== null) await this.idempotency.set(key, {}, this.windowMs);
      return { id, duplicate: false };
    } catch (err) {
      throw toHubError(err);
    }
  }

  /** A frame for every connection of a user, on every instance. */
  async toUser(userId: string, payload: object): Promise<void> {
    this.counters.busPublished++;
    await this.broker.publishUserEvent(userId, payload);
  }

  /** A frame for every connection on every instance. */
  async broadcast(payload: object): Promise<void> {
    this.counters.busPublished++;
    await this.broker.publishBroadcast(payload);
  }
}
