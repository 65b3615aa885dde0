import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { EVENT_TYPES } from '../events/events.js';
import { DEV_SECRET_FILE, type DevSecret, loadDevSecret, randomDevSecret } from './dev-secret.js';

/**
 * Every setting of the service, read once from the environment and validated at boot.
 * Nothing else in the code reads process.env. `.env.example` documents each variable.
 */
/** The only NODE_ENV values accepted; anything else stops the process at boot. */
export const NODE_ENVS = ['development', 'production', 'test'] as const;

export interface GatewayConfig {
  readonly nodeEnv: (typeof NODE_ENVS)[number];
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';

  readonly jwt: {
    readonly algorithm: 'HS256' | 'RS256' | 'ES256';
    /** HS256 secret or PEM public key. */
    readonly verifyKey: string;
    /** Key dev tokens are signed with (HS256 only); undefined when dev tokens cannot be minted. */
    readonly signKey?: string;
    /** No key configured: a development secret is in use (`devSecret` says where it lives). */
    readonly secretGenerated: boolean;
    /** With `secretGenerated`: the git-ignored file holding it, and whether this start created it. */
    readonly devSecret?: { readonly file?: string; readonly created: boolean };
    readonly issuer?: string;
    readonly audience?: string;
    readonly clockToleranceSec: number;
  };
  /** POST /auth/dev-token: only in development mode (AUTH_DEV_TOKENS=false turns it off there). */
  readonly devTokens: boolean;
  readonly devTokenTtlSec: number;
  /** Lifetime of a WebSocket ticket (POST /api/ws-ticket), seconds, at most 30. */
  readonly wsTicketTtlSec: number;

  readonly allowedOrigins: readonly string[] | null;
  readonly trustProxy: boolean;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly maxConnectionsPerUser: number;
  readonly headerTimeoutMs: number;

  readonly maxMessageBytes: number;
  readonly maxContentLength: number;
  readonly ratePerSec: number;
  /**
   * INBOUND_MAX_PENDING: client frames of this instance whose handling waits (Redis, a hook); past
   * it, a connection that sends another is not read until half are answered (inbound-limit.ts).
   */
  readonly inboundMaxPending: number;
  readonly sendQueueMessages: number;
  readonly sendQueueBytes: number;
  readonly heartbeatMs: number;
  readonly closeTimeoutMs: number;
  readonly errorLimit: number;
  readonly errorWindowMs: number;
  readonly perMessageDeflate: boolean;

  readonly historySize: number;
  /** Memory mode: a room with no member and no publication for this long is freed (0: never). */
  readonly roomIdleTtlSec: number;
  /** Memory mode: cap on the history of all rooms, in estimated bytes (0: none). */
  readonly historyMaxBytes: number;
  readonly dedupWindowMs: number;
  readonly presenceMaxMembers: number;
  readonly maxRoomsPerConnection: number;
  /** History messages a connection may have replayed (`join` with `since`/`last`) per window. */
  readonly replayBudgetMessages: number;
  readonly replayBudgetWindowMs: number;

  readonly redisUrl?: string;
  /**
   * REDIS_SENTINELS + REDIS_SENTINEL_MASTER (+ REDIS_SENTINEL_PASSWORD, REDIS_PASSWORD): every
   * connection asks the sentinels for the master and follows a failover. Replaces REDIS_URL.
   */
  readonly redisSentinel?: RedisSentinelConfig;
  /**
   * REDIS_CLUSTER_NODES (+ REDIS_PASSWORD): every connection is a Redis Cluster client (slots,
   * MOVED/ASK, failovers followed); fan-out over sharded pub/sub. Replaces REDIS_URL.
   */
  readonly redisCluster?: RedisClusterConfig;
  /** REDIS_MIN_REPLICAS: a publish is acked only once WAIT saw this many replicas have it (0 = off). */
  readonly redisMinReplicas: number;
  /** REDIS_WAIT_MS: how long a publish waits for those replicas before it answers `unavailable`. */
  readonly redisWaitMs: number;
  /** Prefix of every Redis key and channel (several deployments can share one Redis). */
  readonly redisKeyPrefix: string;
  /** A Redis command without a reply within this time fails (error `unavailable`). */
  readonly redisCommandTimeoutMs: number;
  /** Room keys (seq, epoch, history) expire after this long without a publish or join; 0 = never. */
  readonly redisRoomTtlSec: number;
  /** A crashed instance's presence entries vanish within this time (entries are refreshed every third). */
  readonly presenceTtlMs: number;
  readonly shutdownGraceMs: number;

  // ---- events and webhooks ---------------------------------------------------------------------
  /** PRESENCE_GRACE_MS: a user's (or room member's) departure is announced only after this long without a return. */
  readonly presenceGraceMs: number;
  /** EVENTS_MAXLEN: the event stream is trimmed to about this many entries (with REDIS_URL); 0: no stream. */
  readonly eventsMaxlen: number;
  /** WEBHOOK_*: undefined when WEBHOOK_URL is not set. */
  readonly webhook?: WebhookConfig;
  // ---- end of events and webhooks --------------------------------------------------------------

  // ---- push API and operations -----------------------------------------------------------------
  /** PUBLISH_MAX_BODY_BYTES: largest POST /api/publish body; a larger one is answered 413. */
  readonly publishMaxBodyBytes: number;
  /** SERVICE_RATE_LIMIT_PER_SEC: publish requests per second per service (token bucket, same burst). */
  readonly serviceRatePerSec: number;
  /**
   * TOKEN_MAX_LIFETIME_SEC: the longest a token lives (exp - iat); a revocation of a user's tokens is
   * kept this long after its `until`.
   */
  readonly tokenMaxLifetimeSec: number;
  /** DRAIN_SPREAD_MS: on SIGTERM, sockets are closed 1001 at random times within this window. */
  readonly drainSpreadMs: number;
  /** TLS_CERT_FILE / TLS_KEY_FILE: serve HTTPS/WSS directly (both or neither). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** METRICS_TOKEN: when set, GET /metrics wants `Authorization: Bearer <it>` (401 otherwise). */
  readonly metricsToken?: string;
  // ---- end of push API and operations ----------------------------------------------------------

  // ---- hooks -----------------------------------------------------------------------------------
  /** HOOK_URL, HOOKS, HOOK_SECRET, HOOK_TIMEOUT_MS, HOOK_FAIL_OPEN, HOOK_PUBLISH_BATCH,
   *  HOOK_PUBLISH_MAX_PENDING. */
  readonly hooks: HookSettings;
  // ---- end of hooks ----------------------------------------------------------------------------
}

export interface RedisSentinelConfig {
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  /** The master's name in the sentinels' `sentinel monitor <name> ...`. */
  readonly masterName: string;
  readonly sentinelPassword?: string;
  /** Password of the master and replicas (the sentinels' is sentinelPassword). */
  readonly password?: string;
}

export interface RedisClusterConfig {
  /** Startup nodes: any reachable one tells the client the rest of the cluster. */
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  /** Password of every node. */
  readonly password?: string;
}

/** Whether the cluster seams run over Redis (REDIS_URL, Sentinel or Cluster) rather than in memory. */
export function usesRedis(config: GatewayConfig): boolean {
  return (
    config.redisUrl !== undefined || config.redisSentinel !== undefined || config.redisCluster !== undefined
  );
}

export interface WebhookConfig {
  readonly url: string;
  /** HMAC-SHA256 key of X-Gateway-Signature. Never logged. */
  readonly secret: string;
  /** The event types delivered (WEBHOOK_EVENTS). */
  readonly events: readonly string[];
  /** Events per POST at most. */
  readonly batch: number;
  /** How long a batch waits to fill up. */
  readonly batchMs: number;
  readonly timeoutMs: number;
  /** A batch is retried (capped exponential backoff, jitter) for up to this long, then dropped. */
  readonly maxRetrySec: number;
  /** Events held for delivery at most; beyond it the oldest are dropped (counted, logged). */
  readonly buffer: number;
}

/** The hooks: HTTP ones (`POST ${url}/connect|join|publish`, signed with `secret`) or in process. */
export interface HookSettings {
  /** HOOK_URL: the HTTP hooks' base URL; undefined = no HTTP hooks. */
  readonly url?: string;
  /** HOOKS: which hooks the backend at `url` answers. */
  readonly enabled: readonly HookName[];
  /** HOOK_SECRET: the key of the X-Gateway-Signature HMAC. */
  readonly secret: string;
  /** HOOK_TIMEOUT_MS: an HTTP hook without an answer within this time has failed. */
  readonly timeoutMs: number;
  /** HOOK_FAIL_OPEN: a failed hook allows (true) or refuses as unavailable (false). */
  readonly failOpen: boolean;
  /**
   * HOOK_PUBLISH_BATCH: publish hook calls per HTTP request at most. 1 (or 0): one
   * `POST ${url}/publish` per message; more: the calls of one event-loop turn go together to
   * `POST ${url}/publish/batch`, split past this many.
   */
  readonly publishBatch: number;
  /**
   * HOOK_PUBLISH_MAX_PENDING: a connection's messages waiting for the publish hook (HTTP or in
   * process) beyond which the next is answered `rate_limited`.
   */
  readonly publishMaxPending: number;
}

export const HOOK_NAMES = ['connect', 'join', 'publish'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  int(name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(name);
    if (v === undefined) return def;
    if (!/^\d+$/.test(v)) {
      this.problems.push(`${name}=${JSON.stringify(v)}: expected a whole number between ${min} and ${max}`);
      return def;
    }
    const n = Number(v);
    if (n < min || n > max) {
      this.problems.push(`${name}=${v}: expected a whole number between ${min} and ${max}`);
      return def;
    }
    return n;
  }

  bool(name: string, def: boolean): boolean {
    const v = this.raw(name)?.toLowerCase();
    if (v === undefined) return def;
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    this.problems.push(`${name}=${JSON.stringify(v)}: expected true or false`);
    return def;
  }

  oneOf<T extends string>(name: string, def: T, values: readonly T[]): T {
    const v = this.raw(name);
    if (v === undefined) return def;
    if (!(values as readonly string[]).includes(v)) {
      this.problems.push(`${name}=${JSON.stringify(v)}: expected one of ${values.join(', ')}`);
      return def;
    }
    return v as T;
  }
}

/** A comma list of host:port (REDIS_SENTINELS, REDIS_CLUSTER_NODES); bad items are problems. */
function hostPorts(r: Reader, name: string, list: string, example: string): { host: string; port: number }[] {
  const out: { host: string; port: number }[] = [];
  for (const item of list.split(',').map((s) => s.trim())) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) {
      r.problems.push(`${name}: ${JSON.stringify(item)} is not host:port (e.g. ${example})`);
      continue;
    }
    out.push({ host: m[1].replace(/^\[(.*)\]$/, '$1'), port });
  }
  return out;
}

/** REDIS_SENTINELS (host:port,...) with REDIS_SENTINEL_MASTER; they replace REDIS_URL. */
function redisSentinel(r: Reader): RedisSentinelConfig | undefined {
  const list = r.raw('REDIS_SENTINELS');
  const masterName = r.raw('REDIS_SENTINEL_MASTER');
  const sentinelPassword = r.raw('REDIS_SENTINEL_PASSWORD');
  const password = r.raw('REDIS_PASSWORD');
  if (list === undefined) {
    if (masterName !== undefined) r.problems.push('REDIS_SENTINEL_MASTER: set REDIS_SENTINELS as well');
    if (sentinelPassword !== undefined) r.problems.push('REDIS_SENTINEL_PASSWORD: only with REDIS_SENTINELS');
    if (password !== undefined && r.raw('REDIS_CLUSTER_NODES') === undefined)
      r.problems.push(
        'REDIS_PASSWORD: only with REDIS_SENTINELS or REDIS_CLUSTER_NODES (with REDIS_URL, put it in the URL)',
      );
    return undefined;
  }
  const sentinels = hostPorts(r, 'REDIS_SENTINELS', list, '10.0.0.5:26379');
  if (masterName === undefined) {
    r.problems.push('REDIS_SENTINELS: set REDIS_SENTINEL_MASTER too (the name the sentinels monitor)');
  }
  if (r.raw('REDIS_URL') !== undefined) {
    r.problems.push('REDIS_URL and REDIS_SENTINELS: set one (Sentinel mode finds the master itself)');
  }
  return {
    sentinels,
    masterName: masterName ?? '',
    ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}

/** REDIS_CLUSTER_NODES (host:port,...), with REDIS_PASSWORD: Redis Cluster; replaces REDIS_URL. */
function redisCluster(r: Reader): RedisClusterConfig | undefined {
  const list = r.raw('REDIS_CLUSTER_NODES');
  if (list === undefined) return undefined;
  const nodes = hostPorts(r, 'REDIS_CLUSTER_NODES', list, '10.0.0.5:6379');
  if (r.raw('REDIS_URL') !== undefined) {
    r.problems.push('REDIS_URL and REDIS_CLUSTER_NODES: set one (Cluster mode finds every node itself)');
  }
  if (r.raw('REDIS_SENTINELS') !== undefined) {
    r.problems.push(
      'REDIS_SENTINELS and REDIS_CLUSTER_NODES: set one (a Redis Cluster fails over by itself, without sentinels)',
    );
  }
  if (/[{}]/.test(r.raw('REDIS_KEY_PREFIX') ?? '')) {
    r.problems.push(
      'REDIS_KEY_PREFIX with REDIS_CLUSTER_NODES: no braces (a {hash tag} in the prefix would put every key in one slot)',
    );
  }
  const password = r.raw('REDIS_PASSWORD');
  return { nodes, ...(password !== undefined ? { password } : {}) };
}

// ---- push API and operations ---------------------------------------------------------------------
/** TLS_CERT_FILE and TLS_KEY_FILE: both or neither, each a readable file. */
function tlsFiles(r: Reader): { certFile: string; keyFile: string } | undefined {
  const certFile = r.raw('TLS_CERT_FILE');
  const keyFile = r.raw('TLS_KEY_FILE');
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) {
    r.problems.push('TLS_CERT_FILE and TLS_KEY_FILE: set both (PEM files) or neither');
    return undefined;
  }
  for (const [name, file] of [
    ['TLS_CERT_FILE', certFile],
    ['TLS_KEY_FILE', keyFile],
  ] as const) {
    if (!existsSync(file)) r.problems.push(`${name}=${file}: no such file`);
  }
  return { certFile, keyFile };
}
// ---- end of push API and operations -------------------------------------------------------------

// ---- events and webhooks ---------------------------------------------------------------------------

/** WEBHOOK_URL with its secret and delivery settings, or undefined without a URL. */
function webhookSettings(r: Reader): WebhookConfig | undefined {
  const url = r.raw('WEBHOOK_URL');
  const secret = r.raw('WEBHOOK_SECRET');
  const list = (r.raw('WEBHOOK_EVENTS') ?? 'message,online,offline,joined,left')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = list.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (unknown.length > 0) {
    r.problems.push(
      `WEBHOOK_EVENTS: unknown type(s) ${unknown.join(', ')}; expected ${EVENT_TYPES.join(', ')}`,
    );
  }
  const settings = {
    batch: r.int('WEBHOOK_BATCH', 100, 1, 10000),
    batchMs: r.int('WEBHOOK_BATCH_MS', 100, 0, 60000),
    timeoutMs: r.int('WEBHOOK_TIMEOUT_MS', 5000, 100, 120000),
    maxRetrySec: r.int('WEBHOOK_MAX_RETRY_SEC', 3600, 0, 7 * 24 * 3600),
    buffer: r.int('WEBHOOK_BUFFER', 100000, 1, 10000000),
  };
  if (!url) {
    if (secret) r.problems.push('WEBHOOK_SECRET is set without WEBHOOK_URL');
    return undefined;
  }
  if (!/^https?:\/\/[^/]/.test(url)) r.problems.push('WEBHOOK_URL: expected http://… or https://…');
  if (!secret) {
    r.problems.push('WEBHOOK_URL needs WEBHOOK_SECRET (the key of X-Gateway-Signature)');
    return undefined;
  }
  return { url, secret, events: list, ...settings };
}
// ---- end of events and webhooks -----------------------------------------------------------------

// ---- hooks ---------------------------------------------------------------------------------------
/** HOOK_PUBLISH_BATCH at most (a batch is one request body, held whole by both sides). */
const MAX_PUBLISH_BATCH = 1000;

/** HOOK_URL with HOOKS and HOOK_SECRET, or none of them. */
function hookSettings(r: Reader, production: boolean): HookSettings {
  const url = r.raw('HOOK_URL');
  const list = r.raw('HOOKS');
  const secret = r.raw('HOOK_SECRET');
  const timeoutMs = r.int('HOOK_TIMEOUT_MS', 2000, 10, 60000);
  const failOpen = r.bool('HOOK_FAIL_OPEN', false);
  const publishBatch = Math.max(1, r.int('HOOK_PUBLISH_BATCH', 1, 0, MAX_PUBLISH_BATCH));
  const publishMaxPending = r.int('HOOK_PUBLISH_MAX_PENDING', 16, 1, 10000);
  if (url === undefined) {
    if (list !== undefined) r.problems.push('HOOKS is set but HOOK_URL is not: set both or neither');
    return { enabled: [], secret: '', timeoutMs, failOpen, publishBatch, publishMaxPending };
  }
  if (!/^https?:\/\/[^/]/.test(url)) {
    r.problems.push(`HOOK_URL=${JSON.stringify(url)}: expected http://host[:port][/path] or https://…`);
  }
  const enabled = (list ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  if (enabled.length === 0) {
    r.problems.push(`HOOKS: name the hooks HOOK_URL answers, comma-separated: ${HOOK_NAMES.join(', ')}`);
  }
  for (const h of enabled) {
    if (!(HOOK_NAMES as readonly string[]).includes(h)) {
      r.problems.push(`HOOKS: unknown hook ${JSON.stringify(h)} (expected ${HOOK_NAMES.join(', ')})`);
    }
  }
  if (secret === undefined)
    r.problems.push('HOOK_URL needs HOOK_SECRET (the key hook requests are signed with)');
  else if (production && secret.length < 32)
    r.problems.push('HOOK_SECRET: at least 32 characters in production');
  return {
    url: url.replace(/\/+$/, ''),
    enabled: [...new Set(enabled)] as HookName[],
    secret: secret ?? '',
    timeoutMs,
    failOpen,
    publishBatch,
    publishMaxPending,
  };
}
// ---- end of hooks --------------------------------------------------------------------------------

export interface LoadConfigOptions {
  /**
   * Where a development secret is kept when no key is configured, so that tokens survive restarts;
   * null keeps it in memory only. Default: ./.dev-secret when reading the process's own environment
   * (the default `env`) with NODE_ENV development (or unset); in memory with NODE_ENV=test or for an
   * explicit `env` object (unit tests).
   */
  readonly devSecretFile?: string | null;
}

/** Reads and validates the configuration; throws one ConfigError naming every bad value. */
export function loadConfig(env: Env = process.env, options: LoadConfigOptions = {}): GatewayConfig {
  const r = new Reader(env);
  const nodeEnv = r.oneOf('NODE_ENV', 'development', NODE_ENVS);
  const production = nodeEnv === 'production';

  const secret = r.raw('JWT_SECRET');
  const publicKey = r.raw('JWT_PUBLIC_KEY')?.replace(/\\n/g, '\n');
  if (secret && publicKey) r.problems.push('JWT_SECRET and JWT_PUBLIC_KEY: set one, not both');
  if (production && !secret && !publicKey) {
    r.problems.push('NODE_ENV=production needs JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256/ES256)');
  }
  if (secret && production && secret.length < 32) {
    r.problems.push('JWT_SECRET: at least 32 characters in production');
  }
  if (publicKey) {
    try {
      createPublicKey(publicKey);
    } catch {
      r.problems.push(
        'JWT_PUBLIC_KEY: not a PEM public key (-----BEGIN PUBLIC KEY-----); \\n escapes are accepted',
      );
    }
  }
  const algorithm = publicKey
    ? r.oneOf('JWT_ALGORITHM', 'RS256', ['RS256', 'ES256'] as const)
    : r.oneOf('JWT_ALGORITHM', 'HS256', ['HS256'] as const);
  const secretGenerated = !secret && !publicKey;
  let devSecret: DevSecret | undefined;
  if (secretGenerated && !production) {
    // Kept on disk only in development proper: NODE_ENV=test (the test harnesses) gets a fresh
    // secret per process, as a restart with a new key is something tests exercise.
    const file =
      options.devSecretFile === undefined
        ? env === process.env && nodeEnv === 'development'
          ? DEV_SECRET_FILE
          : null
        : options.devSecretFile;
    try {
      devSecret = file === null ? randomDevSecret() : loadDevSecret(file);
    } catch (err) {
      r.problems.push((err as Error).message);
    }
  }
  const hsKey = secret ?? devSecret?.secret;

  // Dev tokens open every room to anyone: they exist in development mode only, whatever
  // AUTH_DEV_TOKENS says in the other modes (there it can only turn them off).
  const development = (r.raw('NODE_ENV') ?? 'development') === 'development';
  const devTokens = r.bool('AUTH_DEV_TOKENS', true) && development;
  if (devTokens && publicKey) {
    r.problems.push('AUTH_DEV_TOKENS=true needs an HS256 JWT_SECRET (a public key cannot sign tokens)');
  }

  const origins = r.raw('ALLOWED_ORIGINS');
  const allowedOrigins = origins
    ? origins
        .split(',')
        .map((o) => o.trim().replace(/\/$/, ''))
        .filter(Boolean)
    : null;

  const logLevel = r.oneOf('LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error', 'silent'] as const);

  const config: GatewayConfig = {
    nodeEnv,
    production,
    port: r.int('PORT', 8080, 0, 65535),
    // Loopback unless production: dev tokens are on in development, and anyone who can reach the
    // port could mint one. The Docker image sets HOST=0.0.0.0 (and NODE_ENV=production).
    host: r.raw('HOST') ?? (production ? '0.0.0.0' : '127.0.0.1'),
    logLevel,
    jwt: {
      algorithm,
      verifyKey: publicKey ?? hsKey ?? '',
      signKey: publicKey ? undefined : hsKey,
      secretGenerated,
      ...(devSecret ? { devSecret: { file: devSecret.file, created: devSecret.created } } : {}),
      issuer: r.raw('JWT_ISSUER'),
      audience: r.raw('JWT_AUDIENCE'),
      clockToleranceSec: r.int('JWT_CLOCK_TOLERANCE_SEC', 5, 0, 300),
    },
    devTokens,
    devTokenTtlSec: r.int('DEV_TOKEN_TTL_SEC', 3600, 10, 7 * 24 * 3600),
    wsTicketTtlSec: r.int('WS_TICKET_TTL_SEC', 30, 1, 30),
    allowedOrigins,
    trustProxy: r.bool('TRUST_PROXY', false),
    maxConnections: r.int('MAX_CONNECTIONS', 100000, 0),
    maxConnectionsPerIp: r.int('MAX_CONNECTIONS_PER_IP', 1000, 0),
    maxConnectionsPerUser: r.int('MAX_CONNECTIONS_PER_USER', 20, 0),
    headerTimeoutMs: r.int('HEADER_TIMEOUT_MS', 10000, 100, 120000),
    maxMessageBytes: r.int('MAX_MESSAGE_BYTES', 8192, 256, 16 * 1024 * 1024),
    maxContentLength: r.int('MAX_CONTENT_LENGTH', 1000, 1, 1024 * 1024),
    ratePerSec: r.int('RATE_LIMIT_PER_SEC', 10, 1),
    inboundMaxPending: r.int('INBOUND_MAX_PENDING', 1024, 2, 1_000_000),
    sendQueueMessages: r.int('SEND_QUEUE_MESSAGES', 256, 1),
    sendQueueBytes: r.int('SEND_QUEUE_BYTES', 1024 * 1024, 1024),
    heartbeatMs: r.int('HEARTBEAT_MS', 30000, 100, 3600000),
    closeTimeoutMs: r.int('CLOSE_TIMEOUT_MS', 3000, 100, 60000),
    errorLimit: r.int('ERROR_LIMIT', 20, 1),
    errorWindowMs: r.int('ERROR_WINDOW_MS', 10000, 100),
    perMessageDeflate: r.bool('PER_MESSAGE_DEFLATE', false),
    historySize: r.int('HISTORY_SIZE', 100, 0, 100000),
    roomIdleTtlSec: r.int('ROOM_IDLE_TTL_SEC', 3600, 0),
    historyMaxBytes: r.int('HISTORY_MAX_BYTES', 256 * 1024 * 1024, 0),
    dedupWindowMs: r.int('DEDUP_WINDOW_MS', 120000, 0),
    presenceMaxMembers: r.int('PRESENCE_MAX_MEMBERS', 1000, 0),
    maxRoomsPerConnection: r.int('MAX_ROOMS_PER_CONNECTION', 100, 1),
    replayBudgetMessages: r.int('REPLAY_BUDGET_MESSAGES', 5000, 1),
    replayBudgetWindowMs: r.int('REPLAY_BUDGET_WINDOW_MS', 60000, 100, 3600000),
    redisUrl: r.raw('REDIS_URL'),
    redisSentinel: redisSentinel(r),
    redisCluster: redisCluster(r),
    redisMinReplicas: r.int('REDIS_MIN_REPLICAS', 0, 0, 100),
    redisWaitMs: r.int('REDIS_WAIT_MS', 1000, 1, 60000),
    redisKeyPrefix: r.raw('REDIS_KEY_PREFIX') ?? 'gw:',
    redisCommandTimeoutMs: r.int('REDIS_COMMAND_TIMEOUT_MS', 2000, 50, 60000),
    redisRoomTtlSec: r.int('REDIS_ROOM_TTL_SEC', 86400, 0),
    presenceTtlMs: r.int('PRESENCE_TTL_MS', 30000, 300, 3600000),
    shutdownGraceMs: r.int('SHUTDOWN_GRACE_MS', 10000, 0, 600000),

    // ---- events and webhooks -------------------------------------------------------------------
    presenceGraceMs: r.int('PRESENCE_GRACE_MS', 5000, 0, 3600000),
    eventsMaxlen: r.int('EVENTS_MAXLEN', 1000000, 0),
    webhook: webhookSettings(r),
    // ---- end of events and webhooks ------------------------------------------------------------

    // ---- push API and operations ---------------------------------------------------------------
    publishMaxBodyBytes: r.int('PUBLISH_MAX_BODY_BYTES', 64 * 1024, 256, 16 * 1024 * 1024),
    serviceRatePerSec: r.int('SERVICE_RATE_LIMIT_PER_SEC', 100, 1),
    tokenMaxLifetimeSec: r.int('TOKEN_MAX_LIFETIME_SEC', 86400, 60, 31536000),
    drainSpreadMs: r.int('DRAIN_SPREAD_MS', 2000, 0, 600000),
    tls: tlsFiles(r),
    metricsToken: r.raw('METRICS_TOKEN'),
    // ---- end of push API and operations --------------------------------------------------------

    hooks: hookSettings(r, production),
  };
  if (usesRedis(config) && config.webhook && config.eventsMaxlen === 0) {
    r.problems.push(
      'WEBHOOK_URL with REDIS_URL: webhooks are fed from the event stream; EVENTS_MAXLEN=0 turns it off',
    );
  }
  if (config.redisUrl && !/^rediss?:\/\//.test(config.redisUrl)) {
    r.problems.push(`REDIS_URL: expected redis://host:port or rediss://…`);
  }
  if (config.redisMinReplicas > 0 && !usesRedis(config)) {
    r.problems.push('REDIS_MIN_REPLICAS: needs REDIS_URL or REDIS_SENTINELS (replicas of a Redis)');
  }
  if (config.redisMinReplicas > 0 && config.redisCluster !== undefined) {
    r.problems.push(
      'REDIS_MIN_REPLICAS with REDIS_CLUSTER_NODES: not supported (WAIT per shard is not implemented); use 0',
    );
  }
  if (config.metricsToken !== undefined && config.metricsToken.length < 16) {
    r.problems.push('METRICS_TOKEN: at least 16 characters (or unset: /metrics open to whoever reaches it)');
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return Object.freeze(config);
}
