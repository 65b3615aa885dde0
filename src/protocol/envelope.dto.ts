import { IsInt, IsOptional, IsString, Length, Matches, Min } from 'class-validator';

/** Room names: 1..64 characters from A-Z a-z 0-9 _ - . : */
export const ROOM_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Client frame DTOs; validated by EnvelopePipe. Unknown fields (such as `sender`) are stripped. */
export class JoinDto {
  @Matches(ROOM_PATTERN, { message: 'must be 1..64 characters of A-Z a-z 0-9 _ - . :' })
  room!: string;

  @IsOptional()
  @IsInt({ message: 'must be a whole number' })
  @Min(0, { message: 'must be >= 0' })
  since?: number;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, 64, { message: 'must be 1..64 characters' })
  epoch?: string;
}

export class LeaveDto {
  @Matches(ROOM_PATTERN, { message: 'must be 1..64 characters of A-Z a-z 0-9 _ - . :' })
  room!: string;
}

export class MessageDto {
  @Matches(ROOM_PATTERN, { message: 'must be 1..64 characters of A-Z a-z 0-9 _ - . :' })
  room!: string;

  /** Length is checked by EnvelopePipe against MAX_CONTENT_LENGTH (error `too_long`). */
  @IsString({ message: 'must be a string' })
  content!: string;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, 64, { message: 'must be 1..64 characters' })
  id?: string;
}

export class DirectDto {
  @IsString({ message: 'must be a string' })
  @Length(1, 128, { message: 'must be 1..128 characters' })
  to!: string;

  @IsString({ message: 'must be a string' })
  content!: string;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, 64, { message: 'must be 1..64 characters' })
  id?: string;
}

export class PingDto {
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Length(1, 64, { message: 'must be 1..64 characters' })
  id?: string;
}

export class AuthDto {
  @IsString({ message: 'must be a string' })
  @Length(1, 8192, { message: 'must be 1..8192 characters' })
  token!: string;
}
