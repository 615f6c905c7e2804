// One page per matrix (a target checked on several versions of the same software): each judged
// cause and each rule found, against the versions it shows on. A divergence present in an old
// release and gone in a newer one reads as fixed upstream (with the fix, where the cause names
// it); one still present in the newest is a candidate bug report.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDir } from './make-dir.ts';
import { type Target, type TargetOutcome, reportName } from './targets.ts';

interface Column {
  name: string;
  suite: string;
  available: boolean;
  unavailable?: string;
  /** The version has no such device. */
  absent?: string;
}

interface Row {
  rule: string;
  causes: string[];
  /** Per column: found there, not found, the version did not run, or it has no such device. */
  seen: ('found' | 'absent' | 'not run' | 'no device')[];
}

export function writeMatrices(outcomes: readonly [Target, TargetOutcome][], dir = 'reports/third-party'): string[] {
  const byMatrix = new Map<string, [Target, TargetOutcome][]>();
  for (const pair of outcomes) if (pair[0].matrix) byMatrix.set(pair[0].matrix, [...(byMatrix.get(pair[0].matrix) ?? []), pair]);
  const files: string[] = [];
  makeDir(dir);
  for (const [matrix, versions] of byMatrix) {
    const columns: Column[] = versions.map(([t, o]) => ({ name: reportName(t, o), suite: t.suite ?? '', available: o.available, ...(o.unavailable ? { unavailable: o.unavailable } : {}), ...(o.absent ? { absent: o.absent } : {}) }));
    const rows = new Map<string, Row>();
    versions.forEach(([, o], col) => {
      for (const f of o.findings) {
        const key = `${f.rule} ${f.causes.map((c) => c.id).join(',')}`;
        const row = rows.get(key) ?? { rule: f.rule, causes: f.causes.map((c) => c.id), seen: versions.map(([, v]) => (v.available ? 'absent' : v.absent ? 'no device' : 'not run')) };
        row.seen[col] = 'found';
        rows.set(key, row);
      }
    });
    const causes = new Map(versions.flatMap(([, o]) => o.findings.flatMap((f) => f.causes.map((c) => [c.id, c] as const))));
    const newest = columns.length - 1;
    const json = join(dir, `${matrix}.json`);
    writeFileSync(json, JSON.stringify({ matrix, columns, rows: [...rows.values()], causes: Object.fromEntries(causes) }, null, 2) + '\n');
    const md = join(dir, `${matrix}.md`);
    const lines = [
      `# ${matrix}: findings by version`, '',
      `| rule | causes | ${columns.map((c) => `${c.name} (${c.suite})`).join(' | ')} |`,
      `|---|---|${columns.map(() => '---').join('|')}|`,
      ...[...rows.values()].map((r) => `| ${r.rule} | ${r.causes.join(', ') || '**not judged**'} | ${r.seen.map((x) => (x === 'found' ? 'found' : x === 'absent' ? '—' : x)).join(' | ')} |`),
      '',
      ...columns.filter((c) => !c.available).map((c) => (c.absent ? `${c.name}: no device (${c.absent}).` : `${c.name}: not run (${c.unavailable}).`)),
      '',
      '## Causes', '',
      ...[...causes.values()].map((c) => {
        const rowsOf = [...rows.values()].filter((r) => r.causes.includes(c.id));
        const onNewest = rowsOf.some((r) => r.seen[newest] === 'found');
        const status = c.fixed ? `fixed in ${c.fixed.in}${c.fixed.by ? ` by ${c.fixed.by}` : ''}` : onNewest && c.verdict === 'divergence' ? 'present in the newest version: a candidate bug report' : '';
        return `- **${c.id}** (${c.verdict}${status ? `; ${status}` : ''}): ${c.judgement}${c.source ? ` Source: ${c.source}` : ''}`;
      }),
      '',
    ];
    writeFileSync(md, lines.join('\n'));
    files.push(json, md);
  }
  return files;
}
