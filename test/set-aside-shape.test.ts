// Known findings set aside by shape, not by rule (issue 15 item 6): a second bug whose symptom
// falls under a rule already found is still reported, and a target's judged divergences are
// matched on their shape, so a new shape under a known rule is a new finding.

import { describe, expect, test } from 'vitest';
import { type Op, type Outcome, isFailure } from '../spec/index.ts';
import { familyById } from '../properties/families.ts';
import { runFamily } from '../properties/property.ts';
import { failureShape, isSetAside } from '../properties/shape.ts';
import type { Violation } from '../properties/checker.ts';
import { type Expectation, judgedAs } from '../runner/targets.ts';
import { findingsDiff } from '../runner/kernel-mutants.ts';
import { BUDGET, BrokenAdapter } from './broken.ts';

/**
 * Two bugs under MAP-RANGE: a physical range beyond the output width fails with EINVAL (the
 * known one, as a target's judged divergence would be), and an IOVA range beyond the input
 * width is accepted and mapped nowhere (the new one, io-pgtable's missing iaext check).
 */
class TwoRangeBugs extends BrokenAdapter {
  exec(op: Op): Outcome {
    if (op.op === 'map') {
      const d = this.model.domain(op.domain);
      const want = this.model.expect(op)[0]?.canonical;
      if (d && want && isFailure(want) && want.err === this.policies.range_errno) {
        if (op.paddr + op.size > 1n << BigInt(d.oas)) return { err: 'EINVAL' };
        if (op.iova + op.size > 1n << BigInt(d.ias)) return { ok: {} };
      }
    }
    return this.model.act(op);
  }
}

const KNOWN = 'MAP-RANGE: map -> EINVAL (a wrong errno)';
const NEW = 'MAP-RANGE: map -> ok (an error wanted)';

async function mapRangeShapes(setAsideBy: 'rule' | 'shape', ignore: string[] = []): Promise<string[]> {
  const adapter = new TwoRangeBugs('two-range-bugs');
  const r = await runFamily(
    { adapter, profile: adapter.profile, policies: adapter.policies, capabilities: adapter.capabilities, topologies: 'any' },
    familyById('page-size-alignment')!,
    { ...BUDGET, setAsideBy, ignore },
  );
  return r.findings.filter((f) => f.rule === 'MAP-RANGE').map((f) => f.shape).sort();
}

describe('set aside by shape', () => {
  test('two bugs under one rule: by rule the run reports one, by shape both', async () => {
    expect(await mapRangeShapes('rule')).toHaveLength(1);
    expect(await mapRangeShapes('shape')).toEqual([KNOWN, NEW].sort());
  }, 120_000);

  test('a known shape set aside from the start leaves the new bug of its rule reported; the rule set aside hides it', async () => {
    expect(await mapRangeShapes('shape', [KNOWN])).toEqual([NEW]);
    expect(await mapRangeShapes('rule', ['MAP-RANGE'])).toEqual([]);
  }, 120_000);

  test('a shape names the damage a probe saw, whichever probe and wherever: a stale page is one shape', () => {
    const map: Op = { op: 'map', domain: 'd1', iova: 0x1000n, paddr: 0x80000n, size: 0x1000n, prot: 3 };
    const failedMap = { op: map, outcome: { err: 'EEXIST' } as Outcome, probe: false };
    const viaI2p = (iova: bigint, phys: bigint): Violation => {
      const op: Op = { op: 'iova_to_phys', domain: 'd1', iova };
      return { rule: 'MAP-ATOMIC', status: 'FAIL', op, expected: ['ok phys=0x0'], observed: `ok phys=0x${phys.toString(16)}`, trace: [failedMap, { op, outcome: { ok: { phys } }, probe: true }] };
    };
    const viaDma = (iova: bigint): Violation => {
      const op: Op = { op: 'dma', dev: 'dev0', iova, access: 'w' };
      return { rule: 'MAP-ATOMIC', status: 'FAIL', op, expected: ['FAULT'], observed: 'ok', trace: [{ ...failedMap, outcome: { err: 'ERANGE' } }, { op, outcome: { ok: {} }, probe: true }] };
    };
    const shapes = new Set([failureShape(viaI2p(0x1000n, 0x80000n)), failureShape(viaI2p(0xfff000n, 0x1234000n)), failureShape(viaDma(0x1fffn))]);
    expect([...shapes]).toEqual(['MAP-ATOMIC: a page left mapped']);
    // A page lost is another bug: not set aside by the stale page's shape.
    const lost: Violation = { ...viaI2p(0x1000n, 0n), expected: ['ok phys=0x80000'], observed: 'ok phys=0x0' };
    expect(failureShape(lost)).toBe('MAP-ATOMIC: a page lost');
    expect(isSetAside(shapes, lost)).toBe(false);
    expect(isSetAside(new Set(['MAP-ATOMIC']), lost)).toBe(true);
    // A quality warning says where it was seen, nothing about replies it does not have.
    const q: Violation = { rule: 'PT-LEAK', status: 'QUALITY_WARNING', op: { op: 'pt_pages', domain: 'd1' } as Op, expected: [], observed: 'ok pages=3', trace: [] };
    expect(failureShape(q)).toBe('PT-LEAK: a quality warning at pt_pages');
  });
});

describe("a target's judged shapes", () => {
  const entry = (rule: string, shape?: string): Expectation => ({ rule, ...(shape ? { shape } : {}), status: 'FAIL', causes: ['c'], required: true, judgement: rule });
  test('a finding is judged by its own shape; another shape of a shaped rule is new; an entry without a shape judges by rule', () => {
    const known = [entry('MAP-RANGE', KNOWN), entry('UNMAP-HOLE')];
    expect(judgedAs(known, { rule: 'MAP-RANGE', shape: KNOWN })).toBe(known[0]);
    expect(judgedAs(known, { rule: 'MAP-RANGE', shape: NEW })).toBeUndefined();
    expect(judgedAs(known, { rule: 'UNMAP-HOLE', shape: 'UNMAP-HOLE: unmap -> ok with unmapped wrong (want ok)' })).toBe(known[1]);
  });

  test('a kernel mutant that adds a shape under a rule the kernel already breaks is killed', () => {
    const finding = (shape: string) => ({ rule: shape.split(':')[0]!, shape, trace: ['t'], ops: [{ op: 1 }] });
    const rules = [{ id: 'MAP-RANGE', status: 'FAIL' }];
    const kernel = { findings: [finding(KNOWN)], rules };
    expect(findingsDiff({ findings: [finding(KNOWN), finding(NEW)], rules }, kernel)).toEqual(['+MAP-RANGE[map -> ok (an error wanted)]']);
    expect(findingsDiff(kernel, kernel)).toEqual([]);
  });
});
