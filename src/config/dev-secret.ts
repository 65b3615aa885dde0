import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';

/**
 * The HS256 secret used in development when neither JWT_SECRET nor JWT_PUBLIC_KEY is set. It is kept
 * in a git-ignored file in the working directory (next to .env) so that tokens, including service
 * tokens minted with `npm run token`, survive restarts; the CLI reads the same file.
 */
export const DEV_SECRET_FILE = '.dev-secret';

export interface DevSecret {
  readonly secret: string;
  /** The file it is kept in; undefined when it lives in memory only. */
  readonly file?: string;
  /** True when this call generated it (first start), false when it was read back. */
  readonly created: boolean;
}

/** A fresh secret that lives in memory only. */
export function randomDevSecret(): DevSecret {
  return { secret: generate(), created: true };
}

/**
 * Reads the secret from `file`, or creates the file (mode 0600) with a new one. Two processes
 * starting at once agree on one secret: the file appears complete (written aside, then hard-linked
 * into place, which fails if it already exists) and the loser reads the winner's.
 * Throws an Error whose message names the file and the problem.
 */
export function loadDevSecret(file: string = DEV_SECRET_FILE): DevSecret {
  const existing = read(file);
  if (existing !== undefined) return { secret: existing, file, created: false };
  const secret = generate();
  const aside = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(aside, secret + '\n', { mode: 0o600, flag: 'wx' });
    linkSync(aside, file);
    return { secret, file, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new Error(`${file}: cannot keep the development JWT secret there (${describe(err)})`, {
        cause: err,
      });
    }
    const theirs = read(file);
    if (theirs === undefined) throw new Error(`${file}: exists but could not be read`, { cause: err });
    return { secret: theirs, file, created: false };
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      // never written, or already gone
    }
  }
}

function read(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file}: cannot read the development JWT secret (${describe(err)})`, { cause: err });
  }
  const secret = text.trim();
  if (secret.length < 32) {
    throw new Error(`${file}: expected a secret of at least 32 characters; delete the file to get a new one`);
  }
  return secret;
}

function generate(): string {
  return randomBytes(32).toString('base64url');
}

function describe(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
