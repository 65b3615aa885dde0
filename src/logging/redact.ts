/**
 * Scrubs credentials out of log text: JWTs, `Bearer …` values and `token=` / `ticket=` query
 * parameters.
 * Applied to every string a log line carries (pino's `redact` covers known object paths only).
 */
const JWT = /\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*/g;
const BEARER = /\b(Bearer)\s+[^\s"',;]+/gi;
const TOKEN_PARAM = /([?&;](?:access_)?(?:token|ticket)=)[^&\s"'#]*/gi;

export const REDACTED = '[redacted]';

export function scrub(text: string): string {
  if (text.length < 8) return text;
  return text.replace(TOKEN_PARAM, `$1${REDACTED}`).replace(BEARER, `$1 ${REDACTED}`).replace(JWT, REDACTED);
}

/** Object paths pino's `redact` censors wherever they appear in a log object. */
export const REDACT_PATHS = [
  'authorization',
  'token',
  'ticket',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  '*.authorization',
  '*.token',
  '*.ticket',
  '*.headers.authorization',
];

/** Scrubs the string values of a log object (one level deep, plus `req.url`). */
export function scrubObject(obj: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'string') {
      const s = scrub(v);
      if (s !== v) (out ??= { ...obj })[k] = s;
    } else if (
      k === 'req' &&
      v !== null &&
      typeof v === 'object' &&
      typeof (v as { url?: unknown }).url === 'string'
    ) {
      const url = (v as { url: string }).url;
      const s = scrub(url);
      if (s !== url) (out ??= { ...obj })[k] = { ...v, url: s };
    }
  }
  return out ?? obj;
}
