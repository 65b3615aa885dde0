import { ClientProxyFactory, type RedisOptions, Transport } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { hubPublishChannel } from '../../src/push/hub-publish-channel.js';
import { startApp, type TestApp } from './app.js';
import { deleteKeys, SHARED_REDIS_URL, uniquePrefix } from './redis.js';
import { userToken } from './tokens.js';
import { TestClient } from './ws-client.js';

/** Several gateway instances in this process sharing one Redis under one key prefix. */
export class Cluster {
  readonly prefix = uniquePrefix();
  readonly instances: TestApp[] = [];

  constructor(
    readonly redisUrl = SHARED_REDIS_URL,
    private readonly env: Record<string, string> = {},
  ) {}

  async start(count: number, env: Record<string, string> = {}): Promise<TestApp[]> {
    const started = await Promise.all(
      Array.from({ length: count }, () =>
        startApp({
          REDIS_URL: this.redisUrl,
          REDIS_KEY_PREFIX: this.prefix,
          RATE_LIMIT_PER_SEC: '1000',
          ...this.env,
          ...env,
        }),
      ),
    );
    this.instances.push(...started);
    return started;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.instances.map((t) => t.close()));
    await deleteKeys(this.redisUrl, this.prefix);
  }
}

/** The seqs of a room's `message` frames a client has received. */
export function seqs(c: TestClient, room: string): number[] {
  return c
    .all('message')
    .filter((f) => f.room === room)
    .map((f) => f.seq as number);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** Connects a user (with a display name) to any instance: they all verify the test secret. */
export function connectAs(url: string, user: string, name = user): Promise<TestClient> {
  return TestClient.connect(url, { token: userToken(user, { name }) });
}

/**
 * Asks `issuer` for a WebSocket ticket (POST /api/ws-ticket with `user`'s token) and opens a
 * connection with it on `redeemer`: with tickets in Redis, any instance redeems another's.
 */
export async function connectWithTicket(
  issuer: { httpUrl: string },
  redeemer: { wsUrl: string },
  user: string,
): Promise<TestClient> {
  const res = await fetch(`${issuer.httpUrl}/api/ws-ticket`, {
    method: 'POST',
    headers: { authorization: `Bearer ${userToken(user)}` },
  });
  if (res.status !== 200) throw new Error(`POST /api/ws-ticket answered ${res.status}: ${await res.text()}`);
  const { ticket } = (await res.json()) as { ticket: string };
  return TestClient.connect(`${redeemer.wsUrl}?ticket=${encodeURIComponent(ticket)}`);
}

/**
 * Emits a hub.publish of `id` to `room` (content and sender `svc`) through the Nest Redis transport
 * connected to `redis` (a node, or the sentinels), for the gateways under key prefix `prefix`;
 * `delivered` (the test's wait for the message) runs before the transport closes.
 */
export async function emitHubPublish(
  redis: RedisOptions['options'],
  prefix: string,
  { room, id }: { room: string; id: string },
  delivered: () => Promise<unknown>,
): Promise<void> {
  const proxy = ClientProxyFactory.create({ transport: Transport.REDIS, options: redis });
  try {
    await proxy.connect();
    await lastValueFrom(proxy.emit(hubPublishChannel(prefix), { room, content: 'svc', id, sender: 'svc' }));
    await delivered();
  } finally {
    await proxy.close();
  }
}
