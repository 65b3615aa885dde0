// What the private Redis servers of the tests and the bench (test/harness/redis.ts, sentinel.ts,
// scripts/redis-cluster.mjs) do alike with their redis-server processes: start one and wait until it
// is ready, talk to one by port, stop one by PID.
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';

/**
 * Spawns `redis-server args` (`onSpawn` gets the process at once, to stop it whatever happens next)
 * and resolves once it logs "Ready to accept connections"; rejects with its output when it exits
 * first or is not ready within `timeoutMs`. Its output keeps being drained so that a full pipe never
 * blocks it.
 * @param {string[]} args
 * @param {number} port  the port in `args`, for the messages
 * @param {number} timeoutMs
 * @param {(proc: import('node:child_process').ChildProcess) => void} [onSpawn]
 * @returns {Promise<void>}
 */
export async function startRedisServer(args, port, timeoutMs, onSpawn = () => undefined) {
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  onSpawn(proc);
  let out = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`redis-server on port ${port} not ready in ${timeoutMs} ms:\n${out}`)),
      timeoutMs,
    );
    /** @param {Error} err */
    const fail = (err) => {
      clearTimeout(timer);
      proc.stdout.off('data', onData);
      reject(err);
    };
    /** @param {Buffer} chunk */
    const onData = (chunk) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        proc.stdout.off('data', onData);
        proc.off('exit', onExit);
        resolve(undefined);
      }
    };
    /** @param {number | null} code */
    const onExit = (code) =>
      fail(new Error(`redis-server on port ${port} exited (${code}) while starting:\n${out}`));
    proc.stdout.on('data', onData);
    proc.stderr.on('data', (/** @type {Buffer} */ c) => (out += c.toString()));
    proc.once('exit', onExit);
  });
  proc.stdout.resume();
  proc.stderr.resume();
}

/**
 * One command connection to the node on `port` (127.0.0.1), closed afterwards: no retry, no
 * reconnect, no offline queue wait; `run`'s answer or error is the result.
 * @template T
 * @param {number} port
 * @param {(r: Redis) => Promise<T>} run
 * @param {{ password?: string; connectTimeout?: number }} [options]
 * @returns {Promise<T>}
 */
export async function withAdmin(port, run, options = {}) {
  const r = new Redis({
    port,
    host: '127.0.0.1',
    ...(options.password !== undefined ? { password: options.password } : {}),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...(options.connectTimeout !== undefined ? { connectTimeout: options.connectTimeout } : {}),
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await run(r);
  } finally {
    r.disconnect();
  }
}

/**
 * Kills a child process by its PID with SIGKILL (a crash) and resolves once it exited; at once when
 * it already had.
 * @param {import('node:child_process').ChildProcess} proc
 * @returns {Promise<void>}
 */
export function killByPid(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    process.kill(/** @type {number} */ (proc.pid), 'SIGKILL');
  });
}
