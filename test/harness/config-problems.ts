import { ConfigError, loadConfig } from '../../src/config/config.js';

/** The problems loadConfig reports for `env` (none: it loads). Kept apart from the harness index,
 * which loads the whole app, so unit specs can import it alone. */
export function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}
