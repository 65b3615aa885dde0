#!/usr/bin/env node
// `npm run token -- --sub svc --scope publish`: mints a JWT the gateway in this directory accepts,
// signed with the key it verifies with: JWT_SECRET (environment, then ./.env), else the development
// secret the gateway keeps in ./.dev-secret; with --key, an RS256/ES256 private key (PEM) matching
// JWT_PUBLIC_KEY. JWT_ISSUER and JWT_AUDIENCE, when set, become iss and aud. The token alone goes to
// stdout (TOKEN=$(npm run -s token -- ...)); what it was signed with goes to stderr.
import { createHmac, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const DEV_SECRET_FILE = '.dev-secret';
const USAGE = `usage: npm run token -- --sub <id> [options]

  --sub <id>         subject: the user or service id (required)
  --scope <s>        scopes, comma- or space-separated ("publish" for POST /api/publish)
  --rooms <a,b>      rooms the token may join or publish to (names or prefix:* patterns)
  --name <name>      display name (default: the sub)
  --exp <seconds>    lifetime in seconds (default 3600)
  --key <file>       RS256/ES256 private key (PEM) instead of the HS256 secret
  --env-file <file>  read settings from this file instead of ./.env

Key: --key, else JWT_SECRET (environment, then ./.env), else ./${DEV_SECRET_FILE} (written by the
gateway at its first start in development).`;

function fail(message) {
  console.error(`token: ${message}`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      sub: { type: 'string' },
      scope: { type: 'string' },
      rooms: { type: 'string' },
      name: { type: 'string' },
      exp: { type: 'string', default: '3600' },
      key: { type: 'string' },
      'env-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
} catch (err) {
  fail(`${err.message}\n${USAGE}`);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

const envFile = args['env-file'] ?? '.env';
if (existsSync(envFile)) process.loadEnvFile(envFile);
else if (args['env-file'] !== undefined) fail(`${envFile}: no such file`);
const env = (name) => {
  const v = process.env[name]?.trim();
  return v ? v : undefined;
};

const sub = args.sub?.trim();
if (!sub || sub.length > 128) fail(`--sub is required (1 to 128 characters)\n${USAGE}`);
if (!/^\d+$/.test(args.exp) || Number(args.exp) < 1)
  fail(`--exp ${args.exp}: expected a whole number of seconds`);
const now = Math.floor(Date.now() / 1000);
const claims = {
  sub,
  name: args.name?.trim() || sub,
  iat: now,
  exp: now + Number(args.exp),
  jti: randomUUID(),
};
if (args.scope !== undefined) {
  const scopes = args.scope.split(/[\s,]+/).filter(Boolean);
  if (scopes.length === 0) fail('--scope is empty');
  claims.scope = scopes.join(' ');
}
if (args.rooms !== undefined) {
  const rooms = args.rooms
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  if (rooms.length === 0) fail('--rooms is empty');
  claims.rooms = rooms;
}
if (env('JWT_ISSUER')) claims.iss = env('JWT_ISSUER');
if (env('JWT_AUDIENCE')) claims.aud = env('JWT_AUDIENCE');

const b64url = (value) => Buffer.from(value).toString('base64url');
let token;
let source;
if (args.key !== undefined) {
  let key;
  try {
    key = createPrivateKey(readFileSync(args.key));
  } catch (err) {
    fail(`--key ${args.key}: not a readable PEM private key (${err.code ?? err.message})`);
  }
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  let alg;
  if (type === 'rsa') alg = 'RS256';
  else if (type === 'ec' && curve === 'prime256v1') alg = 'ES256';
  else fail(`--key ${args.key}: an RSA or P-256 EC key is needed (RS256/ES256), not ${type} ${curve ?? ''}`);
  const configured = env('JWT_ALGORITHM');
  if (configured && configured !== alg) fail(`--key is an ${alg} key but JWT_ALGORITHM=${configured}`);
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  const signature = sign(
    'sha256',
    Buffer.from(input),
    alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key,
  );
  token = `${input}.${signature.toString('base64url')}`;
  source = `${alg} with ${args.key}`;
} else {
  let secret = env('JWT_SECRET');
  source = 'HS256 with JWT_SECRET';
  if (!secret) {
    if (env('JWT_PUBLIC_KEY')) {
      fail('JWT_PUBLIC_KEY is set: the gateway verifies RS256/ES256; pass --key <private key PEM>');
    }
    if (env('NODE_ENV') === 'production') fail('NODE_ENV=production needs JWT_SECRET (or --key)');
    if (!existsSync(DEV_SECRET_FILE)) {
      fail(
        `no key: set JWT_SECRET, or start the gateway once here in development (npm start) so that it writes ${DEV_SECRET_FILE}`,
      );
    }
    secret = readFileSync(DEV_SECRET_FILE, 'utf8').trim();
    if (secret.length < 32)
      fail(`${DEV_SECRET_FILE}: too short to be the gateway's secret; delete it and restart`);
    source = `HS256 with the development secret in ${DEV_SECRET_FILE}`;
  }
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  token = `${input}.${createHmac('sha256', Buffer.from(secret)).update(input).digest('base64url')}`;
}

console.error(
  `token: sub=${sub}${claims.scope ? ` scope="${claims.scope}"` : ''}${claims.rooms ? ` rooms=${claims.rooms.join(',')}` : ''}, expires in ${args.exp} s, signed ${source}`,
);
console.log(token);
