// The page sizes a drawn domain_alloc asks for: any non-empty subset of the IOMMU's (DOM-PGSIZE
// allows it), the smallest page left out included, so bugs that need a domain whose smallest
// page is larger than its IOMMU's are in reach; and now and then an impossible request.

import fc from 'fast-check';
import { expect, test } from 'vitest';
import { type DomainAllocOp, minPageSize, resolvePolicies } from '../spec/index.ts';
import { ReferenceModel } from '../impl/reference/model.ts';
import { Interpreter, rawStepArb } from '../properties/steps.ts';
import { fixedTopology } from './helpers.ts';

const policies = resolvePolicies('linux', {});

/** Every domain_alloc with a page-size request the interpreter draws from these steps, with its IOMMU's bitmap. */
function requests(steps: readonly (readonly [number, number, number, number, number, number])[]): { asked: bigint; iommu: bigint }[] {
  const model = new ReferenceModel(fixedTopology(), policies, {});
  const interp = new Interpreter(model, [['domain_alloc', 1]], {});
  const out: { asked: bigint; iommu: bigint }[] = [];
  for (const s of steps) {
    const op = interp.next(s) as DomainAllocOp;
    if (op.pgsizes !== undefined) out.push({ asked: op.pgsizes, iommu: model.devices.get(op.dev)!.group.iommu.pgsizes });
    model.act(op);
  }
  return out;
}

test('a requested bitmap is a non-empty subset of the IOMMU\'s, or the one impossible 8K request', () => {
  fc.assert(fc.property(fc.array(rawStepArb, { minLength: 1, maxLength: 20 }), (steps) => {
    for (const { asked, iommu } of requests(steps)) {
      expect(asked).not.toBe(0n);
      if (asked !== 1n << 13n) expect(asked & ~iommu).toBe(0n);
    }
  }), { seed: 11, numRuns: 200 });
});

test('some drawn domain_alloc leaves out its IOMMU\'s smallest page (a domain of large pages only)', () => {
  let withoutSmallest = 0;
  fc.assert(fc.property(fc.array(rawStepArb, { minLength: 1, maxLength: 20 }), (steps) => {
    for (const { asked, iommu } of requests(steps)) if (asked !== 1n << 13n && minPageSize(asked) > minPageSize(iommu)) withoutSmallest++;
  }), { seed: 12, numRuns: 200 });
  expect(withoutSmallest).toBeGreaterThan(0);
});
