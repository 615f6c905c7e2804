// One finding per root cause (issue 15, item 4): one bug that shows under several rules is
// reported once, the others listed under it with the reason. The mutant leaves the stream table
// entry pointing at a detached domain: ATT-DETACH, ISOLATION and ATT-DEFAULT all follow from
// it, and their traces first go wrong at a detach whose effect is wrong.

import { expect, test } from 'vitest';
import { runCli } from './cli-run.ts';
import { hangGuardMs } from './helpers.ts';

const RUNS = 300;
const GUARD = hangGuardMs(RUNS);

test('findings whose traces first go wrong at the same op are listed under the most specific one, with why', { timeout: GUARD }, async () => {
  const r = await runCli(['run', '--adapter', 'builtin:mutant/detach-keeps-ste', '--family', 'domain-types', '--runs', String(RUNS), '--workers', '1', '--no-corpus'], { guardMs: GUARD });
  expect(r.code, r.stderr).toBe(1);
  const findings = r.report().findings;
  const under = findings.filter((f) => f.sameCauseAs);
  expect(under.length, JSON.stringify(findings.map((f) => f.rule))).toBeGreaterThan(0);
  for (const f of under) {
    const root = findings.findIndex((x) => x.id === f.sameCauseAs!.id);
    // The root is reported, not itself listed under another, and comes before what it explains.
    expect(root).toBeGreaterThanOrEqual(0);
    expect(findings[root]!.sameCauseAs).toBeUndefined();
    expect(root).toBeLessThan(findings.indexOf(f));
    expect(f.sameCauseAs!.why).toMatch(/first goes wrong at detach\(.*\) -> ok \(op \d+\).*detach -> ok, its table wrong/);
    expect(r.stdout).toContain(`same cause as ${f.sameCauseAs!.rule} (finding ${f.sameCauseAs!.id})`);
  }
});

test('a bug that breaks one rule gives one finding, left unmarked', { timeout: GUARD }, async () => {
  const r = await runCli(['run', '--adapter', 'builtin:mutant/free-attached', '--family', 'domain-types', '--runs', String(RUNS), '--workers', '1', '--no-corpus', '--quiet'], { guardMs: GUARD });
  const findings = r.report().findings;
  expect(findings.map((f) => f.rule)).toEqual(['DOM-FREE']);
  expect(findings[0]!.sameCauseAs).toBeUndefined();
});
