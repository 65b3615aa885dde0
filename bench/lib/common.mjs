// Helpers shared by the bench runner, the load generator and the baseline server.
// Plain ESM, no build step, no dependency beyond Node itself.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** base64url of a string or Buffer. */
export function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

/**
 * Signs an HS256 JWT with node:crypto. Used by the load generator so that minting
 * 10000 tokens costs milliseconds, not a second of the measured handshake phase.
 * @param {Record<string, unknown>} claims
 * @param {string} secret
 */
export function signHs256(claims, secret) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on Linux x86-64). */
const CLK_TCK = 100;

/**
 * CPU seconds (user + system) a process has used so far, or NaN if it is gone.
 * @param {number} pid
 */
export function procCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * Resident set size of a process in bytes, or NaN if it is gone.
 * @param {number} pid
 */
export function procRssBytes(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Latency histogram in microseconds: 10 us buckets up to 100 ms, then 1 ms buckets up to 60 s.
 * Recording is two compares and an increment, so it can take millions of samples a second.
 */
export class Histogram {
  constructor() {
    this.fine = new Float64Array(10_000); // [0, 100 ms) in 10 us steps
    this.coarse = new Float64Array(60_000); // [100 ms, 60 s) in 1 ms steps
    this.count = 0;
    this.max = 0;
    this.sum = 0;
  }

  /** @param {number} us latency in microseconds */
  record(us) {
    if (us < 0) us = 0;
    if (us < 100_000) this.fine[(us / 10) | 0]++;
    else if (us < 60_000_000) this.coarse[(us / 1000) | 0]++;
    else this.coarse[59_999]++;
    if (us > this.max) this.max = us;
    this.sum += us;
    this.count++;
  }

  /** Adds `n` samples of the same value (used for a chunk of frames read at once). */
  recordN(us, n) {
    if (us < 0) us = 0;
    if (us < 100_000) this.fine[(us / 10) | 0] += n;
    else if (us < 60_000_000) this.coarse[(us / 1000) | 0] += n;
    else this.coarse[59_999] += n;
    if (us > this.max) this.max = us;
    this.sum += us * n;
    this.count += n;
  }

  /** @param {number} q quantile in [0, 1]; returns milliseconds */
  quantileMs(q) {
    if (this.count === 0) return NaN;
    const target = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.fine.length; i++) {
      seen += this.fine[i];
      if (seen >= target) return ((i + 1) * 10) / 1000;
    }
    for (let i = 100; i < this.coarse.length; i++) {
      seen += this.coarse[i];
      if (seen >= target) return i + 1;
    }
    return this.max / 1000;
  }

  summary() {
    return {
      count: this.count,
      p50Ms: round(this.quantileMs(0.5), 3),
      p99Ms: round(this.quantileMs(0.99), 3),
      maxMs: round(this.max / 1000, 3),
      meanMs: this.count ? round(this.sum / this.count / 1000, 3) : NaN,
    };
  }
}

/** Rounds to `d` decimals, keeping NaN as null-friendly NaN. */
export function round(x, d = 0) {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Jiffies of one CPU from /proc/stat: busy (everything but idle and iowait, so softirq counts:
 * loopback TCP work runs in softirq on the sending core and is charged to no process) and total.
 * @param {number} cpu
 */
export function coreTimes(cpu) {
  try {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${cpu} `));
    if (!line) return { busy: NaN, total: NaN };
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - v[3] - v[4], total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}
