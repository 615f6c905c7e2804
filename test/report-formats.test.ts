// The JUnit, Markdown and HTML reports, from a real run of an adapter whose name and error
// messages are hostile: JUnit is parsed back by a real XML parser, Markdown and HTML are
// checked for escaping. No browser is needed here (report-html-browser.test.ts opens the page).

import { XMLParser } from 'fast-xml-parser';
import { beforeAll, expect, test } from 'vitest';
import { HOSTILE_SHOWN, Hostile } from './fixtures/hostile-name.ts';
import { reportHtml } from '../runner/report-html.ts';
import { reportJunit } from '../runner/report-junit.ts';
import { reportMarkdown } from '../runner/report-md.ts';
import { ArmSmmuModel } from '../impl/models/arm-smmu/smmu.ts';
import { type Report, runSuite, shellWord } from '../runner/suite.ts';
import { SHRINK_RUNS, hangGuardMs } from './helpers.ts';

const opts = { seed: 3, runs: 60, maxSteps: 30, minOpsPerKind: 0, maxSkipRate: 1 };
let report: Report;

beforeAll(async () => {
  report = await runSuite(new Hostile(), { adapterSpec: 'hostile', ...opts });
}, 120_000);

test('the run found the throw, as ADAPTER_ERROR with the hostile message', () => {
  const f = report.findings.find((x) => x.rule === 'ADAPTER-REPLY');
  expect(f?.status).toBe('ADAPTER_ERROR');
  expect(f?.observed).toContain(HOSTILE_SHOWN);
});

test('JUnit: one suite per family, one case per rule named "<ID> <title>", counts right, text escaped', () => {
  const xml = reportJunit(report);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name) }).parse(xml) as {
    testsuites: { tests: string; failures: string; errors: string; skipped: string; testsuite: { name: string; tests: string; properties: { property: { name: string; value: string }[] }; testcase: { name: string; classname: string; skipped?: { message: string }; error?: { message: string; '#text': string }; failure?: unknown }[] }[] };
  };
  const suites = doc.testsuites.testsuite;
  expect(suites.map((s) => s.name)).toEqual([...new Set(report.rules.map((r) => r.family))]);
  const cases = suites.flatMap((s) => s.testcase);
  expect(cases).toHaveLength(report.rules.length);
  expect(Number(doc.testsuites.tests)).toBe(report.rules.length);
  for (const r of report.rules) {
    const c = cases.find((x) => x.name === `${r.id} ${r.title}`);
    expect(c, r.id).toBeDefined();
    expect(c!.classname).toBe(r.family);
    if (r.status === 'NOT_SUPPORTED') expect(c!.skipped?.message).toBe(r.reason);
  }
  const err = cases.find((c) => c.name.startsWith('ADAPTER-REPLY '))!.error!;
  expect(err.message).toContain(HOSTILE_SHOWN);
  expect(err['#text']).toContain(HOSTILE_SHOWN);
  const props = suites[0]!.properties.property;
  expect(props.find((p) => p.name === 'adapter.name')!.value).toBe(HOSTILE_SHOWN);
  expect(props.find((p) => p.name === 'seed')!.value).toBe('3');
  expect(Number(doc.testsuites.errors)).toBe(report.rules.filter((r) => r.status === 'ADAPTER_ERROR').length);
  expect(Number(doc.testsuites.skipped)).toBe(report.rules.filter((r) => ['NOT_SUPPORTED', 'UNCHECKED', 'INTERRUPTED'].includes(r.status)).length);
});

test('JUnit names are the same whatever the seed (stable history)', async () => {
  const other = await runSuite(new Hostile(), { adapterSpec: 'hostile', ...opts, seed: 99 });
  const names = (xml: string) => [...xml.matchAll(/<testcase name="([^"]*)" classname="([^"]*)"/g)].map((m) => `${m[2]}/${m[1]}`);
  expect(names(reportJunit(other))).toEqual(names(reportJunit(report)));
});

test('Markdown and HTML carry the hostile text as text: no markup of it survives', () => {
  const md = reportMarkdown(report);
  expect(md).not.toContain('<script>');
  expect(md).toContain('&lt;script&gt;window.\\_\\_pwned=1&lt;/script&gt;');
  const html = reportHtml(report);
  expect(html).not.toContain('<script>');
  expect(html).toContain('&lt;script&gt;window.__pwned=1&lt;/script&gt;');
});

test('JUnit: a broken rule is a <failure> with the trace; a quality warning passes with its text in <system-out>', { timeout: hangGuardMs(150 + 60 + SHRINK_RUNS) }, async () => {
  const { default: overmap } = await import('./fixtures/overmap-replaces.ts');
  const bad = await runSuite(overmap(), { adapterSpec: 'test/fixtures/overmap-replaces.ts', ...opts, runs: 150, families: ['page-size-alignment'] });
  const xml = reportJunit(bad);
  const overlap = /<testcase name="MAP-OVERLAP [^"]*" classname="map"[^>]*>\s*<failure message="([^"]*)" type="FAIL">([^<]*)<\/failure>/.exec(xml);
  expect(overlap, xml.slice(0, 2000)).not.toBeNull();
  expect(overlap![1]).toBe('ok');
  expect(overlap![2]).toContain('expected: EADDRINUSE');

  const leaky = await runSuite(new ArmSmmuModel(), { adapterSpec: 'builtin:arm-smmu', ...opts, runs: 60, families: ['symmetric-unmap'] });
  expect(leaky.quality.map((q) => q.rule)).toContain('PT-LEAK');
  const leak = /<testcase name="PT-LEAK [^"]*" classname="fault"[^>]*>\s*<system-out>([^<]*)<\/system-out>/.exec(reportJunit(leaky));
  expect(leak).not.toBeNull();
  expect(leak![1]).toMatch(/empty baseline/);
});

test('the replay line quotes an adapter path a shell would split', () => {
  expect(shellWord('builtin:reference')).toBe('builtin:reference');
  expect(shellWord('./my models/it\'s.ts')).toBe(`'./my models/it'\\''s.ts'`);
});
