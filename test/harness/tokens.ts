import jwt from 'jsonwebtoken';

/** The HS256 secret every test gateway (in-process or child) verifies with. */
export const TEST_SECRET = 'test-secret-that-is-long-enough-for-production-0123456789';

export interface SignOptions extends jwt.SignOptions {
  /** The signing key (default TEST_SECRET): another secret, a PEM private key, '' for alg none. */
  key?: jwt.Secret;
}

/**
 * The one JWT signer of the tests: signs `claims` as given (HS256 with TEST_SECRET unless told),
 * adding nothing but jsonwebtoken's `iat`. Malformed, foreign or expired tokens are made here too.
 */
export function signToken(claims: Record<string, unknown>, options: SignOptions = {}): string {
  const { key = TEST_SECRET, ...rest } = options;
  return jwt.sign(claims, key, { algorithm: 'HS256', ...rest });
}

/** An end-user token `{sub, name: sub, ...claims}`, valid for an hour unless `claims.exp` says otherwise. */
export function userToken(
  sub: string,
  claims: Record<string, unknown> = {},
  options: SignOptions = {},
): string {
  return signToken(
    { sub, name: sub, ...claims },
    { ...(claims.exp === undefined ? { expiresIn: 3600 } : {}), ...options },
  );
}

/** A service token for the push API (scope "publish"), valid for an hour. */
export function serviceToken(
  sub = 'billing',
  claims: Record<string, unknown> = {},
  options: SignOptions = {},
): string {
  return signToken(
    { sub, scope: 'publish', ...claims },
    { ...(claims.exp === undefined ? { expiresIn: 3600 } : {}), ...options },
  );
}
