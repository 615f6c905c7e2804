// Swarm generation (properties/swarm.ts): each sequence switches off some of its family's op
// kinds, never the ones the family exists for; the configuration is drawn with the sequence, so
// a seed gives the same sequences every time; and the reference still passes, with every rule
// it exercised without swarm still exercised.

import fc from 'fast-check';
import { expect, test } from 'vitest';
import { type OpKind, resolvePolicies } from '../spec/index.ts';
import { ReferenceAdapter } from '../impl/reference/adapter.ts';
import { ReferenceModel } from '../impl/reference/model.ts';
import { FAMILIES_OF_PROPERTIES, familyById } from '../properties/families.ts';
import { runFamily } from '../properties/property.ts';
import { Interpreter, rawStepArb } from '../properties/steps.ts';
import { FULL_SWARM, swarmArb, swarmWeights, swarmableKinds } from '../properties/swarm.ts';
import { runSuite } from '../runner/suite.ts';
import { fixedTopology } from './helpers.ts';

const policies = resolvePolicies('linux', {});
const ALL_CAPS = { pasid: true, sva: true, fail_nth: true, lazy_flush: true, iova_to_phys: true };
/** What the interpreter sends when a drawn op has nothing to act on (no domain, no PASID, no bond). */
const FALLBACKS = new Set<OpKind>(['domain_alloc', 'attach', 'pasid_alloc', 'sva_bind']);

test('every family names core kinds it weights, and swarm may switch off only the others', () => {
  for (const f of FAMILIES_OF_PROPERTIES) {
    expect(f.core.length, f.id).toBeGreaterThan(0);
    for (const k of f.core) expect(f.weights[k] ?? 0, `${f.id}: ${k}`).toBeGreaterThan(0);
    for (const k of swarmableKinds(f)) expect(f.core, f.id).not.toContain(k);
  }
});

test('a drawn configuration keeps every core kind weighted, and configurations differ from sequence to sequence', () => {
  for (const f of FAMILIES_OF_PROPERTIES) {
    fc.assert(fc.property(swarmArb(f), (swarm) => {
      const w = swarmWeights(f.weights, swarm);
      for (const k of f.core) expect(w[k], `${f.id}: ${k}`).toBe(f.weights[k]);
    }), { seed: 1, numRuns: 100 });
    const drawn = fc.sample(swarmArb(f), { seed: 2, numRuns: 60 }).map((s) => [...s.off].sort().join(','));
    expect(new Set(drawn).size, f.id).toBeGreaterThan(3);
    // Some sequences keep the plain distribution.
    expect(drawn, f.id).toContain('');
  }
});

test('the same seed draws the same configurations', () => {
  const f = familyById('attach')!;
  expect(fc.sample(swarmArb(f), { seed: 9, numRuns: 30 })).toEqual(fc.sample(swarmArb(f), { seed: 9, numRuns: 30 }));
});

test('a kind switched off is never drawn (only sent as the fallback of an op with nothing to act on)', () => {
  for (const f of FAMILIES_OF_PROPERTIES) {
    fc.assert(fc.property(swarmArb(f), fc.array(rawStepArb, { minLength: 1, maxLength: 30 }), (swarm, steps) => {
      const model = new ReferenceModel(fixedTopology(), policies, ALL_CAPS);
      const interp = new Interpreter(model, Object.entries(swarmWeights(f.weights, swarm)) as [OpKind, number][], ALL_CAPS, f.bias);
      for (const s of steps) {
        const op = interp.next(s);
        if (!FALLBACKS.has(op.op)) expect(swarm.off, `${f.id}: ${op.op}`).not.toContain(op.op);
        model.act(op);
      }
    }), { seed: 3, numRuns: 40 });
  }
});

test('a family run is the same for the same seed; swarm, off by default, changes what it draws', async () => {
  const family = familyById('attach')!;
  const run = async (swarm?: boolean) => {
    const adapter = new ReferenceAdapter();
    const info = adapter.hello();
    const r = await runFamily({ adapter, policies: resolvePolicies('linux', info.policies), capabilities: info.capabilities ?? {}, topologies: 'any' }, family, { seed: 4, runs: 60, maxSteps: 30, ...(swarm === undefined ? {} : { swarm }) });
    expect(r.findings).toEqual([]);
    return JSON.stringify(r.coverage.toJSON());
  };
  const [a, b, plain, byDefault] = [await run(true), await run(true), await run(false), await run()];
  expect(b).toBe(a);
  expect(plain).not.toBe(a);
  expect(byDefault).toBe(plain);
  expect(FULL_SWARM.off).toEqual([]);
});

test('the reference passes every family with swarm, and exercises every rule it exercises without', { timeout: 300_000 }, async () => {
  const opts = { adapterSpec: 'builtin:reference', seed: 7, runs: 150, maxSteps: 40, minOpsPerKind: 5, maxSkipRate: 0.2 };
  const [swarm, plain] = [await runSuite(new ReferenceAdapter(), { ...opts, swarm: true }), await runSuite(new ReferenceAdapter(), opts)];
  for (const r of [swarm, plain]) {
    expect(r.findings).toEqual([]);
    expect(r.gate.problems).toEqual([]);
  }
  const exercised = (r: typeof swarm) => r.rules.filter((x) => x.status === 'PASS').map((x) => x.id);
  expect(exercised(swarm)).toEqual(expect.arrayContaining(exercised(plain)));
});
