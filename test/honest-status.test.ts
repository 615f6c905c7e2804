// A rule nothing exercised is never a PASS, in any report format. Runs that leave rules
// unexercised in every way the suite knows (an adapter that throws everywhere, a mutant whose
// rule sits in another family, one replayed case, a run stopped by a signal, a time budget, a
// hello that fails) are written in all four formats, and each format is read back on its own
// terms: JSON rules, JUnit test cases, the Markdown rule table, the HTML rule rows.

import { XMLParser } from 'fast-xml-parser';
import { expect, test } from 'vitest';
import { type Adapter, AdapterFault, type Op, type Outcome, type Topology } from '../spec/index.ts';
import { ReferenceAdapter } from '../impl/reference/adapter.ts';
import { createBuiltin } from '../runner/builtins.ts';
import { reportHtml } from '../runner/report-html.ts';
import { reportJunit } from '../runner/report-junit.ts';
import { reportMarkdown } from '../runner/report-md.ts';
import { type Report, type SuiteOptions, runSuite } from '../runner/suite.ts';
import { SHRINK_RUNS, hangGuardMs } from './helpers.ts';

const base = { seed: 11, runs: 40, maxSteps: 30, minOpsPerKind: 0, maxSkipRate: 1 };

/** Rules each format shows as passed although the run exercised them 0 times. */
function emptyPasses(r: Report): Record<string, string[]> {
  const json = r.rules.filter((x) => x.status === 'PASS' && x.checks === 0).map((x) => x.id);
  const junit = (new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => ['testsuite', 'testcase'].includes(n) })
    .parse(reportJunit(r)) as { testsuites: { testsuite: { testcase: { name: string; assertions: string; failure?: unknown; error?: unknown; skipped?: unknown }[] }[] } })
    .testsuites.testsuite.flatMap((s) => s.testcase)
    .filter((c) => c.failure === undefined && c.error === undefined && c.skipped === undefined && Number(c.assertions) === 0)
    .map((c) => c.name.split(' ')[0]!);
  const md = [...reportMarkdown(r).matchAll(/^\| ([A-Z0-9-]+) \| \w+ \| PASS \| 0 \|/gm)].map((m) => m[1]!);
  const html = [...reportHtml(r).matchAll(/<tr class="rule" data-status="PASS"><th scope="row">(?:<a [^>]*>)?([A-Z0-9-]+)(?:<\/a>)?<\/th><td>\w+<\/td><td>.*?<\/td><td class="num">0<\/td>/g)].map((m) => m[1]!);
  return { json, junit, md, html };
}

function expectHonest(r: Report): void {
  expect(emptyPasses(r)).toEqual({ json: [], junit: [], md: [], html: [] });
  // The reader of each format can tell a pass from a rule nothing reached: the reason is there.
  for (const rule of r.rules.filter((x) => x.checks === 0 && x.status !== 'FAIL' && x.status !== 'CRASH' && x.status !== 'TIMEOUT' && x.status !== 'ADAPTER_ERROR')) {
    expect(rule.reason, rule.id).toBeTruthy();
  }
}

/** The reference, throwing on every op: every rule past the first reply is cut off. */
class ThrowsEverywhere implements Adapter {
  private readonly ref = new ReferenceAdapter();
  hello() {
    return this.ref.hello();
  }
  reset(t: Topology) {
    this.ref.reset(t);
  }
  exec(_op: Op): Outcome {
    throw new Error('broken');
  }
}

const run = (adapter: Adapter, opts: Partial<SuiteOptions> = {}) => runSuite(adapter, { adapterSpec: 'test', ...base, ...opts });

test('the checker notices an empty pass in every format (it is not vacuous)', async () => {
  const r = await run(new ReferenceAdapter(), { families: ['attach'] });
  const forged: Report = { ...r, rules: r.rules.map((x) => (x.id === 'MAP-OK' ? { ...x, status: 'PASS', checks: 0, reason: undefined } : x)) };
  expect(emptyPasses(forged)).toEqual({ json: ['MAP-OK'], junit: ['MAP-OK'], md: ['MAP-OK'], html: ['MAP-OK'] });
});

test('an adapter that throws from exec: findings and unexercised rules, none of them a pass', { timeout: hangGuardMs(8 * base.runs + SHRINK_RUNS) }, async () => {
  const r = await run(new ThrowsEverywhere());
  expect(r.findings.map((f) => f.rule)).toEqual(['ADAPTER-REPLY']);
  expect(r.rules.find((x) => x.id === 'MAP-OK')!.status).toBe('UNCHECKED');
  expectHonest(r);
});

test('a mutant breaking TLB-REMOVED, run on a family that never reaches it', { timeout: hangGuardMs(2 * base.runs + 2 * SHRINK_RUNS) }, async () => {
  const r = await run(createBuiltin('mutant/tlb-no-invalidate', {}), { families: ['symmetric-unmap', 'page-size-alignment'] });
  expect(r.findings.length).toBeGreaterThan(0);
  const removed = r.rules.find((x) => x.id === 'TLB-REMOVED')!;
  if (removed.checks === 0) expect(removed.status).not.toBe('PASS');
  expectHonest(r);
});

test('one replayed case (--path), a run stopped by a signal, a time budget', { timeout: hangGuardMs(200 + SHRINK_RUNS) }, async () => {
  const found = await run(createBuiltin('mutant/tlb-no-invalidate', {}), { families: ['iotlb'], runs: 200 });
  const f = found.findings[0]!;
  const replay = await run(createBuiltin('mutant/tlb-no-invalidate', {}), { families: [f.family], seed: f.seed, path: f.path, ignore: f.ignored });
  expectHonest(replay);
  const stopped = new AbortController();
  stopped.abort();
  const signalled = await run(new ReferenceAdapter(), { signal: stopped.signal });
  expect(signalled.interrupted).toBe(true);
  expect(signalled.rules.filter((x) => x.status === 'INTERRUPTED').length).toBeGreaterThan(0);
  expectHonest(signalled);
  expectHonest(await run(new ReferenceAdapter(), { timeMs: 300 }));
});

test('a hello that fails: one finding, every other rule unchecked with the reason', async () => {
  const failing: Adapter = { hello: () => Promise.reject(new AdapterFault('ADAPTER-CRASH', 'died')), reset: () => {}, exec: () => ({ err: 'ENOSYS' }) };
  const r = await run(failing);
  expect(r.findings.map((f) => [f.rule, f.status])).toEqual([['ADAPTER-CRASH', 'CRASH']]);
  expect(r.summary.exitCode).toBe(1);
  expectHonest(r);
});
