// The ratio targets of every saved full run (bench/run.mjs --save), one JSON line per run in
// bench/results/history.jsonl, and their verdict over the last few runs.
//
// Why: on this kind of VM the host's speed drifts within minutes, and one run's ratio of two servers
// measured minutes apart moved by more than the margin to its target (three full runs at the same
// code met a different subset of the targets each). A target's verdict over the last runs is the
// median of their ratios, each ratio still from one run; every run's ratio is shown beside it.

import { existsSync, readFileSync } from 'node:fs';

/** How many saved runs a verdict looks at (the newest ones). */
export const HISTORY_RUNS = 3;

/**
 * One saved run as history.jsonl keeps it: when, at which commit, and each peer target's ratio
 * (null where it was not measured or a side had no passing step).
 * @param {string} date the run's date (ISO)
 * @param {string} commit
 * @param {{ key: string, a: string, b: string, target: number, what: string, ratio?: number }[]} targets
 *   report.mjs peerTargets of the run
 */
export function historyEntry(date, commit, targets) {
  return {
    date,
    commit,
    targets: targets.map((t) => ({
      key: t.key,
      a: t.a,
      b: t.b,
      target: t.target,
      what: t.what,
      ratio: t.ratio ?? null,
    })),
  };
}

/** The entries of a history file, oldest first ([] when there is none). */
export function readHistory(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Each target of the newest entry over the last `count` entries: their ratios (oldest first; null
 * where a run did not measure it) and the verdict on the median of those it has. A run that named
 * the target but had no ratio (a side with no passing step) counts as a miss: it sorts below any
 * ratio.
 * @param {ReturnType<typeof historyEntry>[]} entries oldest first
 */
export function historyVerdicts(entries, count = HISTORY_RUNS) {
  const last = entries.slice(-count);
  if (last.length === 0) return [];
  const newest = last[last.length - 1];
  return newest.targets.map((t) => {
    const ratios = last.map((e) => {
      const q = e.targets.find((x) => x.key === t.key && x.a === t.a && x.b === t.b);
      if (q === undefined) return undefined;
      return q.ratio;
    });
    const had = ratios.filter((r) => r !== undefined).map((r) => (r === null ? -Infinity : r));
    const mid = median(had);
    return { ...t, ratios, median: mid, ok: mid >= t.target };
  });
}

/** The markdown table of historyVerdicts (empty when there is no history). */
export function historyTable(entries, count = HISTORY_RUNS) {
  const verdicts = historyVerdicts(entries, count);
  if (verdicts.length === 0) return [];
  const last = entries.slice(-count);
  const runs = last.map((e) => `${e.date.slice(0, 16).replace('T', ' ')} (${e.commit})`).join(', ');
  const cell = (r) => (r === undefined ? '-' : r === null ? 'none' : r.toFixed(2));
  const out = [
    `The same targets over the last ${last.length} full runs (${runs}; bench/results/history.jsonl): each ratio from one run, the verdict on their median.`,
    '',
    '| target | ratio in each run, oldest first | median | verdict |',
    '|---|---|---|---|',
  ];
  for (const v of verdicts) {
    const mid = Number.isFinite(v.median) ? `${v.median.toFixed(2)}x` : 'none';
    out.push(
      `| ${v.what} | ${v.ratios.map(cell).join(' / ')} | ${mid} | ${v.ok ? 'met' : 'MISSED'} (>= ${v.target}) |`,
    );
  }
  return out;
}
