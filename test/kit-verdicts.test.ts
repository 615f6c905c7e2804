// A guest-driver kit answers some ops from its own software (AdapterInfo.kit): the verdict must
// stay about the device. A rule only kit replies exercised is NOT_SUPPORTED with the reason,
// never PASS; a rule a device reply exercised is judged as ever. Also the hello field on the
// wire, and the drawn invalidation (`inval` on unmap) that only a kit that asks for it gets.

import fc from 'fast-check';
import { expect, test } from 'vitest';
import { ReferenceAdapter } from '../impl/reference/adapter.ts';
import { ReferenceModel } from '../impl/reference/model.ts';
import { Interpreter, rawStepArb } from '../properties/steps.ts';
import { runSuite } from '../runner/suite.ts';
import { type Adapter, type AdapterInfo, type OpKind, PROTOCOL_VERSION, WireError, decodeHello, resolvePolicies } from '../spec/index.ts';
import { fixedTopology } from './helpers.ts';

const KIT_OPS: OpKind[] = ['domain_alloc', 'domain_free', 'attach', 'detach', 'attach_pasid', 'detach_pasid', 'map', 'unmap'];

/** The reference, presented as a device behind a kit that answers everything but device accesses. */
function behindKit(ops: OpKind[]): Adapter {
  const ref = new ReferenceAdapter({ capabilities: { dma_phys: true } });
  return {
    hello: (): AdapterInfo => ({ ...ref.hello(), kit: { name: 'test kit', ops } }),
    reset: (t) => ref.reset(t),
    exec: (op) => ref.exec(op),
  };
}

test('rules only the kit\'s replies exercised are NOT_SUPPORTED with the reason; rules a device access exercised are judged', async () => {
  const r = await runSuite(behindKit(KIT_OPS), { adapterSpec: 'kit', seed: 5, runs: 60, maxSteps: 30, minOpsPerKind: 0, maxSkipRate: 1, families: ['symmetric-unmap', 'iotlb'] });
  expect(r.findings).toEqual([]);
  const rule = (id: string) => r.rules.find((x) => x.id === id)!;
  // An overlapping map is refused by the kit's core layer: nothing about the device.
  expect(rule('MAP-OVERLAP')).toMatchObject({ status: 'NOT_SUPPORTED', checks: 0, reason: expect.stringMatching(/^exercised only through replies of test kit's own software \(\d+ checks on domain_alloc, .*\), never through the device$/) });
  expect(rule('UNMAP-RET').status).toBe('NOT_SUPPORTED');
  // A device access after an unmap is the device's own answer.
  for (const id of ['XLATE-DMA', 'TLB-REMOVED', 'UNMAP-SYM']) expect(rule(id), id).toMatchObject({ status: 'PASS', checks: expect.any(Number) });
  for (const x of r.rules) if (x.status === 'PASS') expect(x.checks, x.id).toBeGreaterThan(0);
  expect(r.adapter.kit).toEqual({ name: 'test kit', ops: KIT_OPS });
});

test('a kit that answers no op changes nothing: the same verdicts as without one', async () => {
  const opts = { adapterSpec: 'kit', seed: 5, runs: 40, maxSteps: 30, minOpsPerKind: 0, maxSkipRate: 1, families: ['symmetric-unmap'] };
  const plain = await runSuite(new ReferenceAdapter({ capabilities: { dma_phys: true } }), opts);
  const empty = await runSuite(behindKit([]), opts);
  expect(empty.rules.map((x) => [x.id, x.status, x.checks])).toEqual(plain.rules.map((x) => [x.id, x.status, x.checks]));
});

test('hello.kit on the wire: decoded as given; an op that is not in the vocabulary is refused', () => {
  const hello = { protocol: PROTOCOL_VERSION, name: 'm', version: '1', profile: 'linux' };
  expect(decodeHello({ ...hello, kit: { name: 'vt-d kit', ops: ['map', 'unmap'] } }).kit).toEqual({ name: 'vt-d kit', ops: ['map', 'unmap'] });
  expect(decodeHello(hello).kit).toBeUndefined();
  expect(() => decodeHello({ ...hello, kit: { name: 'k', ops: ['mapp'] } })).toThrow(WireError);
  expect(() => decodeHello({ ...hello, kit: { ops: [] } })).toThrow(/hello\.kit\.name/);
});

test('unmap, attach and detach carry a drawn invalidation (0..3) only for an adapter that declares invalidation_choice', () => {
  const policies = resolvePolicies('linux', {});
  const draw = (caps: Record<string, boolean>, kind: 'unmap' | 'attach' | 'detach' = 'unmap') => {
    const seen = new Set<number | undefined>();
    fc.assert(fc.property(fc.array(rawStepArb, { minLength: 20, maxLength: 40 }), (steps) => {
      const model = new ReferenceModel(fixedTopology(), policies, caps);
      const interp = new Interpreter(model, [['domain_alloc', 2], ['attach', 2], ['detach', 2], ['map', 4], ['unmap', 4]], caps);
      for (const s of steps) {
        const op = interp.next(s);
        if (op.op === kind) seen.add((op as { inval?: number }).inval);
        model.act(op);
      }
    }), { seed: 3, numRuns: 50 });
    return seen;
  };
  for (const kind of ['unmap', 'attach', 'detach'] as const) {
    expect([...draw({ invalidation_choice: true }, kind)].sort(), kind).toEqual([0, 1, 2, 3]);
    expect([...draw({}, kind)], kind).toEqual([undefined]);
  }
});

test('TLB-REMOVED has nothing to check where an unmap never removes beyond the request: NOT_SUPPORTED with the policy, never UNCHECKED or PASS', async () => {
  for (const [partial, status] of [['refuse', 'NOT_SUPPORTED'], ['split', 'NOT_SUPPORTED'], ['whole-leaf', 'PASS']] as const) {
    const r = await runSuite(new ReferenceAdapter({ policies: { partial_unmap: partial } }), { adapterSpec: 'ref', seed: 5, runs: 60, maxSteps: 30, minOpsPerKind: 0, maxSkipRate: 1, families: ['symmetric-unmap', 'iotlb'] });
    const row = r.rules.find((x) => x.id === 'TLB-REMOVED')!;
    expect(row.status, partial).toBe(status);
    if (status === 'NOT_SUPPORTED') expect(row.reason).toBe(`partial_unmap=${partial}: an unmap removes nothing beyond the range asked, so nothing beyond it is left to invalidate`);
  }
});
