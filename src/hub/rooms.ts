import { mayJoin, mayPublish } from '../auth/principal.js';
import type { Broker, HistorySlice, RoomEvent } from '../cluster/broker.js';
import type { PresenceStore } from '../cluster/presence.js';
import type { GatewayConfig } from '../config/config.js';
import type { JoinedFrame, UserRef } from '../protocol/frames.js';
import { LeftReason } from '../protocol/wire/frames.js';
import type { Connection } from './connection.js';
import type { HubCounters } from './hub-counters.js';
import { HubError, HubErrorCode, toHubError } from './hub-error.js';
import type { HubEventBus, LeftReason as LeftEventReason } from './hub-events.js';
import { LocalRoom } from './room.js';
import { ReplayBudget } from './replay-budget.js';
import type { Writer } from './writer.js';

/**
 * The rooms that have members on this instance: joining (permission, broker subscription, history,
 * presence) and leaving. Each room's catch-up invariant lives in its LocalRoom.
 */
export class Rooms {
  private readonly rooms = new Map<string, LocalRoom>();
  /** The last join under way per connection and room (`connection \0 room`). */
  private readonly joinsUnderWay = new Map<string, Promise<void>>();
  private readonly replayBudget: ReplayBudget;

  constructor(
    private readonly config: GatewayConfig,
    private readonly broker: Broker,
    private readonly presence: PresenceStore,
    private readonly writer: Writer,
    private readonly counters: HubCounters,
    private readonly events: HubEventBus,
    private readonly logBrokerFailure: (what: string, err: unknown) => void,
  ) {
    this.replayBudget = new ReplayBudget(config.replayBudgetMessages, config.replayBudgetWindowMs);
  }

  get(room: string): LocalRoom | undefined {
    return this.rooms.get(room);
  }

  get size(): number {
    return this.rooms.size;
  }

  /**
   * Joins a room: replays history after `since` (or its `last` messages), then `joined`, then live
   * messages, with no gap and no duplicate even while the room is busy (live messages are held while
   * history is read). A replay the connection's replay budget does not cover is refused
   * (`rate_limited`): nothing replayed, the join not done (a member stays the member it was).
   * A second `join` of the room by the same connection waits for the first one to finish and is then
   * a rejoin: otherwise it would supersede the first before its presence was announced, and the
   * user would be missing from presence and never get its `left`.
   */
  join(c: Connection, room: string, since?: number, epoch?: string, last?: number): Promise<void> {
    const key = `${c.id}\u0000${room}`;
    const before = this.joinsUnderWay.get(key);
    const now = () => this.joinNow(c, room, since, epoch, last);
    const run = before === undefined ? now() : before.then(now, now);
    this.joinsUnderWay.set(key, run);
    const done = () => {
      if (this.joinsUnderWay.get(key) === run) this.joinsUnderWay.delete(key);
    };
    run.then(done, done);
    return run;
  }

  private async joinNow(
    c: Connection,
    room: string,
    since?: number,
    epoch?: string,
    last?: number,
  ): Promise<void> {
    if (!mayJoin(c.principal, room)) {
      throw new HubError(HubErrorCode.Forbidden, `your token does not allow room "${room}"`);
    }
    const rejoin = c.joined(room);
    const max = this.config.maxRoomsPerConnection;
    if (!rejoin && (c.rooms?.size ?? 0) >= max) {
      throw new HubError(HubErrorCode.Forbidden, `at most ${max} rooms per connection`);
    }
    const replaying = since !== undefined || last !== undefined;
    if (replaying && this.replayBudget.exhausted(c, performance.now())) throw this.overBudget(room);
    let local = this.rooms.get(room);
    const firstLocal = local === undefined;
    if (local === undefined) this.rooms.set(room, (local = new LocalRoom(room)));
    const state = local.beginJoin(c);
    (c.rooms ??= new Set()).add(room);

    let slice: HistorySlice;
    try {
      if (firstLocal) await this.broker.subscribeRoom(room);
      slice =
        last === undefined ? await this.broker.history(room, since, epoch) : await this.recent(room, last);
    } catch (err) {
      if (rejoin) local.abortRejoin(c);
      else this.dropMembership(c, room);
      throw toHubError(err);
    }
    if (!local.isCurrent(c, state)) return;
    if (replaying && !this.replayBudget.charge(c, slice.messages.length, performance.now())) {
      // What was held for a member while history was read is still its own: it stays a member.
      if (rejoin) local.completeJoin(c, state, this.writer);
      else this.dropMembership(c, room);
      throw this.overBudget(room);
    }

    local.replay(c, state, slice, this.writer);
    if (replaying) {
      this.counters.historyReplays++;
      this.counters.replayedMessages += slice.messages.length;
      if (!slice.recovered) this.counters.notRecovered++;
    }
    let members: UserRef[] | undefined;
    if (!rejoin) {
      members = await this.announce(c, room);
      if (!local.isCurrent(c, state)) return;
    }
    const joined: JoinedFrame = {
      type: 'joined',
      room,
      seq: slice.seq,
      epoch: slice.epoch,
      recovered: slice.recovered,
      oldestSeq: slice.oldestSeq,
    };
    if (members) joined.members = members;
    if (!mayPublish(c.principal, room)) joined.publish = false;
    this.writer.send(c, joined);
    local.completeJoin(c, state, this.writer);
    if (!rejoin) this.events.roomJoined(c.id, c.user, room);
  }

  private overBudget(room: string): HubError {
    const { replayBudgetMessages: n, replayBudgetWindowMs: ms } = this.config;
    return new HubError(
      HubErrorCode.RateLimited,
      `history replay budget exhausted (${n} messages per ${ms} ms): room "${room}" not joined; retry later`,
      true,
    );
  }

  /**
   * The room's last `last` messages still held: its current seq first, then the history after
   * seq - last (trimmed to `last` if messages came in between). `recovered` is true: nothing was
   * asked for beyond them.
   */
  private async recent(room: string, last: number): Promise<HistorySlice> {
    const head = await this.broker.history(room);
    if (head.oldestSeq > head.seq) return head;
    const slice = await this.broker.history(room, Math.max(0, head.seq - last), head.epoch);
    const extra = slice.messages.length - last;
    if (extra > 0) slice.messages = slice.messages.slice(extra);
    slice.recovered = true;
    return slice;
  }

  /**
   * Adds a joiner to the room's presence and announces a user's first connection; answers the
   * member list when the room is small enough to list (PRESENCE_MAX_MEMBERS).
   */
  private async announce(c: Connection, room: string): Promise<UserRef[] | undefined> {
    const user = c.user;
    const first = await this.presence.add(room, user, c.id).catch(() => false);
    const count = await this.presence.count(room).catch(() => 0);
    if (count > this.config.presenceMaxMembers) return undefined;
    const members = await this.presence.members(room, this.config.presenceMaxMembers).catch(() => undefined);
    if (first) {
      const event: RoomEvent = { type: 'presence', room, user, status: 'joined', origin: c.id };
      this.counters.busPublished++;
      this.broker.publishRoomEvent(room, event).catch((err) => this.logBrokerFailure('presence', err));
    }
    return members;
  }

  /** Leaves a room and answers `left` with the reason (the client's own `leave` by default). */
  leave(c: Connection, room: string, reason: LeftReason = LeftReason.Leave): void {
    if (!c.joined(room)) throw new HubError(HubErrorCode.NotJoined, `you have not joined room "${room}"`);
    this.leaveRoom(c, room, reason);
    this.writer.send(c, { type: 'left', room, reason });
  }

  /**
   * Removes a connection from a room (a leave, its close, or the server's decision: `reason`) and
   * announces a user's last one.
   */
  leaveRoom(c: Connection, room: string, reason?: LeftEventReason): void {
    this.dropMembership(c, room);
    const user = c.user;
    this.presence
      .remove(room, user.id, c.id)
      .then(async (last) => {
        if (!last) return;
        if ((await this.presence.count(room)) >= this.config.presenceMaxMembers) return;
        this.counters.busPublished++;
        await this.broker.publishRoomEvent(room, {
          type: 'presence',
          room,
          user,
          status: 'left',
          origin: c.id,
        });
      })
      .catch((err) => this.logBrokerFailure('presence', err));
    this.events.roomLeft(c.id, user, room, reason ?? (c.closeDeadline === 0 ? 'leave' : 'disconnect'));
  }

  private dropMembership(c: Connection, room: string): void {
    c.rooms?.delete(room);
    const local = this.rooms.get(room);
    if (local === undefined) return;
    local.delete(c);
    if (local.size === 0) {
      this.rooms.delete(room);
      this.broker.unsubscribeRoom(room).catch((err) => this.logBrokerFailure('unsubscribeRoom', err));
    }
  }
}
