// The reference adapter is a conforming implementation of every policy it can declare: every
// property family passes on it, with no finding and no quality warning, under both profiles,
// for each value of each policy (the others at the profile's defaults) and for every
// partial_unmap x unmap_hole pair.
// Budgets are counted in sequences; nothing here is timed.

import { expect, test } from 'vitest';
import { type Capabilities, POLICY_DEFS, type Policies, findProfile } from '../spec/index.ts';
import { ReferenceAdapter } from '../impl/reference/adapter.ts';
import { FAMILIES_OF_PROPERTIES } from '../properties/families.ts';
import { runFamily } from '../properties/property.ts';

const RUNS = 200;
const MAX_STEPS = 40;
const SEED = 20240611;

interface Config {
  name: string;
  profile: string;
  declared: Partial<Record<string, string>>;
  capabilities?: Capabilities;
}

const PROFILE_NAMES = ['linux', 'virtio-iommu'] as const;

function configurations(): Config[] {
  const out = new Map<string, Config>();
  for (const profile of PROFILE_NAMES) {
    const defaults = findProfile(profile)!.defaults as Record<string, string>;
    const add = (declared: Record<string, string>, capabilities?: Capabilities) => {
      // Key on the full resolved policy set, so a value that is the default is run once.
      const full = { ...defaults, ...declared };
      const key = profile + JSON.stringify(full) + JSON.stringify(capabilities ?? null);
      const differs = Object.entries(declared).filter(([k, v]) => defaults[k] !== v);
      const name = `${profile}: ` + (differs.length === 0 ? 'defaults' : differs.map(([k, v]) => `${k}=${v}`).join(', ')) + (capabilities ? ` caps=${JSON.stringify(capabilities)}` : '');
      if (!out.has(key)) out.set(key, { name, profile, declared, capabilities });
    };
    for (const def of POLICY_DEFS) for (const v of def.values) add({ [def.key]: v });
    const partial = POLICY_DEFS.find((d) => d.key === 'partial_unmap')!.values;
    const hole = POLICY_DEFS.find((d) => d.key === 'unmap_hole')!.values;
    for (const p of partial) for (const h of hole) add({ partial_unmap: p, unmap_hole: h });
    // Without the leaves capability the layout is never confirmed: every legal layout is in play.
    if (profile === 'linux') for (const p of partial) add({ partial_unmap: p }, { dma_phys: true, lazy_flush: true, fail_nth: true, pasid: true, sva: true });
  }
  return [...out.values()];
}

const CONFIGS = configurations();
const totals = { sequences: 0, ops: 0, steps: 0, runs: 0 };

test('the configurations cover every value of every policy under both profiles, and all 8 partial_unmap x unmap_hole pairs', () => {
  for (const profile of PROFILE_NAMES) {
    const defaults = findProfile(profile)!.defaults as Record<string, string>;
    const mine = CONFIGS.filter((c) => c.profile === profile);
    for (const def of POLICY_DEFS) {
      for (const v of def.values) expect(mine.some((c) => (c.declared[def.key] ?? defaults[def.key]) === v), `${profile} ${def.key}=${v}`).toBe(true);
    }
    const pairs = new Set(mine.map((c) => `${c.declared.partial_unmap ?? defaults.partial_unmap}/${c.declared.unmap_hole ?? defaults.unmap_hole}`));
    expect(pairs.size).toBe(8);
  }
});

test.each(CONFIGS.map((c) => [c.name, c] as const))('reference passes every family under %s', async (_name, config) => {
  const adapter = new ReferenceAdapter({ profile: config.profile, policies: config.declared, ...(config.capabilities ? { capabilities: config.capabilities } : {}) });
  const info = adapter.hello();
  const capabilities = info.capabilities ?? {};
  const ctx = { adapter, profile: config.profile, policies: { ...info.policies } as unknown as Policies, capabilities, topologies: 'any' as const };
  for (const family of FAMILIES_OF_PROPERTIES) {
    if ((family.requires ?? []).some((c) => !capabilities[c])) continue;
    const r = await runFamily(ctx, family, { seed: SEED, runs: RUNS, maxSteps: MAX_STEPS });
    const runs = Math.max(1, Math.round(RUNS * (family.budgetShare ?? 1)));
    const detail = r.findings.map((f) => `${f.rule}: expected ${f.expected.join(' | ')}, observed ${f.observed}`).join('\n');
    expect(r.findings, `${family.id} under ${config.name}\n${detail}`).toEqual([]);
    expect(r.quality.map((q) => `${q.rule}: ${q.message ?? q.observed}`), `${family.id} under ${config.name}`).toEqual([]);
    expect(r.runs).toBe(runs);
    expect(r.coverage.sequences).toBe(runs);
    // Almost nothing drawn is skipped: the generator aims at state that exists.
    expect(r.coverage.steps).toBeGreaterThan(runs);
    totals.runs += r.runs;
    totals.sequences += r.coverage.sequences;
    totals.steps += r.coverage.steps;
    for (const c of r.coverage.ops.values()) totals.ops += c.total;
  }
});

test('summary: thousands of sequences checked against the reference', () => {
  expect(totals.sequences).toBeGreaterThanOrEqual(CONFIGS.length * 4 * RUNS);
  expect(totals.ops).toBeGreaterThan(totals.steps);
  console.log(`reference: ${totals.sequences} sequences, ${totals.ops} ops across ${CONFIGS.length} policy configurations of ${PROFILE_NAMES.length} profiles`);
});
