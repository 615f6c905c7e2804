// The Markdown summary a person reads: verdict per family and per rule, each finding with its
// minimal trace, expected vs observed and the replay line, then coverage. Everything that can
// hold adapter text goes through markdown-escape.ts.

import { STATUSES as COLUMNS } from '../spec/index.ts';
import { mdBlock, mdCode, mdText } from './markdown-escape.ts';
import type { Report, ReportFinding } from './suite.ts';

function findingBlock(f: ReportFinding): string {
  return [
    `### ${f.status} ${f.rule} — ${mdText(f.title)}`,
    '',
    `Family \`${f.family || '—'}\`, found after ${f.runsToFailure} sequence(s), shrunk ${f.shrinks} time(s). Finding id ${mdCode(f.id)}.`,
    f.sameCauseAs ? `\nSame cause as ${mdText(f.sameCauseAs.rule)} (finding ${mdCode(f.sameCauseAs.id)}): ${mdText(f.sameCauseAs.why)}\n` : '',
    f.message ? `\n${mdText(f.message)}\n` : '',
    ...(f.trace.length > 0 ? mdBlock(f.trace) : []),
    '',
    `- failing op: ${mdCode(f.op ?? 'reset')}`,
    `- expected: ${f.expected.map(mdCode).join(' or ') || '—'}`,
    `- observed: ${mdCode(f.observed)}`,
    f.replay ? `- replay: ${mdCode(f.replay)}` : '',
    '',
  ].filter((l) => l !== '').join('\n') + '\n';
}

export function reportMarkdown(r: Report): string {
  const out: string[] = [];
  const verdict = r.summary.exitCode === 0 ? 'PASS' : 'FAIL';
  out.push(`# iommu-conformance report — ${mdText(r.adapter.name)} ${mdText(r.adapter.version)}: ${verdict}`, '');
  out.push(`Suite ${r.suiteVersion}, profile ${mdCode(r.adapter.profile)}, seed ${r.budget.seed}, ${r.budget.runs} sequences per family of at most ${r.budget.maxSteps} steps, ${(r.durationMs / 1000).toFixed(1)} s.`, '');
  out.push(`Policies: ${Object.entries(r.adapter.policies).map(([k, v]) => mdCode(`${k}=${v}`)).join(', ')}.`, '');
  out.push('## Families', '', 'Each rule is counted in one row: the first chosen family that lists it.', '');
  out.push(`| family | sequences | ops | ${COLUMNS.join(' | ')} |`, `|---|---:|---:|${COLUMNS.map(() => '---:').join('|')}|`);
  for (const f of r.families) out.push(`| ${mdText(f.id)} | ${f.runs} | ${f.ops} | ${COLUMNS.map((c) => f.counts[c]).join(' | ')} |`);
  out.push(`| **all rules** | | | ${COLUMNS.map((c) => r.summary[c]).join(' | ')} |`);
  out.push('', '## Rules', '', '| rule | level | status | checks | |', '|---|---|---|---:|---|');
  for (const rule of r.rules) out.push(`| ${rule.id} | ${rule.level} | ${rule.status} | ${rule.checks} | ${mdText(rule.reason ?? rule.title)} |`);
  out.push('');
  if (r.findings.length > 0) {
    out.push('## Findings', '');
    for (const f of r.findings) out.push(findingBlock(f));
  }
  if (r.quality.length > 0) {
    out.push('## Quality warnings', '');
    for (const f of r.quality) out.push(findingBlock(f));
  }
  out.push('## Coverage', '', `${r.coverage.sequences} sequences, ${r.coverage.steps} generated ops, skip rate ${(r.coverage.skipRate * 100).toFixed(2)}%.`, '');
  out.push('| op | total | of which probes | outcomes |', '|---|---:|---:|---|');
  for (const [k, v] of Object.entries(r.coverage.ops)) out.push(`| ${mdText(k)} | ${v.total} | ${v.probes} | ${mdText(Object.entries(v.outcomes).map(([o, n]) => `${o} ${n}`).join(', '))} |`);
  out.push('', r.gate.ok ? 'Coverage gate: passed.' : `Coverage gate: FAILED\n\n${r.gate.problems.map((p) => `- ${mdText(p)}`).join('\n')}`, '');
  return out.join('\n');
}
