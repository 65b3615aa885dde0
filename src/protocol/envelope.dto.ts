import { applyDecorators } from '@nestjs/common';
import {
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  registerDecorator,
  type ValidationArguments,
} from 'class-validator';
import {
  MAX_ID_LENGTH,
  MAX_JOIN_LAST,
  MAX_TOKEN_LENGTH,
  MAX_USER_ID_LENGTH,
  ROOM_NAME,
  ROOM_NAME_PROBLEM,
} from './wire/limits.js';

/** A room name field (the wire's ROOM_NAME rule). */
export const IsRoom = (): PropertyDecorator => Matches(ROOM_NAME, { message: ROOM_NAME_PROBLEM });

/** A string of 1..`max` characters. */
export const IsBoundedString = (max: number): PropertyDecorator =>
  applyDecorators(
    Length(1, max, { message: `must be 1..${max} characters` }),
    IsString({ message: 'must be a string' }),
  );

/**
 * An optional string of 1..`max` characters (client ids, epochs). Listed in the order stacked
 * decorators register (bottom first), so error details keep their order.
 */
const IsOptionalString = (max: number): PropertyDecorator =>
  applyDecorators(IsBoundedString(max), IsOptional());

/** A field that may not be given together with `other`. */
function NotWith(other: string): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'notWith',
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [other],
      options: { message: `cannot be combined with ${other}` },
      validator: {
        validate(_value: unknown, args: ValidationArguments): boolean {
          const v = (args.object as Record<string, unknown>)[other];
          return v === undefined || v === null;
        },
      },
    });
}

/** Client frame DTOs; validated by EnvelopePipe. Unknown fields (such as `sender`) are stripped. */
export class JoinDto {
  @IsRoom()
  room!: string;

  @IsOptional()
  @IsInt({ message: 'must be a whole number' })
  @Min(0, { message: 'must be >= 0' })
  since?: number;

  @IsOptionalString(MAX_ID_LENGTH)
  epoch?: string;

  /** The last N messages history holds; `since` and `last` exclude each other. */
  @IsOptional()
  @NotWith('since')
  @IsInt({ message: 'must be a whole number' })
  @Max(MAX_JOIN_LAST, { message: `must be <= ${MAX_JOIN_LAST}` })
  @Min(1, { message: 'must be >= 1' })
  last?: number;
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

  @IsOptionalString(MAX_ID_LENGTH)
  id?: string;
}

export class DirectDto {
  @IsBoundedString(MAX_USER_ID_LENGTH)
  to!: string;

  @IsString({ message: 'must be a string' })
  content!: string;

  @IsOptionalString(MAX_ID_LENGTH)
  id?: string;
}

export class PingDto {
  @IsOptionalString(MAX_ID_LENGTH)
  id?: string;
}

export class AuthDto {
  @IsBoundedString(MAX_TOKEN_LENGTH)
  token!: string;
}
