import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Conditions } from '../harness/index.js';

/** The secret the hook specs' gateways sign with and their backends check (HOOK_SECRET). */
export const HOOK_SECRET = 'hook-secret-for-the-tests-0123456789abcdef';

/** One request the backend received, with its signature checked here, independently of the gateway's code. */
export interface HookCall {
  hook: string;
  body: any;
  signed: boolean;
  timestamp: number;
  /** For a request that came inside `POST /publish/batch` (hook `publish`): that batch's call. */
  batch?: HookCall;
}

/** What the backend does with a request: answer (status and JSON), or never answer (`hang`). */
export type HookAnswer = { status?: number; json?: unknown; delayMs?: number } | 'hang';
export type HookRule = (call: HookCall) => HookAnswer | Promise<HookAnswer>;

/**
 * A real HTTP hook backend for the tests: verifies X-Gateway-Signature on the raw body the way
 * docs/operations.md tells backends to, records every call, and answers by `rule` (which a test
 * may replace). Hung requests are answered 500 on `release()` or destroyed on `close()`.
 *
 * `POST /publish/batch` is recorded as a `publish/batch` call and each of its requests as a
 * `publish` call (with `batch` set), and answered by `batchRule`: by default each request by
 * `rule`, in order, as `{results: [...]}` (any `hang` hangs the batch, the longest delay delays it,
 * the first non-2xx status is the batch's).
 */
export class HookBackend {
  readonly calls: HookCall[] = [];
  /** Connections the gateway opened to this backend so far (keep-alive reuses them). */
  connections = 0;
  rule: HookRule = () => ({ json: { allow: true } });
  batchRule: HookRule = (call) => this.answerEach(call);
  private readonly conditions = new Conditions();
  private readonly hung = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    readonly secret: string,
  ) {}

  static async start(secret = HOOK_SECRET): Promise<HookBackend> {
    let backend: HookBackend | null = null;
    const server = createServer((req, res) => void backend!.handle(req, res));
    backend = new HookBackend(server, secret);
    server.on('connection', (s: Socket) => {
      backend.sockets.add(s);
      backend.connections++;
      s.on('close', () => backend.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return backend;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  /** A gateway's environment for calling this backend with `hooks` (HOOKS), `extra` on top. */
  env(hooks: string, extra: Record<string, string> = {}): Record<string, string> {
    return { HOOK_URL: this.url, HOOKS: hooks, HOOK_SECRET: this.secret, ...extra };
  }

  callsOf(hook: string, match: (c: HookCall) => boolean = () => true): HookCall[] {
    return this.calls.filter((c) => c.hook === hook && match(c));
  }

  /** Waits until `count` calls of `hook` (that `match` accepts) have arrived. */
  async waitForCalls(
    hook: string,
    count: number,
    match: (c: HookCall) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<HookCall[]> {
    await this.conditions.waitFor(
      `${count} ${hook} hook calls`,
      () => this.callsOf(hook, match).length >= count,
      timeoutMs,
      () =>
        `calls so far: ${JSON.stringify(this.calls.slice(-8).map((c) => [c.hook, c.body.id ?? c.body.room ?? c.body.user?.id, c.signed]))}`,
    );
    return this.callsOf(hook, match);
  }

  /** Answers every hung request (by default 500: nothing waits for the gateway's timeout). */
  release(status = 500, json: unknown = {}): void {
    for (const res of this.hung)
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    this.hung.clear();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.release();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Each request of a batch answered by `rule`, as `{results}` in the same order (the default `batchRule`). */
  async answerEach(call: HookCall): Promise<HookAnswer> {
    const answers = await Promise.all(
      (call.body.requests as unknown[]).map(async (body) =>
        this.rule({ hook: 'publish', body, signed: call.signed, timestamp: call.timestamp, batch: call }),
      ),
    );
    const given = answers.filter((a) => a !== 'hang');
    if (given.length < answers.length) return 'hang';
    return {
      status: given.find((a) => (a.status ?? 200) !== 200)?.status,
      delayMs: Math.max(0, ...given.map((a) => a.delayMs ?? 0)),
      json: { results: given.map((a) => a.json) },
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const ts = String(req.headers['x-gateway-timestamp'] ?? '');
    const sig = String(req.headers['x-gateway-signature'] ?? '');
    const expected = 'sha256=' + createHmac('sha256', this.secret).update(`${ts}.`).update(raw).digest('hex');
    const signed = sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
    const call: HookCall = {
      hook: (req.url ?? '').replace(/^\/hooks\//, ''),
      body: JSON.parse(raw.toString()),
      signed,
      timestamp: Number(ts),
    };
    this.calls.push(call);
    const batched = call.hook === 'publish/batch' && Array.isArray(call.body?.requests);
    if (batched)
      for (const body of call.body.requests as unknown[])
        this.calls.push({ hook: 'publish', body, signed, timestamp: call.timestamp, batch: call });
    this.conditions.poke();
    if (!signed) {
      res.writeHead(401).end();
      return;
    }
    const answer = await (batched ? this.batchRule(call) : this.rule(call));
    if (answer === 'hang') {
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }
    const reply = () => {
      const body = JSON.stringify(answer.json ?? {});
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' }).end(body);
    };
    if (!answer.delayMs) return reply();
    const t = setTimeout(() => {
      this.timers.delete(t);
      reply();
    }, answer.delayMs);
    this.timers.add(t);
  }
}

/**
 * The publish hook's decision on `content` that the specs' backends share: `badword` is denied (code
 * profanity), `slow:<ms>` allowed after that many ms, `ephemeral` allowed with skipHistory, `darn`
 * rewritten to `d**n`; anything else allowed.
 */
export function moderatePublish(content: string): HookAnswer {
  if (content.includes('badword'))
    return { json: { allow: false, code: 'profanity', message: 'mind your words' } };
  if (content.startsWith('slow:')) return { json: { allow: true }, delayMs: Number(content.split(':')[1]) };
  if (content === 'ephemeral') return { json: { allow: true, skipHistory: true } };
  if (content.includes('darn')) return { json: { allow: true, content: content.replaceAll('darn', 'd**n') } };
  return { json: { allow: true } };
}
