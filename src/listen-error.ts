/**
 * Listening fails for reasons a user fixes in the environment (a busy port, a port below 1024, a
 * HOST this machine does not have): those print one line naming the setting and exit 1 instead of
 * a stack trace. Anything else is rethrown.
 */
export async function listenOrExit(
  listen: () => Promise<unknown>,
  where: { port: number; host: string },
): Promise<void> {
  try {
    await listen();
  } catch (err) {
    const line = listenErrorLine(err, where);
    if (line === undefined) throw err;
    console.error(line);
    process.exit(1);
  }
}

/** The one-line explanation of a listen error, or undefined when it is not a configuration problem. */
export function listenErrorLine(
  err: unknown,
  { port, host }: { port: number; host: string },
): string | undefined {
  switch ((err as NodeJS.ErrnoException | null)?.code) {
    case 'EADDRINUSE':
      return `port ${port} is in use: set PORT (or stop the other process)`;
    case 'EACCES':
      return `port ${port} needs privileges on this machine: set PORT to 1024 or above`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return `HOST=${host} is not an address of this machine: set HOST (127.0.0.1, 0.0.0.0, ::)`;
    default:
      return undefined;
  }
}
