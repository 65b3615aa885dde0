export const HISTORY_RUNS: number;

export interface HistoryTarget {
  key: string;
  a: string;
  b: string;
  target: number;
  what: string;
  /** null: not measured, or a side had no passing step. */
  ratio: number | null;
}

export interface HistoryEntry {
  date: string;
  commit: string;
  targets: HistoryTarget[];
}

export function historyEntry(
  date: string,
  commit: string,
  targets: { key: string; a: string; b: string; target: number; what: string; ratio?: number }[],
): HistoryEntry;

export function readHistory(file: string): HistoryEntry[];

export function median(xs: number[]): number;

export function historyVerdicts(
  entries: HistoryEntry[],
  count?: number,
): (HistoryTarget & { ratios: (number | null | undefined)[]; median: number; ok: boolean })[];

export function historyTable(entries: HistoryEntry[], count?: number): string[];
