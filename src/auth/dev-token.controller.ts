import {
  Body,
  Controller,
  HttpCode,
  Inject,
  NotFoundException,
  Post,
  UsePipes,
  ValidationPipe,
} from '@nestjs/common';
import { IsString, Length, Matches } from 'class-validator';
import { createHash } from 'node:crypto';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { JwtVerifier } from './jwt-verifier.js';

export class DevTokenRequest {
  @IsString()
  @Length(1, 32)
  @Matches(/^[^\p{C}]+$/u, { message: 'name must not contain control characters' })
  name!: string;
}

/**
 * POST /auth/dev-token {name} -> {token}. Only in development mode (NODE_ENV=development, unless
 * AUTH_DEV_TOKENS=false); otherwise the route answers 404 as if it did not exist. `sub` is derived from the name so that the
 * same name is the same user across reconnects (several tabs are one member).
 */
@Controller('auth')
@UsePipes(new ValidationPipe({ whitelist: true }))
export class DevTokenController {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly jwt: JwtVerifier,
  ) {}

  @Post('dev-token')
  @HttpCode(200)
  issue(@Body() body: DevTokenRequest): { token: string; sub: string; expiresIn: number } {
    if (!this.config.devTokens) throw new NotFoundException();
    const name = body.name.trim();
    const sub = 'dev-' + createHash('sha256').update(name.toLowerCase()).digest('hex').slice(0, 16);
    return { token: this.jwt.signDevToken(sub, name), sub, expiresIn: this.config.devTokenTtlSec };
  }
}
