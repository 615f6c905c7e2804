// The post-shrink pass (properties/prune.ts): after fast-check's shrinking, a finding's trace is
// pruned as concrete ops until no single drawn op can go and the same rule still fail — so an
// unused domain_alloc, a map into a domain never used again or a failed attach no longer pad it.

import { expect, test } from 'vitest';
import { type Op, resolveCapabilities, resolvePolicies } from '../spec/index.ts';
import { ARM_MUTANTS } from '../impl/models/arm-smmu/mutants.ts';
import { ArmSmmuModel } from '../impl/models/arm-smmu/smmu.ts';
import { familyById } from '../properties/families.ts';
import { runFamily } from '../properties/property.ts';
import { type SequenceResult, type Violation, runOps } from '../properties/checker.ts';
import { drawnOps, pruneSteps } from '../properties/prune.ts';
import { Coverage } from '../properties/coverage.ts';
import { SHRINK_RUNS, hangGuardMs } from './helpers.ts';
import createEnomemDamage from './fixtures/enomem-leaves-damage.ts';

const domainAlloc = (domain: string): Op => ({ op: 'domain_alloc', domain, type: 'paging', dev: 'dev0' });
const map = (domain: string, iova: bigint): Op => ({ op: 'map', domain, iova, paddr: 0x80000000n, size: 0x1000n, prot: 3 });
const flush = (domain: string): Op => ({ op: 'flush', domain });

/** A stand-in run: fails MAP-OVERLAP whenever d1 is allocated and mapped twice at one IOVA. */
function overlapRun(ops: readonly Op[]): SequenceResult {
  const trace = ops.map((op) => ({ op, outcome: { ok: {} }, probe: false }));
  const maps = ops.filter((o) => o.op === 'map' && o.domain === 'd1' && o.iova === 0n).length;
  const ok = ops.some((o) => o.op === 'domain_alloc' && o.domain === 'd1') && maps >= 2 && ops.at(-1)!.op === 'map';
  const violation: Violation | null = ok ? { rule: 'MAP-OVERLAP', status: 'FAIL', op: ops.at(-1)!, expected: ['EEXIST'], observed: 'ok', trace } : null;
  return { violation, quality: [], ops: trace.length, fired: false };
}

test('the pass drops a handle with all its ops at once, then single ops, and keeps the failure', async () => {
  const ops = [domainAlloc('d1'), domainAlloc('d2'), map('d2', 0x1000n), map('d1', 0n), flush('d1'), flush('d1'), map('d2', 0n), map('d1', 0n)];
  const found = overlapRun(ops).violation!;
  const seen: number[] = [];
  const p = await pruneSteps(found, (c) => {
    seen.push(c.length);
    return overlapRun(c);
  }, 100);
  expect(drawnOps(p.violation)).toEqual([domainAlloc('d1'), map('d1', 0n), map('d1', 0n)]);
  expect(p).toMatchObject({ removed: 5 });
  // dev0 goes first (refused: d1 goes with it), then d2 with its three ops, accepted.
  expect(seen.slice(0, 2)).toEqual([6, 5]);
  // A budget bounds the runs; what was kept so far stands.
  const short = await pruneSteps(found, overlapRun, 2);
  expect(short.runs).toBe(2);
  expect(drawnOps(short.violation)).toHaveLength(5);
});

const PRUNED_MUTANTS = ['tlb-no-invalidate', 'overmap-replaces', 'context-leak-on-detach', 'detach-keeps-ste', 'split-widens-perm'];
const BUDGET = { seed: 1, runs: 400, maxSteps: 40, maxFindings: 1 };

test.each(PRUNED_MUTANTS)('%s: no single drawn op of the reported trace can go with the rule still failing', { timeout: hangGuardMs(BUDGET.runs + 2 * SHRINK_RUNS) }, async (id) => {
  const m = ARM_MUTANTS.find((x) => x.id === id)!;
  const adapter = new ArmSmmuModel({ mutant: m.id, partialUnmap: m.partialUnmap });
  const info = adapter.hello();
  const policies = resolvePolicies('linux', info.policies);
  const capabilities = info.capabilities ?? {};
  const family = familyById(m.family)!;
  const r = await runFamily({ adapter, policies, capabilities, topologies: info.topologies ?? 'any' }, family, BUDGET);
  const f = r.findings.find((x) => m.rules.includes(x.rule))!;
  expect(f, r.findings.map((x) => x.rule).join(', ')).toBeDefined();
  const ops = drawnOps(f);
  const cfg = {
    topology: f.topology, policies, capabilities: resolveCapabilities('linux', capabilities), weights: family.weights, ignore: new Set<string>(), coverage: new Coverage(), lockstep: true,
  };
  for (let i = 0; i < ops.length - 1; i++) {
    const without = [...ops.slice(0, i), ...ops.slice(i + 1)];
    const v = (runOps(adapter, without, cfg) as SequenceResult).violation;
    expect(v?.rule === f.rule && v.status === f.status, `${id}: without op ${i} the trace still fails ${f.rule}:\n${without.map((o) => JSON.stringify(o, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x))).join('\n')}`).toBe(false);
  }
});

test('a map that failed with the injected ENOMEM and damaged the domain is FAIL-ATOMIC, not the later unmap\'s rule, and the finding says why', { timeout: hangGuardMs(100 * 30) }, async () => {
  const adapter = createEnomemDamage();
  const info = adapter.hello() as Awaited<ReturnType<typeof adapter.hello>>;
  const r = await runFamily(
    { adapter, policies: resolvePolicies('linux', info.policies), capabilities: info.capabilities ?? {}, topologies: info.topologies ?? 'any' },
    familyById('fault-injection')!,
    // The family takes a tenth of the runs (budgetShare): 100 sequences, each swept.
    { seed: 1, runs: 1000, maxSteps: 30, maxFindings: 2 },
  );
  const f = r.findings.find((x) => x.rule === 'FAIL-ATOMIC');
  expect(f, r.findings.map((x) => `${x.rule}: ${x.message ?? ''}`).join('\n')).toBeDefined();
  expect(f!.op?.op).toBe('unmap');
  expect(f!.message).toMatch(/^FAIL-ATOMIC suspected: map\(.*\) -> ENOMEM failed under fail_nth\(\d+\), and the ops after it pass when it is left out, so it changed something; the damage showed as UNMAP-\w+/);
  // The same symptom is not reported again under the unmap rule it surfaced as.
  expect(r.findings.filter((x) => x.rule.startsWith('UNMAP-')).map((x) => x.message ?? '')).toEqual([]);
});
