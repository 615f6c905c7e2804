// Worker threads, shards and time budgets: a parallel run finds what a serial one finds, the
// same command gives the same verdicts, shards draw different sequences, and a time budget
// ends the run without failing it.

import { expect, test } from 'vitest';
import { ConfigError } from '../spec/index.ts';
import { loadAdapter } from '../runner/adapters.ts';
import { FAMILY_COST, SLICES_PER_WORKER, parseShard, planSlices, sliceSeed, splitRuns } from '../runner/slices.ts';
import { FAMILIES_OF_PROPERTIES } from '../properties/families.ts';
import { mergeReports } from '../runner/merge.ts';
import { runSuite } from '../runner/suite.ts';
import { SHRINK_RUNS, hangGuardMs } from './helpers.ts';

const FIXTURE = 'test/fixtures/overmap-replaces.ts';

/** runSuite on an adapter loaded as the command line loads it (a process of its own), closed after. */
async function suite(spec: string, opts: Omit<Parameters<typeof runSuite>[1], 'adapterSpec'>) {
  const adapter = await loadAdapter(spec, {});
  return runSuite(adapter, { adapterSpec: spec, ...opts }).finally(() => adapter.close?.());
}
const base = { seed: 5, runs: 120, maxSteps: 30, minOpsPerKind: 0, maxSkipRate: 1 };

test('slices: seeds are distinct per shard and slice, budgets add up, shard syntax is checked', () => {
  const one = { index: 0, count: 1 };
  expect(sliceSeed(7, one, 0)).toBe(7);
  const seeds = new Set([0, 1, 2].flatMap((i) => [0, 1].map((k) => sliceSeed(7, { index: i, count: 3 }, k))));
  expect(seeds.size).toBe(6);
  expect(splitRuns(10, 3)).toEqual([4, 3, 3]);
  expect(splitRuns(1, 2)).toEqual([1]);
  expect(parseShard('2/4')).toEqual({ index: 1, count: 4 });
  for (const bad of ['0/4', '5/4', '1/0', 'x', '1-2']) expect(() => parseShard(bad), bad).toThrow(ConfigError);
});

test('slices of a parallel run: more than the workers, dearest first, the same plan every time', () => {
  const plan = planSlices(FAMILIES_OF_PROPERTIES, 1000, 2, false);
  expect(planSlices(FAMILIES_OF_PROPERTIES, 1000, 2, false)).toEqual(plan);
  for (const fam of FAMILIES_OF_PROPERTIES) {
    const slices = plan.filter((p) => p.family === fam.id);
    // Each family's budget is cut into SLICES_PER_WORKER slices per worker and spent in full.
    expect(slices.map((p) => p.slice).sort()).toEqual([0, 1, 2, 3]);
    expect(slices.reduce((n, p) => n + p.runs, 0)).toBe(1000);
    expect(FAMILY_COST[fam.id], `${fam.id} has a cost`).toBeGreaterThan(0);
  }
  expect(SLICES_PER_WORKER).toBe(2);
  // The pool takes them in this order: the dearest family first, the cheapest last, so the
  // worker that finishes first waits only for a small slice.
  const costs = plan.map((p) => FAMILY_COST[p.family]! * p.runs);
  expect(costs).toEqual([...costs].sort((a, b) => b - a));
  expect(plan[0]!.family).toBe('symmetric-unmap');
  expect(plan.at(-1)!.family).toBe('fault-injection');
  // Under a time budget: one slice per worker, in family order (each family has its share of the clock).
  const timed = planSlices(FAMILIES_OF_PROPERTIES, 7, 2, true);
  expect(timed.map((p) => `${p.familyIndex}.${p.slice}`)).toEqual(FAMILIES_OF_PROPERTIES.flatMap((_, i) => [`${i}.0`, `${i}.1`]));
  // A budget smaller than the slices has fewer slices, none empty.
  expect(planSlices(FAMILIES_OF_PROPERTIES.slice(0, 1), 3, 2, false).map((p) => p.runs)).toEqual([1, 1, 1]);
});

test('two workers find the bug a serial run finds, with the same verdicts run after run', { timeout: hangGuardMs(3 * (2 * base.runs + SHRINK_RUNS), 6) }, async () => {
  const run = async (workers: number) => suite(FIXTURE, { adapterOptions: {}, ...base, families: ['page-size-alignment', 'symmetric-unmap'], workers });
  const serial = await run(1);
  const [a, b] = [await run(2), await run(2)];
  expect(serial.findings.map((f) => f.rule)).toContain('MAP-OVERLAP');
  expect(a.findings.map((f) => f.rule)).toContain('MAP-OVERLAP');
  expect(b.findings.map((f) => `${f.rule} ${f.seed} ${f.path}`)).toEqual(a.findings.map((f) => `${f.rule} ${f.seed} ${f.path}`));
  expect(a.budget.workers).toBe(2);
  // Both slices ran: the budget is spent in full across them.
  expect(a.families.map((f) => f.id)).toEqual(['page-size-alignment', 'symmetric-unmap', 'other-rules']);
});

test('the reference passes on two workers; shards of one seed draw different sequences', { timeout: hangGuardMs(2 * base.runs, 6) }, async () => {
  const run = async (shard: { index: number; count: number }) => suite('builtin:reference', { adapterOptions: {}, ...base, families: ['attach'], workers: 2, shard });
  const [s0, s1] = [await run({ index: 0, count: 2 }), await run({ index: 1, count: 2 })];
  expect(s0.findings).toEqual([]);
  expect(s0.summary.exitCode).toBe(0);
  expect(s0.coverage.steps).not.toBe(s1.coverage.steps);
  expect(s1.budget.shard).toEqual({ index: 1, count: 2 });
});

test('a time budget ends the run, without a finding or a gate failure', { timeout: hangGuardMs(0, 2) }, async () => {
  const r = await suite('builtin:reference', { ...base, minOpsPerKind: 20, maxSkipRate: 0.2, families: ['attach', 'iotlb'], timeMs: 3000 });
  // With --time the run count is unbounded: only the deadline can have ended it.
  expect(r.budget.timeMs).toBe(3000);
  expect(r.interrupted).toBe(true);
  expect(r.findings).toEqual([]);
  expect(r.summary.exitCode).toBe(0);
  expect(r.coverage.sequences).toBeGreaterThan(0);
  // How far it got depends on the machine; what it did not reach is never a pass.
  for (const rule of r.rules) if (rule.checks === 0) expect(rule.status, rule.id).not.toBe('PASS');
});

test('two shards merged see exactly what one unsharded run of the same seeds sees', { timeout: hangGuardMs(3 * 2 * (240 + SHRINK_RUNS), 12) }, async () => {
  const families = ['page-size-alignment', 'symmetric-unmap'];
  const run = async (workers: number, runs: number, shard?: { index: number; count: number }) => suite(FIXTURE, { adapterOptions: {}, ...base, runs, families, workers, ...(shard ? { shard } : {}) });
  // Unsharded, four slices: seeds of global slices 0..3. Two shards of two slices: {0, 2} and {1, 3}.
  const whole = await run(4, 240);
  const merged = mergeReports([await run(2, 120, { index: 0, count: 2 }), await run(2, 120, { index: 1, count: 2 })]);
  expect(merged.coverage.sequences).toBe(whole.coverage.sequences);
  expect(merged.coverage.ops).toEqual(whole.coverage.ops);
  expect(merged.rules.map((r) => `${r.id}:${r.status}`)).toEqual(whole.rules.map((r) => `${r.id}:${r.status}`));
  expect(new Set(merged.findings.map((f) => f.rule))).toEqual(new Set(whole.findings.map((f) => f.rule)));
  expect(merged.findings.map((f) => f.rule)).toContain('MAP-OVERLAP');
});
