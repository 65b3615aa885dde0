/** The verified identity behind a connection or a request. */
export interface Principal {
  /** `sub` claim. */
  readonly id: string;
  /** `name` claim, or `sub`. */
  readonly name: string;
  /** Room names and `prefix:*` patterns from the `rooms` claim; null = any room. */
  readonly rooms: readonly string[] | null;
  /** Expiry, epoch seconds; null when the token has no `exp`. */
  readonly exp: number | null;
  /** `scope` claim (space-separated), used by the push API. */
  readonly scopes: readonly string[];
  /** `iat`, epoch seconds (revocation by user compares it); null when absent. */
  readonly iat?: number | null;
  /** `jti` (revocation of one token); null when absent. */
  readonly jti?: string | null;
  /**
   * Room names and patterns from the `publish` claim: where a member may send `message` frames;
   * null (no claim) = wherever it may join.
   */
  readonly publish?: readonly string[] | null;
  /** Every claim of the verified token, as hooks see them (never the token itself). */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** Whether a `rooms` claim lets the principal join `room`. */
export function mayJoin(principal: Principal, room: string): boolean {
  const allowed = principal.rooms;
  return allowed === null || matchesAny(allowed, room);
}

/**
 * Whether the principal may send `message` frames to `room` (it must also have joined it). Without
 * a `publish` claim: wherever it may join.
 */
export function mayPublish(principal: Principal, room: string): boolean {
  const allowed = principal.publish;
  return allowed === undefined || allowed === null || matchesAny(allowed, room);
}

/** Room names, `prefix:*` (any name with that prefix) and `*` patterns. */
function matchesAny(patterns: readonly string[], room: string): boolean {
  for (const pattern of patterns) {
    if (pattern === room || pattern === '*') return true;
    if (pattern.endsWith('*') && room.startsWith(pattern.slice(0, -1))) return true;
  }
  return false;
}
