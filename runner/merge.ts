// Combining the reports of shards (or of any runs of one adapter) into one: a rule fails if it
// failed anywhere, passes if it passed somewhere and failed nowhere; findings are kept once per
// id; coverage adds up. The result is a report like any other, for every writer.

import { ConfigError, FAILING, type Status, worst } from '../spec/index.ts';
import { FAMILIES_OF_PROPERTIES } from '../properties/families.ts';
import type { CoverageReport } from '../properties/coverage.ts';
import type { FamilyLine, Report } from './suite.ts';

type RuleRow = Report['rules'][number];

/** Across shards: a failure anywhere wins; otherwise having been checked somewhere is a pass. */
function mergeRule(rows: RuleRow[]): RuleRow {
  const checks = rows.reduce((n, r) => n + r.checks, 0);
  const bad = rows.filter((r) => FAILING.has(r.status) || r.status === 'QUALITY_WARNING');
  const pick = bad.length > 0
    ? bad.reduce((a, b) => (worst(a.status, b.status) === a.status ? a : b))
    : rows.find((r) => r.status === 'PASS') ?? rows.reduce((a, b) => (worst(a.status, b.status) === a.status ? a : b));
  const { reason, ...rest } = pick;
  return { ...rest, checks, ...(pick.status !== 'PASS' && reason ? { reason } : {}) };
}

function addCoverage(a: CoverageReport, b: CoverageReport): CoverageReport {
  const ops: CoverageReport['ops'] = structuredClone(a.ops);
  for (const [k, v] of Object.entries(b.ops)) {
    const o = (ops[k] ??= { total: 0, probes: 0, outcomes: {} });
    o.total += v.total;
    o.probes += v.probes;
    for (const [out, n] of Object.entries(v.outcomes)) o.outcomes[out] = (o.outcomes[out] ?? 0) + n;
  }
  const rules = { ...a.rules };
  for (const [k, n] of Object.entries(b.rules)) rules[k] = (rules[k] ?? 0) + n;
  return { ops, rules, sequences: a.sequences + b.sequences, steps: a.steps + b.steps, skipped: a.skipped + b.skipped };
}

export function mergeReports(reports: readonly Report[], names: readonly string[] = reports.map((_, i) => `report ${i + 1}`)): Report {
  if (reports.length === 0) throw new ConfigError('nothing to merge');
  const first = reports[0]!;
  reports.forEach((r, i) => {
    if (r.schema !== first.schema) throw new ConfigError(`${names[i]}: report schema ${r.schema}, not ${first.schema}`);
    if (r.adapter.name !== first.adapter.name || r.adapter.version !== first.adapter.version) {
      throw new ConfigError(`${names[i]}: adapter ${r.adapter.name} ${r.adapter.version}, not ${first.adapter.name} ${first.adapter.version}: merge runs of one adapter only`);
    }
  });

  const rules = first.rules.map((row) => mergeRule(reports.map((r) => r.rules.find((x) => x.id === row.id) ?? { ...row, status: 'UNCHECKED' as Status, checks: 0 })));
  const statusOf = new Map(rules.map((r) => [r.id, r.status]));
  const families: FamilyLine[] = first.families.map((line) => {
    const all = reports.map((r) => r.families.find((f) => f.id === line.id)).filter((f): f is FamilyLine => f !== undefined);
    const counts = Object.fromEntries(Object.keys(line.counts).map((k) => [k, 0])) as FamilyLine['counts'];
    for (const id of FAMILIES_OF_PROPERTIES.find((f) => f.id === line.id)?.rules ?? []) counts[statusOf.get(id) ?? 'UNCHECKED']++;
    return { ...line, runs: all.reduce((n, f) => n + f.runs, 0), ops: all.reduce((n, f) => n + f.ops, 0), ms: Math.max(...all.map((f) => f.ms)), counts };
  });
  const findings = reports.flatMap((r) => r.findings).filter((f, i, all) => all.findIndex((x) => x.id === f.id) === i);
  const quality = reports.flatMap((r) => r.quality).filter((q, i, all) => all.findIndex((x) => x.rule === q.rule) === i);
  const coverage = reports.map((r) => r.coverage as CoverageReport).reduce(addCoverage);
  const drawn = coverage.steps + coverage.skipped;
  const problems = reports.flatMap((r, i) => r.gate.problems.map((p) => `${names[i]}: ${p}`));
  const summary = { ...Object.fromEntries(Object.keys(first.summary).map((k) => [k, 0])), exitCode: 0 } as Report['summary'];
  for (const r of rules) summary[r.status]++;
  summary.exitCode = rules.some((r) => FAILING.has(r.status)) || problems.length > 0 ? 1 : 0;
  return {
    ...first,
    startedAt: reports.map((r) => r.startedAt).sort()[0]!,
    durationMs: Math.max(...reports.map((r) => r.durationMs)),
    merged: [...names],
    interrupted: reports.some((r) => r.interrupted),
    rules,
    families,
    findings,
    quality,
    coverage: { ...coverage, skipRate: drawn === 0 ? 0 : coverage.skipped / drawn },
    gate: { ok: problems.length === 0, problems },
    corpus: null,
    summary,
  };
}
