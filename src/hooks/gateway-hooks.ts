/**
 * The seam through which a backend decides, before something happens, whether a connection, a join
 * or a client's message may go ahead (Centrifugo's connect/subscribe/publish proxies). Provided
 * behind GATEWAY_HOOKS: by HooksModule from HOOK_URL (the HTTP hooks), or by a module of the same
 * application (`AppModule.forRoot(config, {hooks})`, `HooksModule.forRoot({...})`). Each hook may be
 * absent; an absent hook costs the gateway one null check.
 *
 * A hook answers with a decision, or throws/rejects when it could not decide: HOOK_FAIL_OPEN then
 * says whether that allows or refuses (`unavailable`). Trusted publishers (POST /api/publish,
 * `hub.publish`, HubService.publish) never pass the publish hook.
 */
export interface GatewayHooks {
  /** Before the WebSocket upgrade. May rename the user and replace its `rooms` claim. */
  connect?(request: ConnectHookRequest): Promise<ConnectDecision>;
  /** Before a `join` the token allows (not for a rejoin of a room the connection has joined). */
  join?(request: JoinHookRequest): Promise<HookDecision>;
  /** Before a client's `message` is published. May replace its content. */
  publish?(request: PublishHookRequest): Promise<PublishDecision>;
  /** Releases what the hooks hold (sockets); called on shutdown. */
  close?(): Promise<void> | void;
}

export const GATEWAY_HOOKS = Symbol('GATEWAY_HOOKS');

/** The user as hooks see it: the token's `sub`, display name and every claim. */
export interface HookUser {
  id: string;
  name: string;
  claims: Readonly<Record<string, unknown>>;
}

export interface ConnectHookRequest {
  user: HookUser;
  ip: string;
}

export interface JoinHookRequest {
  user: HookUser;
  ip: string;
  room: string;
}

export interface PublishHookRequest {
  user: HookUser;
  ip: string;
  room: string;
  /** The client's message id (its dedup key), null when it gave none. */
  id: string | null;
  content: string;
}

export interface HookDenial {
  allow: false;
  /** A short machine-readable reason; sent to the client in the error's `details`. */
  code?: string;
  /** Shown to the client as the error's (or the refusal's) message. */
  message?: string;
}

export type HookDecision = { allow: true } | HookDenial;

export type ConnectDecision =
  | {
      allow: true;
      /** Replaces the display name for this connection. */
      name?: string;
      /** Replaces the token's `rooms` claim for this connection (names and `prefix:*` patterns). */
      rooms?: string[];
    }
  | HookDenial;

export type PublishDecision =
  | {
      allow: true;
      /** Replaces the message's content. */
      content?: string;
      /**
       * Delivered live and acked with the room's next seq, in the event stream, but not stored in
       * the room's history: a join with `since`/`last` never replays it (see docs/operations.md).
       */
      skipHistory?: boolean;
    }
  | HookDenial;

/** A hook that could not decide (timeout, non-2xx answer, unreachable, malformed answer). */
export class HookFailure extends Error {
  override name = 'HookFailure';
}
