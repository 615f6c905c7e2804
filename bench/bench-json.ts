// reports/bench.json is shared by every benchmark: each one replaces its own key and keeps
// the others, so benches can run alone or in sequence (bench/index.ts).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

export const BENCH_FILE = 'reports/bench.json';

export function mergeBench(key: string, value: unknown): void {
  mkdirSync('reports', { recursive: true });
  let bench: Record<string, unknown> = {};
  try {
    bench = JSON.parse(readFileSync(BENCH_FILE, 'utf8')) as Record<string, unknown>;
  } catch {
    // first benchmark of this checkout (or a damaged file, which this rewrites)
  }
  bench[key] = value;
  writeFileSync(BENCH_FILE, JSON.stringify(bench, null, 2) + '\n');
}

/** A fixed-width text table: the first row is the header. */
export function table(rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}
