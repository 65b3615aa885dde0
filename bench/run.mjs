// `npm run bench`: the gateway against a bare `ws` baseline and Socket.IO 4.8, in memory and on
// one Redis, same scenarios, same run, same load generator.
//
//   npm run bench -- --save            everything, and update bench/results/latest.* (about 30 minutes)
//   npm run bench                      everything; results in bench/results/tmp/ only
//   npm run bench -- --quick           a smoke run, a few seconds per scenario (CI); never saved
//   npm run bench -- --only=fanout100,idle     some scenarios: fanout100 fanout1000 idle rooms soak
//                                      cross100 cross1000 (two gateway instances on one Redis)
//                                      hook1000 (fanout1000 through an allow-all HTTP publish hook,
//                                      gateway only)
//   --hook-batch=100                   hook1000: HOOK_PUBLISH_BATCH of the gateway (1: one POST
//                                      /publish per message, unbatched)
//   --hook-max-pending=256             hook1000: HOOK_PUBLISH_MAX_PENDING of the gateway
//   npm run bench -- --servers=socketio,gateway   some servers: gateway gateway-redis
//                                      gateway-rediscluster baseline socketio socketio-redis
//   --redis-url=redis://127.0.0.1:6379 the Redis of the -redis servers and cross* (keys and channels
//                                      under a prefix of their own, deleted at the end; never flushed);
//                                      without it the bench starts a redis-server of its own on a free
//                                      port, pinned to CPU 1 (the generator's), stopped at the end
//   --cluster-port=7131                gateway-rediscluster: the first port of the local Redis Cluster
//                                      the bench starts for it (scripts/redis-cluster.mjs; bus ports
//                                      +10000), pinned to CPU 1 like the one Redis, stopped at the end
//   --cluster-replicas=0               its replicas per master: 0 (three masters, like the one Redis
//                                      without a replica) or 1 (six nodes, every write done twice on
//                                      the same core)
//   npm run bench -- --profile [--profile-rate=N] [--profile-clients=1000] [--save]
//                                      CPU-profile the gateway (or --servers=baseline) under fan-out load;
//                                      the summary goes to results/tmp/ (with --save, results/)
//   npm run bench -- --cost [--cost-clients=100] [--cost-rate=D] [--cost-runs=2]
//                                      server CPU per publication at one fixed rate, both servers
//   --server-node-args='--trace-gc'   node flags for the servers (output in bench/results/tmp/*.log)
//   --once                             run every server once per scenario (by default gateway,
//                                      gateway-redis, gateway-rediscluster and baseline run each
//                                      fan-out scenario twice, the second pass in the opposite order,
//                                      and show their better run); not with --save
//   --no-build                         do not run `npm run build` even if dist/ is stale
//
// The server runs pinned to CPU 0 and the load generator to CPU 1 (taskset). Results go to
// bench/results/tmp/latest.{json,md,svg}, and with --save (a full run only) to
// bench/results/latest.{json,md,svg}, which the README embeds; server logs and profiles to
// bench/results/tmp/.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
  openSync,
  closeSync,
  mkdtempSync,
  rmSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { consoleTable, markdown, peerTargets, svgChart } from './lib/report.mjs';
import { HISTORY_RUNS, historyEntry, readHistory } from './lib/history.mjs';
import { betterRun, runsText } from './lib/runs.mjs';
import { render, summarize } from './profile-summary.mjs';
import { coreTimes, sleep } from './lib/common.mjs';
import { RedisClusterSet } from '../scripts/redis-cluster.mjs';
import { killByPid, startRedisServer } from '../scripts/redis-process.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', 'results');
const TMP = join(RESULTS, 'tmp');
mkdirSync(TMP, { recursive: true });

// ---- flags ---------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, def) => {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
};
if (flag('help') || flag('h')) {
  console.log(
    readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .filter((l, i, all) => i < all.findIndex((x) => x.startsWith('import ')))
      .join('\n'),
  );
  process.exit(0);
}
const QUICK = flag('quick');
const SAVE = flag('save');
const PROFILE = flag('profile');
const FIXED = PROFILE || flag('cost');
const ALL = ['fanout100', 'fanout1000', 'idle', 'rooms', 'soak', 'cross100', 'cross1000', 'hook1000'];
/** hook1000's HOOK_PUBLISH_BATCH and HOOK_PUBLISH_MAX_PENDING (see runScenario). */
const HOOK_BATCH = Number(opt('hook-batch', '100'));
const HOOK_MAX_PENDING = Number(opt('hook-max-pending', '256'));
const ONLY = opt('only', ALL.join(',')).split(',').filter(Boolean);
for (const s of ONLY)
  if (!ALL.includes(s)) throw new Error(`unknown scenario ${s}; known: ${ALL.join(', ')}`);
const ALL_SERVERS = [
  'gateway',
  'gateway-redis',
  'gateway-rediscluster',
  'baseline',
  'socketio',
  'socketio-redis',
];
// --profile and --cost compare the gateway with the baseline unless told otherwise.
const SERVERS = opt('servers', FIXED ? 'gateway,baseline' : ALL_SERVERS.join(','))
  .split(',')
  .filter(Boolean);
for (const s of SERVERS)
  if (!ALL_SERVERS.includes(s)) throw new Error(`unknown server ${s}; known: ${ALL_SERVERS.join(', ')}`);
// The committed results are what the README shows: only a full run may replace them.
if (
  SAVE &&
  (QUICK || (!FIXED && (flag('once') || ONLY.length !== ALL.length || SERVERS.length !== ALL_SERVERS.length)))
) {
  console.error(
    'bench: --save updates the committed bench/results/latest.* (the README embeds them) or, with ' +
      '--profile, profile-latest.txt: it needs a full run (no --quick, --once, --only or --servers). ' +
      'Without --save, results go to bench/results/tmp/.',
  );
  process.exit(2);
}
/** The Redis of the +Redis servers: --redis-url, or one the bench starts (startPrivateRedis). */
let REDIS_URL = opt('redis-url', '');
/** Every key and channel this run creates in Redis starts with it (deleted at the end). */
const RUN_TAG = `bench-${process.pid}-${randomBytes(3).toString('hex')}`;
// Node flags for EVERY server under test: the gateway's production flags (package.json start:prod,
// which deploy/Dockerfile runs too), given to the baseline too so that the ratio compares code, not runtime tuning
// (a 64 MB semi-space took N=1000 fan-out from 7.6M to 10.9M deliveries/s on the gateway and from
// 11.5M to 17.2M on the baseline; 32 MB keeps most of that without inflating idle RSS). Extra ones: --server-node-args=--trace-gc (in their logs).
const RUNTIME_FLAGS = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  .scripts['start:prod'].split(' ')
  .filter((/** @type {string} */ w) => w.startsWith('--'));
const SERVER_NODE_ARGS = [...RUNTIME_FLAGS, ...opt('server-node-args', '').split(' ').filter(Boolean)];
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)}s`;
const say = (msg) => console.log(`[bench ${elapsed()}] ${msg}`);

// ---- process bookkeeping: every child is stopped by PID, whatever happens ----------------------
/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();
function killAll(signal = 'SIGKILL') {
  for (const c of children) {
    try {
      if (c.pid && c.exitCode === null) process.kill(c.pid, signal);
    } catch {
      /* already gone */
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\n[bench] ${sig}: stopping ${children.size} child process(es)`);
    killAll();
    process.exit(130);
  });
}
process.on('exit', () => killAll());

// ---- the local Redis Cluster of gateway-rediscluster: started on first need, stopped by PID ----
/** @type {RedisClusterSet | null} */
let redisCluster = null;
/** @type {Promise<RedisClusterSet> | null} */
let clusterStarting = null;
function startRedisCluster() {
  clusterStarting ??= (async () => {
    const replicas = opt('cluster-replicas', '0') === '1' ? 1 : 0;
    const set = new RedisClusterSet({ firstPort: Number(opt('cluster-port', '7131')), replicas });
    say(
      `starting a local Redis Cluster (3 masters, ${3 * replicas} replicas) on ports ${set.ports.join(',')} for gateway-rediscluster, pinned to CPU 1`,
    );
    redisCluster = set;
    const start = set.start();
    // Its nodes are the bench's children too: a Ctrl-C stops them with everything else.
    for (const proc of set.procs.values()) children.add(proc);
    await start;
    // On the generator's core, like the one Redis: they stand for other hosts, not the server's core.
    for (const proc of set.procs.values()) {
      execFileSync('taskset', ['-pc', '1', String(proc.pid)], { stdio: 'ignore' });
    }
    return set;
  })();
  return clusterStarting;
}

/**
 * Spawns `cmd args` through bash so the fd limit can be raised first, pinned to `cpu`.
 * `exec` keeps the PID: the child's pid is the program's pid.
 */
function spawnPinned(cpu, cmd, args, opts) {
  const script = 'ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec taskset -c "$0" "$@"';
  const child = spawn('bash', ['-c', script, String(cpu), cmd, ...args], opts);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

const FD_LIMIT = Number(
  execFileSync('bash', ['-c', 'ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ulimit -n'])
    .toString()
    .trim(),
);

// ---- build -------------------------------------------------------------------------------
function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuilt() {
  const main = join(ROOT, 'dist', 'main.js');
  const stale = !existsSync(main) || statSync(main).mtimeMs < newestMtime(join(ROOT, 'src'));
  if (!stale) return true;
  if (flag('no-build')) {
    say('dist/main.js is missing or older than src/, and --no-build was given: using it as it is');
    return existsSync(main);
  }
  say('dist/main.js is missing or older than src/: npm run build');
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    return true;
  } catch {
    say('build FAILED: the gateway scenarios are skipped');
    return false;
  }
}

// ---- servers -----------------------------------------------------------------------------
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

let runCounter = 0;

/** The Redis prefix of one server start: its own, so that nothing it leaves can meet another run. */
const redisPrefix = (kind) => `${RUN_TAG}-${kind}-${runCounter}:`;

/**
 * Starts a server under test on CPU 0 and waits until its port answers. `secret` and `prefix`
 * let two instances share their JWT key and Redis prefix (the cross-instance scenarios).
 * @param {string} kind one of ALL_SERVERS
 */
async function startServer(
  kind,
  {
    heartbeatMs = 30_000,
    profileOut,
    secret = randomBytes(24).toString('base64url'),
    prefix,
    extraEnv = {},
  } = {},
) {
  const port = await freePort();
  const logFile = join(TMP, `${kind}-${++runCounter}.log`);
  const redis = kind.endsWith('-redis');
  const cluster = kind.endsWith('-rediscluster') ? await startRedisCluster() : null;
  const keyPrefix = prefix ?? redisPrefix(kind);
  const fd = openSync(logFile, 'w');
  const nodeArgs = SERVER_NODE_ARGS.slice();
  if (profileOut) nodeArgs.push('--import', join(ROOT, 'bench', 'lib', 'profile-hook.mjs'));
  const gateway = kind.startsWith('gateway');
  /** @type {Record<string, string | undefined>} */
  const env = gateway
    ? {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        NODE_ENV: 'production',
        JWT_SECRET: secret,
        RATE_LIMIT_PER_SEC: '100000',
        MAX_CONNECTIONS_PER_IP: '0',
        MAX_CONNECTIONS_PER_USER: '0',
        MAX_CONNECTIONS: '0',
        LOG_LEVEL: 'warn',
        HEARTBEAT_MS: String(heartbeatMs),
        ...extraEnv,
      }
    : { ...process.env, PORT: String(port), JWT_SECRET: secret, HEARTBEAT_MS: String(heartbeatMs) };
  // In memory means in memory, whatever the caller's environment says.
  for (const k of Object.keys(env)) if (k.startsWith('REDIS_')) delete env[k];
  if (redis) {
    env.REDIS_URL = REDIS_URL;
    env.REDIS_KEY_PREFIX = keyPrefix;
    // History and presence keys outlive the run by minutes at most, even if the cleanup is cut.
    env.REDIS_ROOM_TTL_SEC = '900';
  }
  if (cluster) {
    env.REDIS_CLUSTER_NODES = cluster.nodeList;
    env.REDIS_KEY_PREFIX = keyPrefix;
  }
  if (profileOut) env.BENCH_PROFILE_OUT = profileOut;
  const script = gateway
    ? join(ROOT, 'dist', 'main.js')
    : kind.startsWith('socketio')
      ? join(ROOT, 'bench', 'socketio-server.mjs')
      : join(ROOT, 'bench', 'baseline-server.mjs');
  const child = spawnPinned(0, process.execPath, [...nodeArgs, script], {
    cwd: ROOT,
    env,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await canConnect(port)) {
      // The Redis CPU reported beside the server's: the shard master that owns the fan-out room.
      const auxPid = cluster
        ? cluster.procs.get(await cluster.masterOf(`${keyPrefix}room:{bench}:meta`))?.pid
        : undefined;
      return {
        kind,
        child,
        pid: /** @type {number} */ (child.pid),
        port,
        secret,
        logFile,
        keyPrefix,
        auxPid,
      };
    }
    await sleep(100);
  }
  await stopServer({ child });
  const tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
  throw new Error(`${kind} did not start listening on ${port} (log ${logFile}):\n${tail}`);
}

/** SIGTERM, then SIGKILL after 5 s; always by PID. */
async function stopServer({ child }) {
  if (!child || child.exitCode !== null || !child.pid) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
}

// ---- Redis: reachability, its PID (its CPU is reported beside the server's), cleanup -----------
const redactUrl = (url) => url.replace(/\/\/[^@/]*@/, '//***@');
let redisOk = false;
/** @type {number | undefined} */
let redisPid;

/**
 * Without --redis-url: a redis-server of the bench's own (the machine's binary, no persistence, a
 * temporary directory), pinned to CPU 1 with the generator, so that it stands for a Redis on
 * another host instead of taking the server's core (a shared Redis on 6379 is not ours to pin), and
 * nobody else's traffic lands on it. Stopped by PID at the end.
 */
async function startPrivateRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  try {
    await startRedisServer([...args, '--dir', dir], port, 5000, (proc) => {
      privateRedis = { proc, dir };
      children.add(proc); // a Ctrl-C stops it with everything else
    });
  } catch (e) {
    say(
      `could not start redis-server (${/** @type {Error} */ (e).message.split('\n')[0]}): the -redis servers are skipped`,
    );
    return '';
  }
  const pid = String(privateRedis?.proc.pid);
  execFileSync('taskset', ['-pc', '1', pid], { stdio: 'ignore' });
  say(`started redis-server on port ${port}, pinned to CPU 1 (pid ${pid})`);
  return `redis://127.0.0.1:${port}`;
}
/** @type {{ proc: import('node:child_process').ChildProcess, dir: string } | null} */
let privateRedis = null;

async function stopPrivateRedis() {
  if (!privateRedis) return;
  await killByPid(privateRedis.proc);
  rmSync(privateRedis.dir, { recursive: true, force: true });
  privateRedis = null;
}

async function probeRedis() {
  if (REDIS_URL === '') REDIS_URL = await startPrivateRedis();
  if (REDIS_URL === '') return;
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    const info = await r.info('server');
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    // Only a Redis on this machine has a /proc entry we can read.
    if (pid && existsSync(`/proc/${pid}/stat`)) redisPid = pid;
    redisOk = true;
  } catch (e) {
    say(
      `no Redis at ${redactUrl(REDIS_URL)} (${/** @type {Error} */ (e).message}): the -redis servers are skipped`,
    );
  } finally {
    r.disconnect();
  }
}

/** Deletes the keys one server start left under its own prefix (history, presence, dedup). */
async function cleanRedis(prefix) {
  const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  let n = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) n += await r.unlink(...keys);
    } while (cursor !== '0');
  } catch (e) {
    say(
      `could not delete the keys under ${prefix} (${/** @type {Error} */ (e).message}); they expire in 15 minutes`,
    );
  } finally {
    r.disconnect();
  }
  return n;
}

// ---- the generator -----------------------------------------------------------------------
let addrBase = 2;

/**
 * Runs one generator scenario on CPU 1 against `srv` (or every instance in `more` too, connections
 * spread over them) and returns its JSON result.
 */
function runGenerator(srv, name, cfg, more = []) {
  const out = join(TMP, `gen-${srv.kind}-${name}-${runCounter}.json`);
  const all = [srv, ...more];
  const full = {
    ...cfg,
    name,
    server: srv.kind,
    protocol: srv.kind.startsWith('socketio') ? 'socketio' : 'gateway',
    ports: all.map((x) => x.port),
    secret: srv.secret,
    serverPids: all.map((x) => x.pid),
    auxPid: srv.kind.endsWith('-redis') ? redisPid : srv.auxPid,
    out,
    addrBase,
    addrCount: 4,
  };
  // A fresh set of 127.0.0.x source addresses per run, so TIME_WAIT sockets of the previous
  // run never compete for ports.
  addrBase = addrBase + 4 > 250 ? 2 : addrBase + 4;
  return new Promise((resolve) => {
    const child = spawnPinned(
      1,
      process.execPath,
      ['--max-semi-space-size=32', join(ROOT, 'bench', 'loadgen.mjs'), JSON.stringify(full)],
      {
        cwd: ROOT,
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    child.on('exit', (code) => {
      try {
        const r = JSON.parse(readFileSync(out, 'utf8'));
        if (code !== 0 && !r.error) r.error = `generator exited ${code}`;
        resolve(r);
      } catch {
        resolve({ error: `generator exited ${code} without a result` });
      }
    });
  });
}

// ---- scenarios -----------------------------------------------------------------------------
const SOAK_TARGET = 50_000;
// The soak server holds one fd per connection plus its own; keep 1000 spare.
const SOAK_CLIENTS = QUICK ? 1000 : Math.min(SOAK_TARGET, FD_LIMIT - 1000);

const stepping = QUICK
  ? { stepMs: 700, factor: 3, maxSteps: 3, bisect: 0, retries: 0, drainMs: 2000, coolMs: 200 }
  : { stepMs: 3000, factor: 1.5, maxSteps: 12, bisect: 3, retries: 1, drainMs: 4000, coolMs: 500 };

const FANOUT_SERVERS = ALL_SERVERS;
const PAIR = ['gateway', 'baseline'];
/**
 * The fan-out servers whose ratios to each other have targets near 1 (gateway/baseline,
 * gateway+Redis/gateway, Cluster/one Redis). They are measured twice, the second pass in the
 * opposite order, and each shows its better run: this VM's host speed drifts within minutes (the
 * same gateway on the same Redis Cluster sustained 2.16M and 3.07M deliveries/s an hour apart),
 * and one run per server put that drift straight into the ratio of two servers measured a minute
 * apart. Socket.IO's ratios are tens, and it runs once. Not in --quick; `--once` skips it.
 */
const TWICE_SERVERS = ['gateway', 'gateway-redis', 'gateway-rediscluster', 'baseline'];
const TWICE = !QUICK && !flag('once');
/**
 * Where the stepping starts, per server: Socket.IO tops out near 50-70k deliveries/s here, so it
 * starts lower (from 200k its first step would fail and nothing would be measured).
 */
const START = {
  socketio: QUICK ? 15_000 : 10_000,
  'socketio-redis': QUICK ? 15_000 : 10_000,
};

const SCENARIOS = {
  fanout100: {
    title: 'fan-out, 100 subscribers in one room',
    servers: FANOUT_SERVERS,
    twice: TWICE_SERVERS,
    cfg: {
      scenario: 'fanout',
      clients: 100,
      publishers: 10,
      startDeliveriesPerSec: QUICK ? 100_000 : 200_000,
      ...stepping,
      maxMs: 240_000,
    },
  },
  fanout1000: {
    title: 'fan-out, 1000 subscribers in one room',
    servers: FANOUT_SERVERS,
    twice: TWICE_SERVERS,
    cfg: {
      scenario: 'fanout',
      clients: 1000,
      publishers: 10,
      startDeliveriesPerSec: QUICK ? 100_000 : 200_000,
      ...stepping,
      maxMs: 240_000,
    },
  },
  idle: {
    title: 'idle authenticated connections',
    servers: PAIR,
    cfg: {
      scenario: 'idle',
      clients: QUICK ? 1000 : 10_000,
      window: 100,
      warmup: 200,
      settleMs: QUICK ? 1000 : 2000,
      holdMs: 1000,
      maxMs: 120_000,
    },
  },
  rooms: {
    title: 'many rooms: 10000 clients in 1000 rooms of 10',
    servers: PAIR,
    cfg: {
      scenario: 'rooms',
      clients: QUICK ? 1000 : 10_000,
      rooms: QUICK ? 100 : 1000,
      pubsPerRoom: 1,
      // Every publish here is its own read and ~11 writes: both servers top out near 100k/s.
      startDeliveriesPerSec: QUICK ? 10_000 : 20_000,
      ...stepping,
      maxMs: 240_000,
    },
  },
  soak: {
    title: `soak: ${SOAK_CLIENTS} idle connections through several heartbeats (gateway only)`,
    servers: ['gateway'],
    heartbeatMs: QUICK ? 1000 : 5000,
    cfg: {
      scenario: 'soak',
      clients: SOAK_CLIENTS,
      target: SOAK_TARGET,
      window: 100,
      heartbeatMs: QUICK ? 1000 : 5000,
      holdMs: QUICK ? 3000 : 22_000,
      maxMs: 240_000,
    },
  },
  // Two gateway instances on one Redis, both pinned to CPU 0 (the generator keeps CPU 1), members
  // alternating between them, publishers on both: every publication crosses Redis to the other
  // instance. Compared with fanoutN on gateway-redis (one instance, same Redis).
  cross100: {
    title: 'cross-instance fan-out: 100 subscribers of one room on two gateway instances',
    servers: ['gateway-redis'],
    instances: 2,
    cfg: {
      scenario: 'fanout',
      clients: 100,
      publishers: 10,
      startDeliveriesPerSec: QUICK ? 100_000 : 200_000,
      ...stepping,
      maxMs: 240_000,
    },
  },
  // fanout1000 on the gateway with every client message through an HTTP publish hook that allows
  // everything (bench/hook-server.mjs, pinned to CPU 1 with the generator): compare with fanout1000.
  hook1000: {
    title: 'fan-out, 1000 subscribers, every message through an allow-all HTTP publish hook',
    servers: ['gateway'],
    hook: true,
    cfg: {
      scenario: 'fanout',
      clients: 1000,
      publishers: 10,
      startDeliveriesPerSec: QUICK ? 100_000 : 200_000,
      ...stepping,
      maxMs: 240_000,
    },
  },
  cross1000: {
    title: 'cross-instance fan-out: 1000 subscribers of one room on two gateway instances',
    servers: ['gateway-redis'],
    instances: 2,
    cfg: {
      scenario: 'fanout',
      clients: 1000,
      publishers: 10,
      startDeliveriesPerSec: QUICK ? 100_000 : 200_000,
      ...stepping,
      maxMs: 240_000,
    },
  },
};

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    fdLimit: FD_LIMIT,
    serverNodeFlags: SERVER_NODE_ARGS,
  };
}

/** Busy % of both cores over `ms` with none of our processes running: other people's load. */
async function backgroundLoad(ms = 700) {
  const a = [coreTimes(0), coreTimes(1)];
  await sleep(ms);
  const b = [coreTimes(0), coreTimes(1)];
  const pct = (i) => Math.round(((b[i].busy - a[i].busy) / (b[i].total - a[i].total)) * 100);
  return { core0Pct: pct(0), core1Pct: pct(1) };
}

async function runScenario(key, gatewayOk) {
  const sc = SCENARIOS[key];
  /** @type {Record<string, any>} */
  const out = {};
  for (const kind of SERVERS) {
    if (!sc.servers.includes(kind)) continue;
    if (kind.startsWith('gateway') && !gatewayOk) {
      out[kind] = { error: 'gateway not built' };
      continue;
    }
    if (kind.endsWith('-redis') && !redisOk) {
      out[kind] = { error: `no Redis at ${redactUrl(REDIS_URL)}` };
      continue;
    }
    out[kind] = await measure(key, kind, 1);
  }
  // The second pass, in the opposite order: a server measured early and late, whatever the drift.
  if (sc.twice && TWICE) {
    for (const kind of [...SERVERS].reverse()) {
      // A first run where no step passed is run again too (betterRun keeps whichever passed).
      if (!sc.twice.includes(kind) || !out[kind]?.steps) continue;
      out[kind] = betterRun(out[kind], await measure(key, kind, 2));
      const r = out[kind];
      say(`${key} on ${kind}: ${runsText(r)} deliveries/s; the table shows run ${r.run}`);
    }
  }
  return out;
}

/** One measurement of `kind` in scenario `key` (`run`: 1, or 2 in the second pass). */
async function measure(key, kind, run) {
  const sc = SCENARIOS[key];
  /** @type {any} */
  let r;
  const bg = await backgroundLoad();
  say(
    `${key} on ${kind}${run > 1 ? ` (run ${run})` : ''}: ${sc.title} (background load: core0 ${bg.core0Pct}%, core1 ${bg.core1Pct}%)`,
  );
  if (Math.max(bg.core0Pct, bg.core1Pct) > 20)
    say('WARNING: something else is busy on these cores; figures will be low and noisy');
  /** @type {any[]} */
  const srvs = [];
  /** @type {import('node:child_process').ChildProcess | null} */
  let hook = null;
  try {
    /** @type {Record<string, string>} */
    let extraEnv = {};
    if (sc.hook) {
      const started = await startHookServer();
      hook = started.child;
      extraEnv = {
        HOOK_URL: `http://127.0.0.1:${started.port}`,
        HOOKS: 'publish',
        HOOK_SECRET: randomBytes(24).toString('base64url'),
        // A turn's publish calls as one POST /publish/batch, as a deployment under this load
        // would set it; and room for the ~90 ms stalls of this VM's vCPUs: at 300 messages/s per
        // publisher the default bound (16 waiting per connection) trips on one stall, answering
        // rate_limited, which the generator counts as loss.
        HOOK_PUBLISH_BATCH: String(HOOK_BATCH),
        HOOK_PUBLISH_MAX_PENDING: String(HOOK_MAX_PENDING),
      };
    }
    const opts = { heartbeatMs: sc.heartbeatMs ?? 30_000, extraEnv };
    srvs.push(await startServer(kind, opts));
    // Further instances share the first one's JWT key and Redis prefix: one cluster.
    for (let i = 1; i < (sc.instances ?? 1); i++)
      srvs.push(await startServer(kind, { ...opts, secret: srvs[0].secret, prefix: srvs[0].keyPrefix }));
    const cfg = { ...sc.cfg, startDeliveriesPerSec: START[kind] ?? sc.cfg.startDeliveriesPerSec };
    r = await runGenerator(srvs[0], key, cfg, srvs.slice(1));
    r.serverLog = srvs.map((x) => x.logFile.slice(ROOT.length + 1)).join(', ');
    r.background = bg;
    if (srvs.length > 1) r.instances = srvs.length;
    if (sc.hook) r.hook = { publishBatch: HOOK_BATCH, publishMaxPending: HOOK_MAX_PENDING };
    const exited = srvs.filter((x) => x.child.exitCode !== null);
    if (exited.length) r.serverExited = exited[0].child.exitCode;
  } catch (e) {
    say(`${key} on ${kind} failed: ${/** @type {Error} */ (e).message}`);
    r = { error: String(/** @type {Error} */ (e).message).split('\n')[0] };
  } finally {
    for (const x of srvs) await stopServer(x);
    if (hook) await stopServer({ child: hook });
    if (kind.endsWith('-redis') && srvs[0]) await cleanRedis(srvs[0].keyPrefix);
  }
  if (r.best)
    say(
      `${key} on ${kind}: sustained ${Math.round(r.best.deliveredPerSec)} deliveries/s, p99 ${r.best.p99Ms} ms`,
    );
  else if (r.steps) say(`${key} on ${kind}: no step passed`);
  return r;
}

/** The allow-all hook backend of hook1000, on CPU 1 (the generator's): "another service". */
async function startHookServer() {
  const child = spawnPinned(1, process.execPath, [join(ROOT, 'bench', 'hook-server.mjs')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d.toString();
      const m = /hook listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`hook server exited (${code})`)));
  });
  return { child, port };
}

function notesFor(results) {
  const notes = [];
  for (const [key, sc] of Object.entries(results.scenarios)) {
    for (const [kind, r] of Object.entries(sc)) {
      const sat = (r.steps ?? []).filter((s) => s.pass && s.genSaturated);
      if (r.best?.genSaturated) {
        notes.push(
          `${key}/${kind}: the load generator was saturated (>90% of its core) at the reported step: that figure may be the generator's limit.`,
        );
      } else if (sat.length) {
        notes.push(
          `${key}/${kind}: the load generator passed 90% of its core on ${sat.length} lower step(s) (many reads of few frames each), not at the reported rate.`,
        );
      }
      if (r.genSaturated) notes.push(`${key}/${kind}: the load generator was saturated while connecting.`);
      if (r.error) notes.push(`${key}/${kind}: ${r.error}`);
    }
  }
  const busy = [];
  for (const [key, sc] of Object.entries(results.scenarios)) {
    for (const [kind, r] of Object.entries(sc)) {
      if (r.background && Math.max(r.background.core0Pct, r.background.core1Pct) > 20) {
        busy.push(`${key}/${kind} (${r.background.core0Pct}% / ${r.background.core1Pct}%)`);
      }
    }
  }
  const hooked = results.scenarios.hook1000?.gateway?.best;
  const plain = results.scenarios.fanout1000?.gateway?.best;
  if (hooked && plain)
    notes.push(
      `hook1000 vs fanout1000 on the gateway (an allow-all HTTP publish hook on every client message, HOOK_PUBLISH_BATCH=${HOOK_BATCH}, HOOK_PUBLISH_MAX_PENDING=${HOOK_MAX_PENDING}): ${(hooked.deliveredPerSec / plain.deliveredPerSec).toFixed(2)}x the deliveries/s (target >= 0.5x).`,
    );
  if (busy.length)
    notes.push(
      `Other processes were busy on the cores before: ${busy.join(', ')}; those figures are low and noisy.`,
    );
  if (results.scenarios.soak?.gateway && QUICK) {
    notes.push(
      `quick run: the soak holds ${SOAK_CLIENTS} connections (a full run holds up to ${SOAK_TARGET}).`,
    );
  } else if (results.scenarios.soak?.gateway && SOAK_CLIENTS < SOAK_TARGET) {
    notes.push(
      `soak ran ${SOAK_CLIENTS} connections, not ${SOAK_TARGET}: this machine's hard RLIMIT_NOFILE is ${FD_LIMIT} ` +
        `and cannot be raised here (no CAP_SYS_RESOURCE), so one process cannot hold more sockets.`,
    );
  }
  notes.push(
    `Every server ran with node ${RUNTIME_FLAGS.join(' ')} (the gateway's production flags, given to the baseline and Socket.IO too).`,
  );
  const kinds = new Set(Object.values(results.scenarios).flatMap((sc) => Object.keys(sc)));
  if (kinds.has('socketio') || kinds.has('socketio-redis'))
    notes.push(
      'Socket.IO 4.8 (bench/socketio-server.mjs): websocket transport only, no per-message compression, JWT in the ' +
        'handshake auth checked by a middleware, `io.to(room).emit` with an ack per publication; the generator speaks Engine.IO v4 / Socket.IO v5 over the same raw sockets. Its seq is per process: it keeps no history, dedup or cluster-wide order, which the gateway pays for on every publication.',
    );
  if (results.redis)
    notes.push(
      (results.redis.ownPinnedToCpu1
        ? 'The +Redis servers share one redis-server the bench started for the run (no persistence), pinned to CPU 1 with the generator: it stands for a Redis on another host, so it does not take the server core. '
        : `The +Redis servers share the Redis at ${results.redis.url} (--redis-url; not pinned, so it runs on either core and takes CPU from the server or the generator; its CPU is the whole process's, other clients' work included). `) +
        'The gateway uses its own REDIS_KEY_PREFIX per start, Socket.IO its own adapter key; their keys are deleted afterwards.',
    );
  if (kinds.has('gateway-rediscluster'))
    notes.push(
      `gateway+Redis Cluster: a local Redis Cluster of three masters${redisCluster?.replicas ? ' with a replica each' : ' without replicas (like the one Redis)'} (scripts/redis-cluster.mjs), pinned to CPU 1 with the generator like the one Redis, ` +
        'REDIS_CLUSTER_NODES, fan-out over sharded pub/sub; its Redis CPU is the master that owns the room. Compared with gateway+Redis (one Redis) in the same run.',
    );
  if (kinds.has('gateway-redis') && (results.scenarios.cross100 || results.scenarios.cross1000))
    notes.push(
      'cross100/cross1000: two gateway instances on the same Redis, both pinned to CPU 0 (they share one core; the generator keeps CPU 1), members alternating between them, five publishers on each.',
    );
  const twice = [];
  for (const [key, sc] of Object.entries(results.scenarios)) {
    for (const [kind, r] of Object.entries(sc)) {
      if (!r.runs) continue;
      twice.push(`${key}/${kind} ${runsText(r)}`);
    }
  }
  if (twice.length)
    notes.push(
      'gateway, gateway+Redis, gateway+Redis Cluster and baseline ran each fan-out scenario twice, the second time in the ' +
        `opposite order, and the tables show the better run (the host's speed drifts within minutes here): ${twice.join('; ')}.`,
    );
  notes.push(
    "Latency is sampled 1 in 8 deliveries (max also checks the first frame of every read). This VM's vCPUs are " +
      'preempted by the host for up to ~90 ms when both are busy, so a step failing on p99 alone is run once more.',
  );
  return notes;
}

// ---- fixed-rate modes: --profile and --cost ---------------------------------------------------
/**
 * One fan-out step at a fixed offered rate on `kind`. With `profileOut`, the server runs under V8's
 * sampling profiler for the measured window.
 */
async function fixedRate(kind, { clients, rate, seconds, profileOut }) {
  let srv;
  try {
    srv = await startServer(kind, { profileOut });
    const r = await runGenerator(srv, `fixed${clients}`, {
      scenario: 'fanout',
      clients,
      publishers: 10,
      startDeliveriesPerSec: rate,
      stepMs: seconds * 1000,
      maxSteps: 1,
      bisect: 0,
      retries: 0,
      profileSignal: Boolean(profileOut),
      maxMs: 180_000,
    });
    if (profileOut) for (let i = 0; i < 50 && !existsSync(profileOut); i++) await sleep(100);
    return r?.steps?.[0] ?? { error: r?.error ?? 'no step' };
  } finally {
    if (srv) await stopServer(srv);
    if (srv && kind.endsWith('-redis')) await cleanRedis(srv.keyPrefix);
  }
}

async function profileGateway() {
  if (!ensureBuilt()) process.exit(1);
  const clients = Number(opt('profile-clients', '1000'));
  const rate = Number(opt('profile-rate', '300000'));
  const seconds = Number(opt('profile-seconds', QUICK ? '3' : '10'));
  const kind = SERVERS.length === 1 ? SERVERS[0] : 'gateway';
  const file = join(TMP, `${kind}-fanout${clients}-${Date.now()}.cpuprofile`);
  say(`profiling the ${kind}: fan-out N=${clients} at ${rate} deliveries/s for ${seconds} s`);
  const s = await fixedRate(kind, { clients, rate, seconds, profileOut: file });
  if (!existsSync(file)) throw new Error('no profile written (see the server log in bench/results/tmp)');
  say(
    `under profile: delivered ${s.deliveredPerSec}/s, p99 ${s.p99Ms} ms, loss ${s.loss}, server CPU ${s.serverCpuPct}%`,
  );
  const text = render(summarize(file, 40));
  const summary = join(SAVE ? RESULTS : TMP, 'profile-latest.txt');
  writeFileSync(summary, `${file.slice(ROOT.length + 1)}\n${JSON.stringify(s)}\n\n${text}\n`);
  console.log(text);
  say(`profile: ${file.slice(ROOT.length + 1)}; summary in ${summary.slice(ROOT.length + 1)}`);
}

/**
 * `--cost`: server CPU time per publication at one offered rate both servers sustain, for each
 * server, `--cost-runs` times alternating. Far steadier than the sustained-rate search (which
 * steps x1.5 and meets this VM's stalls), so it is the figure to compare hot-path changes by.
 */
async function costMode() {
  const clients = Number(opt('cost-clients', '100'));
  const rate = Number(opt('cost-rate', String(clients * 15_000)));
  const seconds = Number(opt('cost-seconds', '6'));
  const runs = Number(opt('cost-runs', '2'));
  if (SERVERS.includes('gateway') && !ensureBuilt()) process.exit(1);
  const pubs = rate / clients;
  say(
    `cost: fan-out N=${clients}, ${pubs} publications/s (${rate} deliveries/s), ${seconds} s, ${runs} run(s)`,
  );
  const per = {};
  /** Redis's CPU per publication, for the +Redis servers (its whole process: other clients count). */
  const redisPer = {};
  for (let i = 0; i < runs; i++) {
    for (const kind of SERVERS) {
      const s = await fixedRate(kind, { clients, rate, seconds });
      const us = s.serverCpuPct === undefined ? NaN : (s.serverCpuPct / 100) * (1e6 / pubs);
      (per[kind] ??= []).push(us);
      const redisUs = s.redisCpuPct === undefined ? undefined : (s.redisCpuPct / 100) * (1e6 / pubs);
      if (redisUs !== undefined) (redisPer[kind] ??= []).push(redisUs);
      say(
        `${kind}: ${us.toFixed(1)} us CPU per publication (process ${s.serverCpuPct}%, core ${s.serverCorePct}%)` +
          (redisUs !== undefined ? `, Redis ${redisUs.toFixed(1)} us (${s.redisCpuPct}%)` : '') +
          `, delivered ${Math.round(s.deliveredPerSec)}/s, p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms, loss ${s.loss}`,
      );
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const line = Object.entries(per).map(
    ([k, v]) =>
      `${k} ${median(v).toFixed(1)} us` +
      (redisPer[k] ? ` (+ Redis ${median(redisPer[k]).toFixed(1)} us)` : ''),
  );
  if (per.gateway && per.baseline)
    line.push(`gateway/baseline ${(median(per.gateway) / median(per.baseline)).toFixed(2)}`);
  say(`cost per publication (median): ${line.join(', ')}`);
}

// ---- main ----------------------------------------------------------------------------------
async function main() {
  if (FIXED && SERVERS.some((k) => k.endsWith('-redis'))) await probeRedis();
  if (PROFILE) return profileGateway();
  if (flag('cost')) return costMode();
  say(
    `scenarios: ${ONLY.join(', ')}; servers: ${SERVERS.join(', ')}${QUICK ? '; quick' : ''}; fd limit ${FD_LIMIT}`,
  );
  const gatewayOk = SERVERS.some((k) => k.startsWith('gateway')) ? ensureBuilt() : false;
  if (SERVERS.some((k) => k.endsWith('-redis'))) await probeRedis();
  const results = {
    date: new Date().toISOString(),
    quick: QUICK,
    machine: machine(),
    argv,
    redis: redisOk
      ? { url: redactUrl(REDIS_URL), pid: redisPid ?? null, ownPinnedToCpu1: privateRedis !== null }
      : null,
    scenarios: {},
    notes: [],
  };
  for (const key of ONLY) {
    results.scenarios[key] = await runScenario(key, gatewayOk);
    // Written after every scenario, so a run cut short still leaves what it measured.
    writeFileSync(join(TMP, 'partial.json'), JSON.stringify(results, null, 1));
  }
  results.notes = notesFor(results);
  results.seconds = Math.round((Date.now() - t0) / 1000);
  if (SAVE) {
    // Every saved run's target ratios, one line each: the README's verdict is over the last few.
    const file = join(RESULTS, 'history.jsonl');
    const git = (/** @type {string[]} */ args) =>
      execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    // `+`: measured with uncommitted changes to the code (the results themselves aside).
    const dirty = git(['status', '--porcelain', '--', 'src', 'bench', 'scripts', ':(exclude)bench/results']);
    const commit = git(['rev-parse', '--short', 'HEAD']) + (dirty === '' ? '' : '+');
    const entry = historyEntry(results.date, commit, peerTargets(results));
    appendFileSync(file, JSON.stringify(entry) + '\n');
    results.history = readHistory(file).slice(-HISTORY_RUNS);
  }
  // Only a full run with --save replaces what the README embeds; anything else stays in tmp/.
  const dir = SAVE ? RESULTS : TMP;
  const rel = dir.slice(ROOT.length + 1);
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(results, null, 1));
  writeFileSync(join(dir, 'latest.svg'), svgChart(results));
  const md = markdown(results, `${rel}/latest.svg`);
  writeFileSync(join(dir, 'latest.md'), md);
  console.log('\n' + consoleTable(results) + '\n');
  for (const n of results.notes) console.log(`- ${n}`);
  console.log(`\nMarkdown for the README (also in ${rel}/latest.md):\n`);
  console.log(md);
  say(
    `done in ${results.seconds} s: ${rel}/latest.{json,md,svg}` +
      (SAVE ? '' : ' (bench/results/latest.* untouched: a full run with --save updates them)'),
  );
}

main()
  .finally(() => Promise.all([redisCluster?.dispose(), stopPrivateRedis()]))
  .then(
    () => {
      killAll();
      process.exit(0);
    },
    (e) => {
      console.error(e);
      killAll();
      process.exit(1);
    },
  );
