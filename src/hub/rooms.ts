import type { EventEmitter } from 'node:events';
import { mayJoin, mayPublish } from '../auth/principal.js';
import type { Broker, HistorySlice, RoomEvent } from '../cluster/broker.js';
import type { PresenceStore } from '../cluster/presence.js';
import type { GatewayConfig } from '../config/config.js';
import type { JoinedFrame, UserRef } from '../protocol/frames.js';
import type { Connection } from './connection.js';
import type { HubCounters } from './hub-counters.js';
import { HubError, HubErrorCode, toHubError } from './hub-error.js';
import type { HubEvents } from './hub-events.js';
import { LocalRoom } from './room.js';
import type { Writer } from './writer.js';

/**
 * The rooms that have members on this instance: joining (permission, broker subscription, history,
 * presence) and leaving. Each room's catch-up invariant lives in its LocalRoom.
 */
export class Rooms {
  private readonly rooms = new Map<string, LocalRoom>();

  constructor(
    private readonly config: GatewayConfig,
    private readonly broker: Broker,
    private readonly presence: PresenceStore,
    private readonly writer: Writer,
    private readonly counters: HubCounters,
    private readonly events: EventEmitter<HubEvents>,
    private readonly logBrokerFailure: (what: string, err: unknown) => void,
  ) {}

  get(room: string): LocalRoom | undefined {
    return this.rooms.get(room);
  }

  get size(): number {
    return this.rooms.size;
  }

  /**
   * Joins a room: replays history after `since`, then `joined`, then live messages, with no gap and
   * no duplicate even while the room is busy (live messages are held while history is read).
   */
  async join(c: Connection, room: string, since?: number, epoch?: string): Promise<void> {
    if (!mayJoin(c.principal, room)) {
      throw new HubError(HubErrorCode.Forbidden, `your token does not allow room "${room}"`);
    }
    const rejoin = c.joined(room);
    const max = this.config.maxRoomsPerConnection;
    if (!rejoin && (c.rooms?.size ?? 0) >= max) {
      throw new HubError(HubErrorCode.Forbidden, `at most ${max} rooms per connection`);
    }
    let local = this.rooms.get(room);
    const firstLocal = local === undefined;
    if (local === undefined) this.rooms.set(room, (local = new LocalRoom(room)));
    const state = local.beginJoin(c);
    (c.rooms ??= new Set()).add(room);

    let slice: HistorySlice;
    try {
      if (firstLocal) await this.broker.subscribeRoom(room);
      slice = await this.broker.history(room, since, epoch);
    } catch (err) {
      if (rejoin) local.abortRejoin(c);
      else this.dropMembership(c, room);
      throw toHubError(err);
    }
    if (!local.isCurrent(c, state)) return;

    local.replay(c, state, slice, this.writer);
    if (since !== undefined) {
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
    if (!rejoin) this.events.emit('joined', { connectionId: c.id, user: c.user, room });
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

  /** Leaves a room and answers `left`. */
  leave(c: Connection, room: string): void {
    if (!c.joined(room)) throw new HubError(HubErrorCode.NotJoined, `you have not joined room "${room}"`);
    this.leaveRoom(c, room);
    this.writer.send(c, { type: 'left', room });
  }

  /** Removes a connection from a room (a leave or its close) and announces a user's last one. */
  leaveRoom(c: Connection, room: string): void {
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
    this.events.emit('left', { connectionId: c.id, user, room });
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
