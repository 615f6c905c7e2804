// The JUnit and HTML reports, from a real run of an adapter whose name and error messages are
// hostile: JUnit is parsed back by a real XML parser, the HTML page is opened in Debian's
// Chromium (playwright-core drives it; `npm run chromium:install` puts it there).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Adapter, Op, Outcome, Topology } from '../spec/index.ts';
import { ReferenceAdapter } from '../impl/reference/adapter.ts';
import { reportHtml } from '../runner/report-html.ts';
import { reportJunit } from '../runner/report-junit.ts';
import { ArmSmmuModel } from '../impl/arm-smmu/smmu.ts';
import { type Report, runSuite, shellWord } from '../runner/suite.ts';

const HOSTILE = '<script>window.__pwned=1</script> & "q" \' ]]> <!-- \u0001';
/** What survives: XML 1.0 cannot carry U+0001, so the JUnit writer replaces it. */
const HOSTILE_XML = HOSTILE.replace('\u0001', '\uFFFD');

/** Correct but for one thing: a zero-size unmap throws, with a message an attacker chose. */
class Hostile implements Adapter {
  private readonly ref = new ReferenceAdapter();
  hello() {
    return { ...this.ref.hello(), name: HOSTILE };
  }
  reset(t: Topology) {
    this.ref.reset(t);
  }
  exec(op: Op): Outcome {
    if (op.op === 'unmap' && op.size === 0n) throw new Error(HOSTILE);
    return this.ref.exec(op);
  }
}

const opts = { seed: 3, runs: 60, maxSteps: 30, minOpsPerKind: 0, maxSkipRate: 1 };
let report: Report;
let browser: Browser;

beforeAll(async () => {
  report = await runSuite(new Hostile(), { adapterSpec: 'hostile', ...opts });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

test('the run found the throw, as ADAPTER_ERROR with the hostile message', () => {
  const f = report.findings.find((x) => x.rule === 'ADAPTER-REPLY');
  expect(f?.status).toBe('ADAPTER_ERROR');
  expect(f?.observed).toContain(HOSTILE);
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
  expect(err.message).toContain(HOSTILE_XML);
  expect(err['#text']).toContain(HOSTILE_XML);
  const props = suites[0]!.properties.property;
  expect(props.find((p) => p.name === 'adapter.name')!.value).toBe(HOSTILE_XML);
  expect(props.find((p) => p.name === 'seed')!.value).toBe('3');
  expect(Number(doc.testsuites.errors)).toBe(report.rules.filter((r) => r.status === 'ADAPTER_ERROR').length);
  expect(Number(doc.testsuites.skipped)).toBe(report.rules.filter((r) => ['NOT_SUPPORTED', 'UNCHECKED', 'INTERRUPTED'].includes(r.status)).length);
});

test('JUnit names are the same whatever the seed (stable history)', async () => {
  const other = await runSuite(new Hostile(), { adapterSpec: 'hostile', ...opts, seed: 99 });
  const names = (xml: string) => [...xml.matchAll(/<testcase name="([^"]*)" classname="([^"]*)"/g)].map((m) => `${m[2]}/${m[1]}`);
  expect(names(reportJunit(other))).toEqual(names(reportJunit(report)));
});

test('HTML renders in Chromium with no console error, hostile text shown as text, a bar per op kind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'html-'));
  const file = join(dir, 'report.html');
  writeFileSync(file, reportHtml(report));
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(pathToFileURL(file).href);
  await expect.poll(() => page.locator('#verdict').textContent()).toContain('FAIL');
  expect(await page.locator('#rules tr.rule').count()).toBe(report.rules.length);
  expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(await page.locator('script').count()).toBe(0);
  const body = (await page.locator('body').textContent()) ?? '';
  expect(body).toContain(HOSTILE);
  expect(await page.locator('svg.chart g.bar').count()).toBe(Object.keys(report.coverage.ops).length);
  expect(await page.locator('.finding').count()).toBe(report.findings.length);
  expect(problems).toEqual([]);
  await page.close();
});

test('JUnit: a broken rule is a <failure> with the trace; a quality warning passes with its text in <system-out>', { timeout: 120_000 }, async () => {
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
