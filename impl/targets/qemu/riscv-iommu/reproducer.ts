// riscv-iommu findings as standalone qtest reproducers (../common/reproducer/): what an access's
// outcome means in the reads system.ts labels. The unit's answer to a device access is whether
// it wrote a fault record (FQT moved past where the driver had consumed to, §3.2) and what the
// first record says (iotval is the access's IOVA), and, where the kit could check, the byte the
// access reached: a write's byte, or what a read returned. Ops the kit's core layer answers
// (map, attach, …) are the kit's, not QEMU's: nothing of the unit's can be asserted about them.

import { type Op, type Outcome, isFailure } from '../../../../spec/index.ts';
import type { ReadContext, ReproducerKit } from '../common/reproducer/export.ts';
import type { Assertion } from '../common/reproducer/script.ts';
import { QemuRiscvIommuAdapter } from './adapter.ts';
import { ACCESS_LABELS } from './system.ts';

const hex = (v: bigint) => `0x${v.toString(16)}`;

function accessAssertions(op: Op, expected: Outcome, reads: ReadContext): Assertion[] | string {
  if (op.op !== 'dma') return `the RISC-V IOMMU has no request for ${op.op}: the kit's core layer answers it`;
  const tail = reads.inOp.find((l) => l.name === ACCESS_LABELS.faults);
  if (!tail) return 'no device access was made (the kit answered it)';
  const head = hex(tail.facts?.head ?? 0n);
  const reached = reads.inOp.find((l) => l.name === ACCESS_LABELS.reached);
  const verb = op.access === 'r' ? 'read' : 'write';
  if (isFailure(expected)) {
    if (expected.err !== 'FAULT') return `a device access has no wire form of ${expected.err}`;
    const out: Assertion[] = [{ what: 'the unit writes a fault record (FQT moves)', expr: `${tail.name} != ${head}` }];
    // Where the recording version wrote a record, what it must say: the IOVA refused.
    const iotval = `${ACCESS_LABELS.record}_iotval`;
    if (reads.inOp.some((l) => l.name === iotval)) out.push({ what: `the record's iotval is the ${verb}'s IOVA, ${hex(op.iova)}`, expr: `${iotval} == ${hex(op.iova)}` });
    return out;
  }
  const out: Assertion[] = [{ what: 'the unit writes no fault record (FQT stays)', expr: `${tail.name} == ${head}` }];
  if (reached) {
    const byte = hex(reached.facts?.byte ?? 0n);
    out.push({ what: `the ${verb} reaches ${hex(reached.facts?.phys ?? 0n)}, where the tables send it (byte ${byte})`, expr: `(${reached.name} & 0xff) == ${byte}` });
  }
  return out;
}

export const RISCV_IOMMU_REPRODUCER: ReproducerKit = {
  target: 'qemu-riscv-iommu',
  arch: 'riscv64',
  specification: 'the RISC-V IOMMU Architecture Specification v1.0 (a request the device context or the first-stage tables do not permit stops with a fault reported in the fault queue, §2.3, §3.2; an IOTINVAL.VMA with AV invalidates the leaf entries that translate the address, §3.1.1)',
  create: (install, recorder) => new QemuRiscvIommuAdapter({ install, recorder }),
  assertions: accessAssertions,
};
