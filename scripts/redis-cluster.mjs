// A local Redis Cluster of three masters and three replicas from the machine's own redis-server 7
// (no Docker): the tests (test/harness/redis-cluster.ts) and the bench (bench/run.mjs, three masters
// without replicas) start one.
//
//   node scripts/redis-cluster.mjs 7101   # starts 7101..7106, prints REDIS_CLUSTER_NODES, stops on Ctrl-C
//
// Each node runs in its own temporary directory with `--cluster-enabled yes`; `redis-cli --cluster
// create ... --cluster-replicas 1 --cluster-yes` assigns the slots. Everything is stopped by PID.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killByPid, startRedisServer, withAdmin } from './redis-process.mjs';

/**
 * Three masters with a replica each: six cluster nodes on `firstPort`..`firstPort + 5` (their
 * cluster bus on port + 10000). A master is taken for failed after `nodeTimeoutMs` without an
 * answer; its replica is then promoted. `cluster-require-full-coverage no`: while one shard fails
 * over, the other two keep serving. With `replicas: 0`, three masters only (the bench's: the one
 * Redis it compares with has no replica either).
 */
export class RedisClusterSet {
  /**
   * @param {{ firstPort?: number; nodeTimeoutMs?: number; password?: string; replicas?: 0 | 1 }} [options]
   */
  constructor(options = {}) {
    this.firstPort = options.firstPort ?? 7101;
    this.nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
    this.password = options.password;
    this.replicas = options.replicas ?? 1;
    this.ports = Array.from({ length: 3 * (1 + this.replicas) }, (_, i) => this.firstPort + i);
    this.dir = mkdtempSync(join(tmpdir(), 'gw-cluster-'));
    /** @type {Map<number, import('node:child_process').ChildProcess>} */
    this.procs = new Map();
  }

  /** REDIS_CLUSTER_NODES for a gateway. */
  get nodeList() {
    return this.ports.map((p) => `127.0.0.1:${p}`).join(',');
  }

  /** The gateway's environment for Cluster mode (no REDIS_URL). */
  get env() {
    return {
      REDIS_CLUSTER_NODES: this.nodeList,
      ...(this.password !== undefined ? { REDIS_PASSWORD: this.password } : {}),
    };
  }

  /** Starts the nodes, creates the cluster and resolves once every node reports it ok. */
  async start(timeoutMs = 30_000) {
    await Promise.all(this.ports.map((port) => this.startNode(port)));
    const create = spawnSync(
      'redis-cli',
      [
        ...(this.password !== undefined ? ['-a', this.password, '--no-auth-warning'] : []),
        '--cluster',
        'create',
        ...this.ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        String(this.replicas),
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: timeoutMs },
    );
    if (create.status !== 0) {
      await this.dispose();
      throw new Error(
        `redis-cli --cluster create failed (${create.status}):\n${create.stdout}${create.stderr}`,
      );
    }
    await this.settled(timeoutMs);
  }

  /**
   * Resolves once every running node says cluster_state:ok, knows every other running node and
   * sees each slot on a running master (after a start, a failover or a restart).
   * @param {number} [timeoutMs]
   */
  async settled(timeoutMs = 30_000) {
    await poll(
      async () => {
        const live = this.runningPorts();
        for (const port of live) {
          const ok = await this.admin(port, async (r) => {
            const info = String(await r.call('CLUSTER', 'INFO'));
            if (!info.includes('cluster_state:ok')) return false;
            // A replica that never synced would not take over from its master (no data to trust).
            const replication = await r.info('replication');
            if (replication.includes('role:slave') && !replication.includes('master_link_status:up'))
              return false;
            const masters = await this.mastersSeenBy(r);
            const served = masters.reduce((n, m) => n + m.slots, 0);
            return served === 16384 && masters.every((m) => live.includes(m.port));
          }).catch(() => false);
          if (!ok) return false;
        }
        return true;
      },
      timeoutMs,
      'the Redis Cluster to be ok on every node',
    );
  }

  /**
   * The masters as a node sees them: port and number of slots.
   * @returns {Promise<{ port: number; slots: number; id: string }[]>}
   */
  async masters() {
    for (const port of this.runningPorts()) {
      try {
        return await this.admin(port, (r) => this.mastersSeenBy(r));
      } catch {
        /* try the next node */
      }
    }
    throw new Error('no cluster node answered');
  }

  /**
   * The slot ranges and the port of the master serving each, now.
   * @returns {Promise<{ from: number; to: number; port: number }[]>}
   */
  async slotRanges() {
    for (const port of this.runningPorts()) {
      try {
        return await this.admin(port, async (r) => {
          const slots = /** @type {[number, number, [string, number, string]][]} */ (
            await r.call('CLUSTER', 'SLOTS')
          );
          return slots.map(([from, to, master]) => ({ from, to, port: Number(master[1]) }));
        });
      } catch {
        /* try the next node */
      }
    }
    throw new Error('no cluster node answered');
  }

  /**
   * The port of the master serving a key's (or channel's) slot now.
   * @param {string} key
   */
  async masterOf(key) {
    for (const port of this.runningPorts()) {
      try {
        return await this.admin(port, async (r) => {
          const slot = Number(await r.call('CLUSTER', 'KEYSLOT', key));
          const slots = /** @type {[number, number, [string, number, string]][]} */ (
            await r.call('CLUSTER', 'SLOTS')
          );
          const range = slots.find(([from, to]) => slot >= from && slot <= to);
          if (range === undefined) throw new Error(`slot ${slot} is not served`);
          return Number(range[2][1]);
        });
      } catch {
        /* try the next node */
      }
    }
    throw new Error('no cluster node answered');
  }

  /**
   * Moves one slot, with its keys, to the master on `toPort` (what `redis-cli --cluster reshard`
   * does for each slot): IMPORTING/MIGRATING, MIGRATE of its keys, then the new owner on every node.
   * @param {number} slot
   * @param {number} toPort
   */
  async migrateSlot(slot, toPort) {
    const masters = await this.masters();
    const fromPort = await this.masterOfSlot(slot);
    if (fromPort === toPort) return;
    const id = (/** @type {number} */ port) =>
      /** @type {{ id: string }} */ (masters.find((m) => m.port === port)).id;
    const auth = this.password !== undefined ? ['AUTH', this.password] : [];
    await this.admin(toPort, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', id(fromPort)));
    await this.admin(fromPort, async (r) => {
      await r.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', id(toPort));
      for (;;) {
        const keys = /** @type {string[]} */ (await r.call('CLUSTER', 'GETKEYSINSLOT', slot, 100));
        if (keys.length === 0) break;
        await r.call('MIGRATE', '127.0.0.1', toPort, '', 0, 5000, ...auth, 'KEYS', ...keys);
      }
    });
    for (const port of [toPort, fromPort, ...this.runningPorts()]) {
      await this.admin(port, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'NODE', id(toPort))).catch(
        () => undefined,
      );
    }
    await this.settled();
  }

  /**
   * The port of the master serving a slot now.
   * @param {number} slot
   */
  async masterOfSlot(slot) {
    const range = (await this.slotRanges()).find((r) => slot >= r.from && slot <= r.to);
    if (range === undefined) throw new Error(`slot ${slot} is not served`);
    return range.port;
  }

  /**
   * Kills a node with SIGKILL (a crash) and waits for its exit.
   * @param {number} port
   */
  async kill(port) {
    const proc = this.procs.get(port);
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    this.procs.delete(port);
    await killByPid(proc);
  }

  /**
   * Resolves once a replica took over the slots of the master on `oldPort` (killed) and the
   * cluster is ok again on every running node.
   * @param {number} oldPort
   * @param {number} [timeoutMs]
   */
  async failedOver(oldPort, timeoutMs = 30_000) {
    await poll(
      async () => (await this.masters().catch(() => [])).every((m) => m.port !== oldPort),
      timeoutMs,
      `a replica to take over from the master on port ${oldPort}`,
    );
    await this.settled(timeoutMs);
  }

  /**
   * Starts a killed node again with its cluster config: it rejoins as a replica of the master that
   * replaced it (empty, it syncs).
   * @param {number} port
   */
  async restart(port) {
    await this.startNode(port);
    await this.settled();
  }

  /**
   * One command connection to a node, closed afterwards.
   * @template T
   * @param {number} port
   * @param {(r: import('ioredis').Redis) => Promise<T>} run
   * @returns {Promise<T>}
   */
  admin(port, run) {
    return withAdmin(port, run, { password: this.password, connectTimeout: 1000 });
  }

  /** Stops every node by PID (SIGKILL) and removes the directory. */
  async dispose() {
    await Promise.all([...this.procs.keys()].map((port) => this.kill(port)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Ports of the nodes running now. */
  runningPorts() {
    return this.ports.filter((p) => this.procs.has(p));
  }

  /**
   * @param {import('ioredis').Redis} r
   * @returns {Promise<{ port: number; slots: number; id: string }[]>}
   */
  async mastersSeenBy(r) {
    const nodes = String(await r.call('CLUSTER', 'NODES'));
    const out = [];
    for (const line of nodes.trim().split('\n')) {
      const [id, addr, flags, , , , , , ...ranges] = line.split(' ');
      if (!flags.split(',').includes('master') || flags.includes('fail')) continue;
      let slots = 0;
      for (const range of ranges) {
        if (range.startsWith('[')) continue; // a slot being migrated
        const [from, to] = range.split('-').map(Number);
        slots += (to ?? from) - from + 1;
      }
      if (slots > 0) out.push({ id, port: Number(addr.split('@')[0].split(':').at(-1)), slots });
    }
    return out;
  }

  /**
   * @param {number} port
   * @param {number} [timeoutMs]
   */
  async startNode(port, timeoutMs = 10_000) {
    const dir = join(this.dir, String(port));
    mkdirSync(dir, { recursive: true });
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
      '--cluster-node-timeout',
      String(this.nodeTimeoutMs),
      '--cluster-require-full-coverage',
      'no',
      ...(this.password !== undefined ? ['--requirepass', this.password, '--masterauth', this.password] : []),
    ];
    try {
      await startRedisServer(args, port, timeoutMs, (proc) => this.procs.set(port, proc));
    } catch (err) {
      this.procs.delete(port);
      throw err;
    }
  }
}

/**
 * @param {() => Promise<boolean>} check
 * @param {number} timeoutMs
 * @param {string} what
 */
async function poll(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// As a script: start a cluster and keep it until Ctrl-C.
if (import.meta.url === `file://${process.argv[1]}`) {
  const set = new RedisClusterSet({ firstPort: Number(process.argv[2] ?? 7101) });
  await set.start();
  console.log(`REDIS_CLUSTER_NODES=${set.nodeList}`);
  const stop = () => void set.dispose().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
