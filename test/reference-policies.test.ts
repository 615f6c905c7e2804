// The reference adapter is a conforming implementation of every policy it can declare: every
// property family passes on it, with no finding and no quality warning, for each value of each
// policy (the others at the linux defaults) and for every partial_unmap x unmap_hole pair.
// Budgets are counted in sequences; nothing here is timed.

import { expect, test } from 'vitest';
import { type Capabilities, POLICY_DEFS, type Policies, findProfile } from '../spec/index.ts';
import { ReferenceAdapter } from '../impl/reference/adapter.ts';
import { FAMILIES_OF_PROPERTIES } from '../properties/families.ts';
import { runFamily } from '../properties/property.ts';

const RUNS = 300;
const MAX_STEPS = 40;
const SEED = 20240611;

interface Config {
  name: string;
  declared: Partial<Record<string, string>>;
  capabilities?: Capabilities;
}

function configurations(): Config[] {
  const defaults = findProfile('linux')!.defaults as Record<string, string>;
  const out = new Map<string, Config>();
  const add = (declared: Record<string, string>, capabilities?: Capabilities) => {
    // Key on the full resolved policy set, so a value that is the default is run once.
    const full = { ...defaults, ...declared };
    const key = JSON.stringify(full) + JSON.stringify(capabilities ?? null);
    const differs = Object.entries(declared).filter(([k, v]) => defaults[k] !== v);
    const name = (differs.length === 0 ? 'linux defaults' : differs.map(([k, v]) => `${k}=${v}`).join(', ')) + (capabilities ? ` caps=${JSON.stringify(capabilities)}` : '');
    if (!out.has(key)) out.set(key, { name, declared, capabilities });
  };
  for (const def of POLICY_DEFS) for (const v of def.values) add({ [def.key]: v });
  const partial = POLICY_DEFS.find((d) => d.key === 'partial_unmap')!.values;
  const hole = POLICY_DEFS.find((d) => d.key === 'unmap_hole')!.values;
  for (const p of partial) for (const h of hole) add({ partial_unmap: p, unmap_hole: h });
  // Without the leaves capability the layout is never confirmed: every legal layout is in play.
  for (const p of partial) add({ partial_unmap: p }, {});
  return [...out.values()];
}

const CONFIGS = configurations();
const totals = { sequences: 0, ops: 0, steps: 0, runs: 0 };

test('the configurations cover every value of every policy and all 8 partial_unmap x unmap_hole pairs', () => {
  for (const def of POLICY_DEFS) {
    for (const v of def.values) expect(CONFIGS.some((c) => (c.declared[def.key] ?? (findProfile('linux')!.defaults as Record<string, string>)[def.key]) === v), `${def.key}=${v}`).toBe(true);
  }
  const pairs = new Set(CONFIGS.map((c) => `${c.declared.partial_unmap ?? 'whole-leaf'}/${c.declared.unmap_hole ?? 'stop'}`));
  expect(pairs.size).toBe(8);
});

test.each(CONFIGS.map((c) => [c.name, c] as const))('reference passes every family under %s', async (_name, config) => {
  const adapter = new ReferenceAdapter({ policies: config.declared, ...(config.capabilities ? { capabilities: config.capabilities } : {}) });
  const info = adapter.hello();
  const ctx = { adapter, policies: { ...info.policies } as unknown as Policies, capabilities: info.capabilities ?? {}, topologies: 'any' as const };
  for (const family of FAMILIES_OF_PROPERTIES) {
    const r = await runFamily(ctx, family, { seed: SEED, runs: RUNS, maxSteps: MAX_STEPS });
    const detail = r.findings.map((f) => `${f.rule}: expected ${f.expected.join(' | ')}, observed ${f.observed}`).join('\n');
    expect(r.findings, `${family.id} under ${config.name}\n${detail}`).toEqual([]);
    expect(r.quality.map((q) => `${q.rule}: ${q.message ?? q.observed}`), `${family.id} under ${config.name}`).toEqual([]);
    expect(r.runs).toBe(RUNS);
    expect(r.coverage.sequences).toBe(RUNS);
    // Almost nothing drawn is skipped: the generator aims at state that exists.
    expect(r.coverage.steps).toBeGreaterThan(RUNS);
    totals.runs += r.runs;
    totals.sequences += r.coverage.sequences;
    totals.steps += r.coverage.steps;
    for (const c of r.coverage.ops.values()) totals.ops += c.total;
  }
});

test('summary: thousands of sequences checked against the reference', () => {
  expect(totals.sequences).toBe(CONFIGS.length * FAMILIES_OF_PROPERTIES.length * RUNS);
  expect(totals.sequences).toBeGreaterThanOrEqual(1000);
  expect(totals.ops).toBeGreaterThan(totals.steps);
  console.log(`reference: ${totals.sequences} sequences, ${totals.ops} ops across ${CONFIGS.length} policy configurations`);
});
