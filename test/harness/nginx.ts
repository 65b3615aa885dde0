import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';
import { PROJECT_ROOT } from './paths.js';
import { poll } from './wait.js';

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

/**
 * deploy/nginx.conf in front of gateway instances (GatewayProcess), with our own prefix, pid file,
 * logs and port; nginx is stopped by its PID. Installed by scripts/install-nginx.sh when missing.
 */
export class Nginx {
  private proc: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'gw-nginx-'));
  port = 0;

  /** Starts nginx; waits until /healthz answers 200 through it, or any answer unless `healthy`. */
  async start(upstreams: number[], healthy = true): Promise<void> {
    this.port = await freePort();
    const template = readFileSync(join(PROJECT_ROOT, 'deploy', 'nginx.conf'), 'utf8');
    const lines: string[] = [];
    let upstreamDone = false;
    for (const line of template.split('\n')) {
      const marker = /#\s*test:\s*(\w+)/.exec(line)?.[1];
      if (marker === 'pid') lines.push(`pid ${this.dir}/nginx.pid;`);
      else if (marker === 'error_log') lines.push(`error_log ${this.dir}/error.log warn;`);
      else if (marker === 'server_error_log')
        lines.push(line.replace(/error_log \S+/, `error_log ${this.dir}/error.log`)); // same level
      else if (marker === 'access_log') {
        lines.push(line.replace(/access_log \S+/, `access_log ${this.dir}/access.log`));
        for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
          lines.push(`${t}_temp_path ${this.dir}/${t};`);
      } else if (marker === 'listen') lines.push(`listen 127.0.0.1:${this.port};`);
      else if (marker === 'upstream') {
        if (!upstreamDone)
          for (const p of upstreams) lines.push(`server 127.0.0.1:${p} max_fails=2 fail_timeout=5s;`);
        upstreamDone = true;
      } else lines.push(line.replace(/^worker_processes .*/, 'worker_processes 1;'));
    }
    writeFileSync(join(this.dir, 'nginx.conf'), lines.join('\n'));
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    const args = [
      '-p',
      this.dir,
      '-c',
      join(this.dir, 'nginx.conf'),
      '-e',
      join(this.dir, 'error.log'),
      '-g',
      'daemon off; master_process off;',
    ];
    execFileSync(NGINX!, [...args, '-t'], { stdio: 'pipe' });
    this.proc = spawn(NGINX!, args, { stdio: 'ignore' });
    await poll(
      async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${this.port}/healthz`);
          await res.arrayBuffer();
          return res.ok || !healthy;
        } catch {
          return false;
        }
      },
      5000,
      'nginx to answer',
    );
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      process.kill(p.pid!, 'SIGQUIT');
      const timer = setTimeout(() => p.exitCode === null && process.kill(p.pid!, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
