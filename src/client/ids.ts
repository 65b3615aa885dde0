// Client-side message ids: the server deduplicates retries by (user, id), so an id must be unique
// per user for at least DEDUP_WINDOW_MS. randomUUID exists only in secure contexts in browsers
// (https or localhost); getRandomValues exists everywhere.

export function newId(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === 'function') {
    c.getRandomValues(bytes);
  } else {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}
