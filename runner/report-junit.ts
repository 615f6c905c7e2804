// JUnit XML for CI test dashboards: one <testsuite> per rule family, one <testcase> per rule,
// named "<ID> <title>" so a rule keeps its history across runs and seeds. xmlbuilder escapes
// every string and replaces the characters XML 1.0 forbids: an adapter's name and messages can
// hold anything.

import xmlbuilder from 'xmlbuilder';
import type { Status } from '../spec/index.ts';
import { findingText } from './report-text.ts';
import type { Report } from './suite.ts';

/** What the CLI knows about the run that the report does not record. */
export interface RunContext {
  /** The fast-check path, when the run replayed one case. */
  path?: string;
}

type Verdict = 'passed' | 'failure' | 'error' | 'skipped';

// A broken rule is a <failure>; an adapter that broke the protocol is an <error> (the rule could
// not be judged). Statuses that judged nothing are skipped, never passed.
const VERDICT: Record<Status, Verdict> = {
  PASS: 'passed',
  QUALITY_WARNING: 'passed',
  FAIL: 'failure',
  ADAPTER_ERROR: 'error',
  CRASH: 'error',
  TIMEOUT: 'error',
  NOT_SUPPORTED: 'skipped',
  UNCHECKED: 'skipped',
  INTERRUPTED: 'skipped',
};

/** Shown as U+FFFD, so a reader sees that a character was there. */
const INVALID_CHAR = '\uFFFD';

function properties(r: Report, ctx: RunContext): [string, string][] {
  const declared = Object.entries(r.adapter.capabilities).filter(([, on]) => on).map(([c]) => c);
  return [
    ['suite.version', r.suiteVersion],
    ['adapter.name', r.adapter.name],
    ['adapter.version', r.adapter.version],
    ['adapter.spec', r.adapter.spec],
    ['adapter.profile', r.adapter.profile],
    ...Object.entries(r.adapter.policies).map(([k, v]): [string, string] => [`policy.${k}`, v]),
    ['adapter.capabilities', declared.join(',')],
    ['seed', String(r.budget.seed)],
    ...(ctx.path !== undefined ? [['path', ctx.path] as [string, string]] : []),
    ['runs', String(r.budget.runs)],
    ['max-steps', String(r.budget.maxSteps)],
    ['started-at', r.startedAt],
  ];
}

type Counts = Record<Verdict, number>;
const zero = (): Counts => ({ passed: 0, failure: 0, error: 0, skipped: 0 });
const attrs = (tests: number, c: Counts) => ({ tests, failures: c.failure, errors: c.error, skipped: c.skipped });

export function reportJunit(r: Report, ctx: RunContext = {}): string {
  const root = xmlbuilder.create('testsuites', { version: '1.0', encoding: 'UTF-8', invalidCharReplacement: INVALID_CHAR });
  root.att('name', 'iommu-conformance');
  const families = [...new Set(r.rules.map((rule) => rule.family))];
  const total = zero();
  for (const family of families) {
    const rules = r.rules.filter((rule) => rule.family === family);
    const counts = zero();
    for (const rule of rules) counts[VERDICT[rule.status]]++;
    for (const k of Object.keys(total) as Verdict[]) total[k] += counts[k];

    const suite = root.ele('testsuite', { name: family, ...attrs(rules.length, counts), timestamp: r.startedAt });
    const props = suite.ele('properties');
    for (const [name, value] of properties(r, ctx)) props.ele('property', { name, value });

    for (const rule of rules) {
      const tc = suite.ele('testcase', { name: `${rule.id} ${rule.title}`, classname: family, assertions: rule.checks });
      const verdict = VERDICT[rule.status];
      if (verdict === 'failure' || verdict === 'error') {
        const findings = r.findings.filter((f) => f.rule === rule.id);
        const main = findings.find((f) => f.status === rule.status) ?? findings[0];
        tc.ele(verdict, { message: main?.observed ?? rule.status, type: rule.status }, findings.map(findingText).join('\n\n') || rule.status);
      } else if (verdict === 'skipped') {
        tc.ele('skipped', { message: rule.reason ?? rule.status.toLowerCase() });
      } else if (rule.status === 'QUALITY_WARNING') {
        tc.ele('system-out', {}, r.quality.filter((q) => q.rule === rule.id).map(findingText).join('\n\n'));
      }
    }
  }
  root.att({ ...attrs(r.rules.length, total), time: (r.durationMs / 1000).toFixed(3) });
  return root.end({ pretty: true }) + '\n';
}
