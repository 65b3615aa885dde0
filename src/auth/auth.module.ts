import { Module } from '@nestjs/common';
import { DevTokenController } from './dev-token.controller.js';
import { HandshakeAuthenticator } from './handshake-authenticator.js';
import { JwtVerifier } from './jwt-verifier.js';

@Module({
  controllers: [DevTokenController],
  providers: [JwtVerifier, HandshakeAuthenticator],
  exports: [JwtVerifier, HandshakeAuthenticator],
})
export class AuthModule {}
