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
}

/** Whether a `rooms` claim lets the principal join `room`. */
export function mayJoin(principal: Principal, room: string): boolean {
  const allowed = principal.rooms;
  if (allowed === null) return true;
  for (const pattern of allowed) {
    if (pattern === room || pattern === '*') return true;
    if (pattern.endsWith('*') && room.startsWith(pattern.slice(0, -1))) return true;
  }
  return false;
}
