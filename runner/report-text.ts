// A finding as plain text: what the terminal shows after a run and what a JUnit <failure>
// carries, so a CI log reads like the terminal.

import type { ReportFinding } from './suite.ts';

export function findingText(f: ReportFinding): string {
  // An op that threw has no reply, so the trace does not show it: name it.
  const unseen = f.op !== null && !f.trace.some((line) => line.startsWith(`${f.op} -> `));
  return [
    `${f.status} ${f.rule} (${f.family})`,
    ...(f.sameCauseAs ? [`  same cause as ${f.sameCauseAs.rule} (finding ${f.sameCauseAs.id}): ${f.sameCauseAs.why}`] : []),
    ...(f.message ? [`  ${f.message}`] : []),
    ...f.trace.map((line) => `  ${line}`),
    ...(unseen ? [`  failing op: ${f.op}`] : []),
    `  expected: ${f.expected.join(' | ') || '—'}`,
    `  observed: ${f.observed}`,
    ...(f.replay ? [`  replay: ${f.replay}`] : []),
    `  finding id: ${f.id} (iommu-conformance replay ${f.id})`,
  ].join('\n');
}
