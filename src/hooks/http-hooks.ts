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

/** A larger answer is a malformed one: hooks answer a decision, not a document. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Kept-alive connections to the hook backend (requests beyond it wait for a free one). */
const MAX_SOCKETS = 64;

/**
 * The hooks answered by a backend over HTTP: `POST ${HOOK_URL}/connect|join|publish` with a JSON
 * body, signed (X-Gateway-Timestamp, X-Gateway-Signature, see hook-signature.ts), over kept-alive
 * connections. No answer within HOOK_TIMEOUT_MS, a non-2xx status, an unreachable backend or an
 * answer without a boolean `allow` rejects with HookFailure. Only the hooks named in HOOKS exist.
 */
export class HttpGatewayHooks implements GatewayHooks {
  readonly connect?: (request: ConnectHookRequest) => Promise<ConnectDecision>;
  readonly join?: (request: JoinHookRequest) => Promise<HookDecision>;
  readonly publish?: (request: PublishHookRequest) => Promise<PublishDecision>;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly base: URL;

  constructor(private readonly settings: HookSettings & { url: string }) {
    this.base = new URL(settings.url);
    const https = this.base.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS };
    this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.send = https ? httpsRequest : httpRequest;
    const on = new Set(settings.enabled);
    if (on.has('connect')) this.connect = (r) => this.call('connect', r);
    if (on.has('join')) this.join = (r) => this.call('join', r);
    if (on.has('publish')) this.publish = (r) => this.call('publish', r);
  }

  close(): void {
    this.agent.destroy();
  }

  private call(hook: string, payload: object): Promise<HookDecision> {
    const body = JSON.stringify(payload);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const { base, settings } = this;
    return new Promise<HookDecision>((resolve, reject) => {
      let req: ClientRequest | null = null;
      // Settled here, whatever the request's events do after a destroy.
      const timer = setTimeout(() => {
        reject(new HookFailure(`no answer within ${settings.timeoutMs} ms`));
        req?.destroy();
      }, settings.timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err instanceof HookFailure ? err : new HookFailure(`unreachable: ${err.message}`));
      };
      req = this.send(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          path: `${base.pathname.replace(/\/$/, '')}/${hook}`,
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
            if (size > MAX_ANSWER_BYTES)
              res.destroy(new HookFailure(`answer over ${MAX_ANSWER_BYTES} bytes`));
            else chunks.push(chunk);
          });
          res.on('error', fail);
          res.on('end', () => {
            clearTimeout(timer);
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) return reject(new HookFailure(`answered HTTP ${status}`));
            let answer: unknown;
            try {
              answer = JSON.parse(Buffer.concat(chunks).toString());
            } catch {
              return reject(new HookFailure('answered something other than JSON'));
            }
            if (
              typeof answer !== 'object' ||
              answer === null ||
              typeof (answer as HookDecision).allow !== 'boolean'
            ) {
              return reject(new HookFailure('answered without a boolean "allow"'));
            }
            resolve(answer as HookDecision);
          });
        },
      );
      req.on('error', fail);
      req.end(body);
    });
  }
}
