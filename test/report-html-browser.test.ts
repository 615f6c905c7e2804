// The HTML report opened in Debian's Chromium (playwright-core drives it; `npm run
// chromium:install` puts it at /usr/bin/chromium): it renders without a console error, runs no
// script, shows hostile text as text and draws a bar per op kind. Without Chromium the test says
// so loudly and is skipped (under CI=true it fails: .ci/run installs Chromium).

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { expect, test } from 'vitest';
import { reportHtml } from '../runner/report-html.ts';
import { runSuite } from '../runner/suite.ts';
import { HOSTILE_SHOWN, Hostile } from './fixtures/hostile-name.ts';
import { unavailable } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';

test('HTML renders in Chromium with no console error, hostile text shown as text, a bar per op kind', { timeout: 180_000 }, async (ctx) => {
  if (!existsSync(CHROMIUM)) unavailable(ctx, 'the HTML browser test', `${CHROMIUM} is missing (npm run chromium:install)`);
  const report = await runSuite(new Hostile(), { adapterSpec: 'hostile', seed: 3, runs: 60, maxSteps: 30, minOpsPerKind: 0, maxSkipRate: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'html-'));
  const file = join(dir, 'report.html');
  writeFileSync(file, reportHtml(report));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
  try {
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
    expect((await page.locator('body').textContent()) ?? '').toContain(HOSTILE_SHOWN);
    expect(await page.locator('svg.chart g.bar').count()).toBe(Object.keys(report.coverage.ops).length);
    expect(await page.locator('.finding').count()).toBe(report.findings.length);
    // No rule the run did not exercise is shown as passed.
    for (const row of await page.locator('#rules tr.rule[data-status="PASS"] td.num').allTextContents()) expect(Number(row)).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  } finally {
    await browser.close();
  }
});
