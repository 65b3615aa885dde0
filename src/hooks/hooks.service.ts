import { Inject, Injectable, Logger, type OnApplicationShutdown, Optional } from '@nestjs/common';
import { mayJoin, type Principal } from '../auth/principal.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import type { Connection } from '../hub/connection.js';
import { HubError, HubErrorCode } from '../hub/hub-error.js';
import { ErrorCode, Refusal } from '../protocol/wire/codes.js';
import { WsError } from '../protocol/ws-error.js';
import {
  type ConnectDecision,
  GATEWAY_HOOKS,
  type GatewayHooks,
  type HookDecision,
  type HookDenial,
  HookFailure,
  type HookUser,
  type PublishDecision,
} from './gateway-hooks.js';

/** A backend's message is cut to this length before it reaches a client. */
const MAX_MESSAGE = 200;
/** A backend's `code` is cut to this length. */
const MAX_CODE = 64;
/** Hook failures are logged at most once per this period (with a count), not once per request. */
const FAILURE_LOG_MS = 10_000;

export type ConnectOutcome =
  | { principal: Principal; refusal?: undefined }
  | { refusal: Refusal; message: string; principal?: undefined };

/**
 * What the gateway asks the hooks (GATEWAY_HOOKS), with the rules around them in one place: the
 * answers are checked, a denial becomes the wire's refusal or `forbidden` error (the backend's
 * message, its `code` in `details`), and a hook that could not decide allows or refuses
 * (`unavailable`, temporary) as HOOK_FAIL_OPEN says. The flags (`connects`, `joins`, `publishes`)
 * let call sites skip everything with one check when a hook is absent.
 */
@Injectable()
export class HooksService implements OnApplicationShutdown {
  private readonly logger = new Logger('Hooks');
  readonly connects: boolean;
  readonly joins: boolean;
  readonly publishes: boolean;
  /** HOOK_PUBLISH_MAX_PENDING: messages of one connection that may wait for the publish hook. */
  readonly maxPendingPublishes: number;
  private readonly failOpen: boolean;
  /** What the connect hook granted, by the principal it made: kept across token refreshes. */
  private readonly grants = new WeakMap<Principal, { name?: string; rooms?: string[] }>();
  private failures = 0;
  private lastFailureLog = 0;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    @Optional() @Inject(GATEWAY_HOOKS) private readonly hooks: GatewayHooks | null = null,
  ) {
    this.connects = typeof hooks?.connect === 'function';
    this.joins = typeof hooks?.join === 'function';
    this.publishes = typeof hooks?.publish === 'function';
    this.failOpen = config.hooks.failOpen;
    this.maxPendingPublishes = config.hooks.publishMaxPending;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.hooks?.close?.();
  }

  /** The connect hook: the principal to admit (maybe renamed, with the hook's rooms) or a refusal. */
  async connect(principal: Principal, ip: string): Promise<ConnectOutcome> {
    let d: ConnectDecision;
    try {
      d = check(await this.hooks!.connect!({ user: hookUser(principal), ip }));
    } catch (err) {
      this.failed('connect', err);
      if (this.failOpen) return { principal };
      return { refusal: Refusal.Unavailable, message: 'the connect hook is unavailable; retry later' };
    }
    if (!d.allow) return { refusal: Refusal.Forbidden, message: denialMessage(d, Refusal.Forbidden.message) };
    let name: string | undefined;
    let rooms: string[] | undefined;
    try {
      if (d.name !== undefined) {
        if (typeof d.name !== 'string' || !d.name.trim())
          throw new HookFailure('"name" must be a non-empty string');
        name = d.name.trim().slice(0, 64);
      }
      if (d.rooms !== undefined) {
        if (!Array.isArray(d.rooms) || !d.rooms.every((r) => typeof r === 'string'))
          throw new HookFailure('"rooms" must be a list of strings');
        rooms = d.rooms;
      }
    } catch (err) {
      this.failed('connect', err);
      if (this.failOpen) return { principal };
      return { refusal: Refusal.Unavailable, message: 'the connect hook is unavailable; retry later' };
    }
    if (name === undefined && rooms === undefined) return { principal };
    const granted: Principal = {
      ...principal,
      name: name ?? principal.name,
      rooms: rooms ?? principal.rooms,
    };
    const grant = { name, rooms };
    this.grants.set(granted, grant);
    return { principal: granted };
  }

  /** A refreshed token keeps what the connect hook granted the connection. */
  carryGrant(current: Principal, next: Principal): Principal {
    const grant = this.grants.get(current);
    if (grant === undefined) return next;
    const carried: Principal = {
      ...next,
      name: grant.name ?? next.name,
      rooms: grant.rooms ?? next.rooms,
    };
    this.grants.set(carried, grant);
    return carried;
  }

  /**
   * The join hook, for a room the token allows and the connection has not joined yet (the hub
   * answers the other cases itself). Throws the `forbidden` or `unavailable` error.
   */
  async join(c: Connection, room: string): Promise<void> {
    if (!mayJoin(c.principal, room) || c.joined(room)) return;
    let d: HookDecision;
    try {
      d = check(await this.hooks!.join!({ user: hookUser(c.principal), ip: c.ip, room }));
    } catch (err) {
      this.failed('join', err);
      if (this.failOpen) return;
      throw new HubError(HubErrorCode.Unavailable, 'the join hook is unavailable; retry later', true);
    }
    if (!d.allow) throw denial(d, `joining room "${room}" was refused`);
  }

  /**
   * The publish hook: the content to publish and whether to keep it out of history. Throws the
   * `forbidden` or `unavailable` error.
   */
  async publish(
    c: Connection,
    room: string,
    content: string,
    id: string | undefined,
  ): Promise<PublishVerdict> {
    let d: PublishDecision;
    try {
      d = check(
        await this.hooks!.publish!({ user: hookUser(c.principal), ip: c.ip, room, id: id ?? null, content }),
      );
      if (d.allow && d.content !== undefined && typeof d.content !== 'string')
        throw new HookFailure('"content" must be a string');
      if (d.allow && d.skipHistory !== undefined && typeof d.skipHistory !== 'boolean')
        throw new HookFailure('"skipHistory" must be a boolean');
    } catch (err) {
      this.failed('publish', err);
      if (this.failOpen) return { content, skipHistory: false };
      throw new HubError(
        HubErrorCode.Unavailable,
        'the publish hook is unavailable; retry with the same id',
        true,
      );
    }
    if (!d.allow) throw denial(d, 'the message was refused');
    return { content: d.content ?? content, skipHistory: d.skipHistory === true };
  }

  private failed(hook: string, err: unknown): void {
    this.failures++;
    const now = Date.now();
    if (now - this.lastFailureLog < FAILURE_LOG_MS) return;
    this.lastFailureLog = now;
    const what = err instanceof HookFailure ? err.message : ((err as Error)?.stack ?? String(err));
    this.logger.warn(
      `${hook} hook failed (${this.failures} failure(s) since the last report; ` +
        `${this.failOpen ? 'allowing' : 'refusing'}: HOOK_FAIL_OPEN=${this.failOpen}): ${what}`,
    );
    this.failures = 0;
  }
}

function hookUser(p: Principal): HookUser {
  return { id: p.id, name: p.name, claims: p.claims ?? {} };
}

/** An answer must at least say allow or not (in-process hooks are held to what HTTP ones are). */
function check<D extends { allow: boolean }>(d: D): D {
  if (typeof d !== 'object' || d === null || typeof d.allow !== 'boolean')
    throw new HookFailure('answered without a boolean "allow"');
  return d;
}

function denialMessage(d: HookDenial, fallback: string): string {
  return typeof d.message === 'string' && d.message.trim()
    ? d.message.trim().slice(0, MAX_MESSAGE)
    : fallback;
}

/** What the publish hook decided for an allowed message. */
export interface PublishVerdict {
  content: string;
  /** Delivered and acked as usual, not stored in the room's history. */
  skipHistory: boolean;
}

/** A denied join or publish: `forbidden` with the backend's message, its code in `details`. */
function denial(d: HookDenial, fallback: string): WsError {
  const code = typeof d.code === 'string' && d.code ? d.code.slice(0, MAX_CODE) : undefined;
  return new WsError(
    ErrorCode.Forbidden,
    denialMessage(d, fallback),
    code === undefined ? undefined : [{ field: 'hook', problem: code }],
  );
}
