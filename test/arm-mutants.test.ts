// The kill matrix of the Arm model's mutant catalogue: every mutant, each a single realistic
// bug, must be found within a small fixed budget, named by one of the rules it should break.

import { expect, test } from 'vitest';
import { RULES } from '../spec/index.ts';
import { ARM_MUTANTS } from '../impl/models/arm-smmu/mutants.ts';
import { ArmSmmuModel } from '../impl/models/arm-smmu/smmu.ts';
import { familyById } from '../properties/families.ts';
import { runFamily } from '../properties/property.ts';
import { SHRINK_RUNS, hangGuardMs } from './helpers.ts';

const BUDGET = { seed: 1, runs: 400, maxSteps: 40, maxFindings: 1 };

test('the catalogue: unique ids, known rules and families, a description and a bug class each', () => {
  expect(new Set(ARM_MUTANTS.map((m) => m.id)).size).toBe(ARM_MUTANTS.length);
  for (const m of ARM_MUTANTS) {
    for (const r of m.rules) expect(RULES.some((x) => x.id === r), `${m.id}: ${r}`).toBe(true);
    expect(familyById(m.family), m.id).toBeDefined();
    expect(m.description.length, m.id).toBeGreaterThan(20);
    expect(m.bugClass.length, m.id).toBeGreaterThan(5);
  }
});

test.each(ARM_MUTANTS.map((m) => [m.id, m] as const))('%s is killed', { timeout: hangGuardMs(BUDGET.runs + SHRINK_RUNS) }, async (_id, m) => {
  const adapter = new ArmSmmuModel({ mutant: m.id, partialUnmap: m.partialUnmap });
  const info = adapter.hello();
  const { resolvePolicies } = await import('../spec/index.ts');
  const r = await runFamily(
    { adapter, policies: resolvePolicies('linux', info.policies), capabilities: info.capabilities ?? {}, topologies: info.topologies ?? 'any' },
    familyById(m.family)!,
    BUDGET,
  );
  const hit = r.findings.find((f) => m.rules.includes(f.rule));
  expect(hit, `${m.id} survived; findings: ${r.findings.map((f) => f.rule).join(', ') || 'none'}`).toBeDefined();
  expect(hit!.trace.filter((e) => !e.probe).length).toBeLessThanOrEqual(8);
});
