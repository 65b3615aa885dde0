import { Inject, Injectable } from '@nestjs/common';
import { type Revocation, REVOCATIONS, type RevocationStore } from '../auth/revocation.js';
import { BROKER, type Broker, BrokerUnavailableError } from '../cluster/broker.js';
import { PRESENCE, type PresenceStore } from '../cluster/presence.js';
import { USERS, type UserDirectory } from '../cluster/users.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { type ControlCommand, controlMessage } from '../hub/control.js';
import { Close } from '../protocol/codes.js';
import { PushError, PushHttpError } from '../push/push-errors.js';
import {
  type DisconnectAnswer,
  MAX_LIST,
  type RevokeAnswer,
  type RoomHistory,
  type RoomInfo,
  type RoomPresence,
  type UserInfo,
} from './api.dto.js';

/**
 * The server API's reads and commands. Reads ask the cluster seams (history and seq from the broker,
 * presence, the user directory); commands go to every instance over the broker as control messages
 * (control.ts) that each hub carries out on its own connections.
 */
@Injectable()
export class ServerApiService {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(BROKER) private readonly broker: Broker,
    @Inject(PRESENCE) private readonly presence: PresenceStore,
    @Inject(USERS) private readonly users: UserDirectory,
    @Inject(REVOCATIONS) private readonly revocations: RevocationStore,
  ) {}

  async room(room: string): Promise<RoomInfo> {
    const [slice, members] = await cluster(
      Promise.all([this.broker.history(room), this.presence.count(room)]),
    );
    return { room, epoch: slice.epoch, seq: slice.seq, oldestSeq: slice.oldestSeq, members };
  }

  async presenceOf(room: string, limit = MAX_LIST): Promise<RoomPresence> {
    return { room, members: await cluster(this.presence.members(room, limit)) };
  }

  /**
   * Without `since`: the last `limit` messages held. With `since`: the first `limit` messages after
   * it (page on with the last seq); `recovered` says whether the messages after `since` were still held
   * (seqs kept out of history by `skipHistory` are no loss).
   */
  async history(
    room: string,
    since: number | undefined,
    epoch: string | undefined,
    limit = MAX_LIST,
  ): Promise<RoomHistory> {
    const slice = await cluster(
      this.broker.history(room, since ?? 0, since === undefined ? undefined : epoch),
    );
    const messages = since === undefined ? slice.messages.slice(-limit) : slice.messages.slice(0, limit);
    return { room, epoch: slice.epoch, recovered: slice.recovered, oldestSeq: slice.oldestSeq, messages };
  }

  async user(id: string): Promise<UserInfo> {
    const { connections, rooms } = await cluster(this.users.lookup(id));
    return { id, online: connections > 0, connections, rooms };
  }

  async disconnect(
    id: string,
    code: number = Close.Disconnected.code,
    reason: string = Close.Disconnected.reason,
  ): Promise<DisconnectAnswer> {
    if (Buffer.byteLength(reason) > 123) {
      throw new PushHttpError(PushError.BadRequest, 'invalid disconnect request', [
        { field: 'reason', problem: 'must be at most 123 bytes in UTF-8' },
      ]);
    }
    const { connections } = await cluster(this.users.lookup(id));
    await this.command(id, { op: 'disconnect', user: id, code, reason });
    return { id, connections };
  }

  async leave(id: string, room: string): Promise<void> {
    await this.command(id, { op: 'leave', user: id, room });
  }

  /**
   * Stores the revocation (refused at the handshake and on `auth` from now on), then closes the live
   * connections that use the tokens on every instance: on the user's channel for a `sub`, on the
   * broadcast channel for a `jti` alone (its owner is not known).
   */
  async revoke(r: Revocation): Promise<RevokeAnswer> {
    const now = Math.floor(Date.now() / 1000);
    if (r.sub === undefined && r.jti !== undefined && r.until <= now) {
      throw new PushHttpError(PushError.BadRequest, 'invalid revoke request', [
        { field: 'until', problem: "must be in the future (the token's exp) for a jti" },
      ]);
    }
    if (r.sub !== undefined && r.until + this.config.tokenMaxLifetimeSec <= now) {
      throw new PushHttpError(PushError.BadRequest, 'invalid revoke request', [
        { field: 'until', problem: 'every token issued before it has expired (TOKEN_MAX_LIFETIME_SEC)' },
      ]);
    }
    await cluster(this.revocations.revoke(r, now));
    const command: ControlCommand = { op: 'revoke', revocation: r };
    if (r.jti !== undefined) await cluster(this.broker.publishBroadcast(controlMessage(command)));
    else await this.command(r.sub!, command);
    return {
      ...(r.sub !== undefined ? { sub: r.sub } : {}),
      ...(r.jti !== undefined ? { jti: r.jti } : {}),
      until: r.until,
    };
  }

  private command(userId: string, command: ControlCommand): Promise<void> {
    return cluster(this.broker.publishUserEvent(userId, controlMessage(command)));
  }
}

/** A cluster seam that cannot be reached answers 503 `unavailable` (retry). */
async function cluster<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof BrokerUnavailableError) {
      throw new PushHttpError(PushError.Unavailable, 'the cluster is unavailable; retry', undefined, {
        'Retry-After': '1',
      });
    }
    throw err;
  }
}
