import {
  Agent as HttpAgent,
  type ClientRequest,
  type IncomingMessage,
  request as httpRequest,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { HookSettings } from '../config/config.js';
import {
  type ConnectDecision,
  type ConnectHookRequest,
  type GatewayHooks,
  type HookDecision,
  HookFailure,
  type JoinHookRequest,
  type PublishDecision,
  type PublishHookRequest,
} from './gateway-hooks.js';
import { hookSignature } from './hook-signature.js';
import { PublishBatcher } from './publish-batcher.js';

/** A larger answer is a malformed one: hooks answer a decision, not a document (per message in a batch). */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Kept-alive connections to the hook backend (requests beyond it wait for a free one). */
const MAX_SOCKETS = 64;

/**
 * The hooks answered by a backend over HTTP: `POST ${HOOK_URL}/connect|join|publish` with a JSON
 * body, signed (X-Gateway-Timestamp, X-Gateway-Signature, see hook-signature.ts), over kept-alive
 * connections. No answer within HOOK_TIMEOUT_MS, a non-2xx status, an unreachable backend or an
 * answer without a boolean `allow` rejects with HookFailure. Only the hooks named in HOOKS exist.
 * With HOOK_PUBLISH_BATCH > 1 the publish calls go in batches to `/publish/batch` (publish-batcher.ts),
 * as many at once as there are connections.
 */
export class HttpGatewayHooks implements GatewayHooks {
  readonly connect?: (request: ConnectHookRequest) => Promise<ConnectDecision>;
  readonly join?: (request: JoinHookRequest) => Promise<HookDecision>;
  readonly publish?: (request: PublishHookRequest) => Promise<PublishDecision>;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly base: URL;
  private readonly batcher: PublishBatcher | null = null;

  constructor(private readonly settings: HookSettings & { url: string }) {
    this.base = new URL(settings.url);
    const https = this.base.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS };
    this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.send = https ? httpsRequest : httpRequest;
    const on = new Set(settings.enabled);
    if (on.has('connect')) this.connect = (r) => this.call('connect', r);
    if (on.has('join')) this.join = (r) => this.call('join', r);
    if (on.has('publish') && settings.publishBatch > 1) {
      const batcher = new PublishBatcher(
        settings.publishBatch,
        MAX_SOCKETS,
        settings.timeoutMs,
        (body, ms, n) => this.post('publish/batch', body, ms, n * MAX_ANSWER_BYTES),
      );
      this.batcher = batcher;
      this.publish = (r) => batcher.ask(r);
    } else if (on.has('publish')) this.publish = (r) => this.call('publish', r);
  }

  close(): void {
    this.batcher?.close();
    this.agent.destroy();
  }

  private async call(hook: string, payload: object): Promise<HookDecision> {
    const answer = await this.post(hook, JSON.stringify(payload), this.settings.timeoutMs, MAX_ANSWER_BYTES);
    if (typeof answer !== 'object' || answer === null || typeof (answer as HookDecision).allow !== 'boolean')
      throw new HookFailure('answered without a boolean "allow"');
    return answer as HookDecision;
  }

  /**
   * POSTs a signed JSON body to `${HOOK_URL}/${path}`: the parsed 2xx answer, or HookFailure (no
   * answer within `timeoutMs`, non-2xx, unreachable, over `maxBytes`, not JSON).
   */
  private post(path: string, body: string, timeoutMs: number, maxBytes: number): Promise<unknown> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const { base, settings } = this;
    return new Promise<unknown>((resolve, reject) => {
      let req: ClientRequest | null = null;
      // Settled here, whatever the request's events do after a destroy.
      const timer = setTimeout(() => {
        reject(new HookFailure(`no answer within ${settings.timeoutMs} ms`));
        req?.destroy();
      }, timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err instanceof HookFailure ? err : new HookFailure(`unreachable: ${err.message}`));
      };
      req = this.send(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          path: `${base.pathname.replace(/\/$/, '')}/${path}`,
          method: 'POST',
          agent: this.agent,
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            'X-Gateway-Timestamp': timestamp,
            'X-Gateway-Signature': hookSignature(settings.secret, timestamp, body),
          },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) res.destroy(new HookFailure(`answer over ${maxBytes} bytes`));
            else chunks.push(chunk);
          });
          res.on('error', fail);
          res.on('end', () => {
            clearTimeout(timer);
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) return reject(new HookFailure(`answered HTTP ${status}`));
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString()));
            } catch {
              reject(new HookFailure('answered something other than JSON'));
            }
          });
        },
      );
      req.on('error', fail);
      req.end(body);
    });
  }
}
