import { Type } from 'class-transformer';
import { IsDefined, IsInt, IsOptional, IsString, Length, Max, Min, ValidateIf } from 'class-validator';
import { IsBoundedString, IsRoom } from '../protocol/envelope.dto.js';
import { MAX_ID_LENGTH, MAX_USER_ID_LENGTH } from '../protocol/wire/limits.js';
import type { RoomMessage, UserRef } from '../protocol/frames.js';

/** The most `messages` or `members` one answer lists. */
export const MAX_LIST = 1000;

// ---------------------------------------------------------------- requests (validated)

export class RoomParams {
  @IsRoom()
  room!: string;
}

export class UserParams {
  @IsBoundedString(MAX_USER_ID_LENGTH)
  id!: string;
}

export class UserRoomParams extends UserParams {
  @IsRoom()
  room!: string;
}

/** `?limit=`: how many entries at most (default and maximum MAX_LIST). */
export class ListQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'must be a whole number' })
  @Min(1, { message: 'must be >= 1' })
  @Max(MAX_LIST, { message: `must be <= ${MAX_LIST}` })
  limit?: number;
}

/** `?since=&epoch=&limit=` of the history read. */
export class HistoryQuery extends ListQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'must be a whole number' })
  @Min(0, { message: 'must be >= 0' })
  since?: number;

  @IsOptional()
  @IsBoundedString(MAX_ID_LENGTH)
  epoch?: string;
}

/** POST /api/users/:id/disconnect body (may be empty). */
export class DisconnectRequest {
  @IsOptional()
  @IsInt({ message: 'must be a whole number' })
  @Min(4000, { message: 'must be in 4000..4999' })
  @Max(4999, { message: 'must be in 4000..4999' })
  code?: number;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(0, 120, { message: 'must be at most 120 characters' })
  reason?: string;
}

/** POST /api/tokens/revoke body: `jti`, `sub` or both, and `until` (epoch seconds). */
export class RevokeRequest {
  @ValidateIf((o: RevokeRequest) => o.jti === undefined || o.sub !== undefined)
  @IsDefined({ message: 'sub or jti is required' })
  @IsBoundedString(MAX_USER_ID_LENGTH)
  sub?: string;

  @IsOptional()
  @IsBoundedString(MAX_USER_ID_LENGTH)
  jti?: string;

  @IsDefined({ message: 'is required (epoch seconds)' })
  @IsInt({ message: 'must be a whole number (epoch seconds)' })
  @Min(0, { message: 'must be >= 0' })
  until!: number;
}

// ---------------------------------------------------------------- answers

/** GET /api/rooms/:room */
export interface RoomInfo {
  room: string;
  epoch: string;
  /** The room's last seq (0: nothing published in this epoch). */
  seq: number;
  oldestSeq: number;
  /** Distinct users in the room, cluster-wide. */
  members: number;
}

/** GET /api/rooms/:room/presence */
export interface RoomPresence {
  room: string;
  members: UserRef[];
}

/** GET /api/rooms/:room/history */
export interface RoomHistory {
  room: string;
  epoch: string;
  recovered: boolean;
  oldestSeq: number;
  messages: RoomMessage[];
}

/** GET /api/users/:id */
export interface UserInfo {
  id: string;
  online: boolean;
  /** Live connections, cluster-wide. */
  connections: number;
  /** Rooms joined by any of them. */
  rooms: string[];
}

/** POST /api/users/:id/disconnect */
export interface DisconnectAnswer {
  id: string;
  /** Connections that were live when the command went out (closed on every instance). */
  connections: number;
}

/** POST /api/users/:id/rooms/:room/leave */
export interface LeaveAnswer {
  id: string;
  room: string;
}

/** POST /api/tokens/revoke */
export interface RevokeAnswer {
  sub?: string;
  jti?: string;
  until: number;
}
