import { applyDecorators } from '@nestjs/common';
import { IsInt, IsOptional, IsString, Length, Matches, Min } from 'class-validator';

/** Room names: 1..64 characters from A-Z a-z 0-9 _ - . : */
export const ROOM_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** A room name field. */
const IsRoom = (): PropertyDecorator =>
  Matches(ROOM_PATTERN, { message: 'must be 1..64 characters of A-Z a-z 0-9 _ - . :' });

/**
 * An optional string of 1..`max` characters (client ids, epochs). Listed in the order stacked
 * decorators register (bottom first), so error details keep their order.
 */
const IsOptionalString = (max: number): PropertyDecorator =>
  applyDecorators(
    Length(1, max, { message: `must be 1..${max} characters` }),
    IsString({ message: 'must be a string' }),
    IsOptional(),
  );

/** Client frame DTOs; validated by EnvelopePipe. Unknown fields (such as `sender`) are stripped. */
export class JoinDto {
  @IsRoom()
  room!: string;

  @IsOptional()
  @IsInt({ message: 'must be a whole number' })
  @Min(0, { message: 'must be >= 0' })
  since?: number;

  @IsOptionalString(64)
  epoch?: string;
}

export class LeaveDto {
  @IsRoom()
  room!: string;
}

export class MessageDto {
  @IsRoom()
  room!: string;

  /** Length is checked by EnvelopePipe against MAX_CONTENT_LENGTH (error `too_long`). */
  @IsString({ message: 'must be a string' })
  content!: string;

  @IsOptionalString(64)
  id?: string;
}

export class DirectDto {
  @IsString({ message: 'must be a string' })
  @Length(1, 128, { message: 'must be 1..128 characters' })
  to!: string;

  @IsString({ message: 'must be a string' })
  content!: string;

  @IsOptionalString(64)
  id?: string;
}

export class PingDto {
  @IsOptionalString(64)
  id?: string;
}

export class AuthDto {
  @IsString({ message: 'must be a string' })
  @Length(1, 8192, { message: 'must be 1..8192 characters' })
  token!: string;
}
