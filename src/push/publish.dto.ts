import { IsDefined, IsOptional, IsString, Length, ValidateIf } from 'class-validator';
import { IsBoundedString, IsRoom } from '../protocol/envelope.dto.js';
import { MAX_ID_LENGTH, MAX_USER_ID_LENGTH } from '../protocol/wire/limits.js';

/**
 * POST /api/publish body (and the `hub.publish` event payload): `{room, content}` publishes to a room
 * (history, seq, dedup); `{to, content}` sends a `direct` frame to every connection of a user.
 * Exactly one of `room` and `to`. `content` is also checked against MAX_CONTENT_LENGTH.
 */
export class PublishRequest {
  @ValidateIf((o: PublishRequest) => o.to === undefined || o.room !== undefined)
  @IsDefined({ message: 'room or to is required' })
  @IsRoom()
  room?: string;

  @ValidateIf((o: PublishRequest) => o.to !== undefined)
  @IsBoundedString(MAX_USER_ID_LENGTH)
  to?: string;

  @IsDefined({ message: 'is required' })
  @IsString({ message: 'must be a string' })
  content!: string;
}

/** The `hub.publish` event (microservice transport): the publish body plus an `id`. */
export class PublishEvent extends PublishRequest {
  /**
   * Required: Redis pub/sub hands the event to EVERY gateway instance; the id is the key with which
   * exactly one of them claims it, and the dedup key of the message (a re-emit is not re-delivered).
   */
  @IsDefined({ message: 'is required (the idempotency key of the event)' })
  @IsBoundedString(MAX_ID_LENGTH)
  id!: string;

  /** Optional service name, shown as the sender; defaults to "service". */
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, 64, { message: 'must be 1..64 characters' })
  sender?: string;
}
