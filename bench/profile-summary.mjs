// Summarizes a .cpuprofile: self time by function (with file:line), by file and by package.
// Usage: node bench/profile-summary.mjs <file.cpuprofile> [top=30]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * @param {string} file
 * @param {number} top
 * @returns {{ totalMs: number, rows: {name: string, where: string, selfMs: number, pct: number}[],
 *   files: {where: string, selfMs: number, pct: number}[], packages: {pkg: string, selfMs: number, pct: number}[] }}
 */
export function summarize(file, top = 30) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  /** @type {Map<number, any>} */
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  /** @type {Map<number, number>} self time in us per node id */
  const self = new Map();
  const { samples, timeDeltas } = prof;
  // timeDeltas[i] is the time before sample i; charge each sample the interval that follows it.
  for (let i = 0; i < samples.length; i++) {
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  let total = 0;
  const byFn = new Map();
  const byFile = new Map();
  const byPkg = new Map();
  const cwd = process.cwd();
  for (const [id, us] of self) {
    total += us;
    const cf = nodes.get(id).callFrame;
    let url = cf.url || '';
    if (url.startsWith('file://')) url = fileURLToPath(url);
    if (url.startsWith('/')) url = relative(cwd, url);
    const where = url ? `${url}:${cf.lineNumber + 1}` : '';
    const name = cf.functionName || (url ? '(anonymous)' : '');
    const key = `${name}\u0000${where}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const fileKey = url || name;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
    let pkg;
    if (!url) pkg = name.startsWith('(') ? name : '(native/V8)';
    else if (url.startsWith('node:')) pkg = 'node core';
    else if (url.includes('node_modules/')) {
      const rest = url.slice(url.lastIndexOf('node_modules/') + 13).split('/');
      pkg = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
    } else pkg = url.split('/')[0] === 'dist' ? 'dist (the gateway)' : url.split('/')[0];
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us);
  }
  const pct = (us) => Math.round((us / total) * 1000) / 10;
  const ms = (us) => Math.round(us / 100) / 10;
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    totalMs: ms(total),
    rows: sorted(byFn)
      .slice(0, top)
      .map(([k, us]) => {
        const [name, where] = k.split('\u0000');
        return { name, where, selfMs: ms(us), pct: pct(us) };
      }),
    files: sorted(byFile)
      .slice(0, 15)
      .map(([where, us]) => ({ where, selfMs: ms(us), pct: pct(us) })),
    packages: sorted(byPkg).map(([pkg, us]) => ({ pkg, selfMs: ms(us), pct: pct(us) })),
  };
}

/** Renders a summary as plain text. */
export function render(sum) {
  const lines = [`total sampled: ${sum.totalMs} ms`, '', 'self time by function:'];
  for (const r of sum.rows)
    lines.push(`${String(r.pct).padStart(5)}%  ${String(r.selfMs).padStart(8)} ms  ${r.name}  ${r.where}`);
  lines.push('', 'self time by file:');
  for (const r of sum.files)
    lines.push(`${String(r.pct).padStart(5)}%  ${String(r.selfMs).padStart(8)} ms  ${r.where}`);
  lines.push('', 'self time by package:');
  for (const r of sum.packages)
    lines.push(`${String(r.pct).padStart(5)}%  ${String(r.selfMs).padStart(8)} ms  ${r.pkg}`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(render(summarize(file, Number(process.argv[3] ?? 30))));
}
