// The kill matrix of the AMD-Vi model's mutant catalogue: every mutant, each a single realistic
// bug, must be found within a fixed budget, named by one of the rules it should break, with a
// short minimal trace. A SHOULD rule (PT-LEAK) is reported as a quality warning, which is not
// shrunk, so such a warning counts as a kill without the length check. The budget is larger
// than the Arm matrix's 400: a detach_pasid bug shows only when a detach names the device
// and PASID of an earlier attach_pasid, which the attach family draws a few times in 1000.

import { expect, test } from 'vitest';
import { RULES, resolveCapabilities, resolvePolicies } from '../spec/index.ts';
import { AMD_MUTANTS } from '../impl/models/amd-vi/mutants.ts';
import { AmdViModel } from '../impl/models/amd-vi/model.ts';
import { familyById } from '../properties/families.ts';
import { runFamily } from '../properties/property.ts';
import { SHRINK_RUNS, hangGuardMs } from './helpers.ts';

const BUDGET = { seed: 1, runs: 1000, maxSteps: 40, maxFindings: 1 };

test('the catalogue: unique amd- ids, known rules and families, a description and a bug class each', () => {
  expect(new Set(AMD_MUTANTS.map((m) => m.id)).size).toBe(AMD_MUTANTS.length);
  expect(AMD_MUTANTS.length).toBeGreaterThanOrEqual(12);
  for (const m of AMD_MUTANTS) {
    expect(m.id.startsWith('amd-'), m.id).toBe(true);
    for (const r of m.rules) expect(RULES.some((x) => x.id === r), `${m.id}: ${r}`).toBe(true);
    expect(familyById(m.family), m.id).toBeDefined();
    expect(m.description.length, m.id).toBeGreaterThan(20);
    expect(m.bugClass.length, m.id).toBeGreaterThan(5);
  }
});

test('the conforming model passes the same budget in every family the catalogue aims at', { timeout: hangGuardMs(2 * 150 * new Set(AMD_MUTANTS.map((m) => m.family)).size) }, async () => {
  for (const family of new Set(AMD_MUTANTS.map((m) => m.family))) {
    for (const top of ['fixed', 'dynamic'] as const) {
      const adapter = new AmdViModel({ top });
      const info = adapter.hello();
      const r = await runFamily(
        { adapter, policies: resolvePolicies('linux', info.policies), capabilities: resolveCapabilities('linux', info.capabilities), topologies: info.topologies ?? 'any' },
        familyById(family)!,
        { ...BUDGET, runs: 150 },
      );
      expect([...r.findings, ...r.quality].map((f) => `${family}/${top}: ${f.rule}`)).toEqual([]);
    }
  }
});

test.each(AMD_MUTANTS.map((m) => [m.id, m] as const))('%s is killed', { timeout: hangGuardMs(BUDGET.runs + SHRINK_RUNS) }, async (_id, m) => {
  const adapter = new AmdViModel({ mutant: m.id, top: m.top });
  const info = adapter.hello();
  const r = await runFamily(
    { adapter, policies: resolvePolicies('linux', info.policies), capabilities: resolveCapabilities('linux', info.capabilities), topologies: info.topologies ?? 'any' },
    familyById(m.family)!,
    BUDGET,
  );
  const reported = [...r.findings, ...r.quality];
  const hit = reported.find((f) => m.rules.includes(f.rule));
  expect(hit, `${m.id} survived; findings: ${reported.map((f) => f.rule).join(', ') || 'none'}`).toBeDefined();
  if (hit!.status === 'FAIL') expect(hit!.trace.filter((e) => !e.probe).length).toBeLessThanOrEqual(8);
});
