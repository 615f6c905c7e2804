// intel-iommu findings as standalone qtest reproducers (../common/reproducer/): what a VT-d
// access's outcome means in the reads system.ts labels. The unit's answer to a device access is
// its first fault record (F, bit 63 of the upper qword, §11.4.14) and, for a write the kit can
// check, the byte where the tables send it. Ops the kit's core layer answers (map, attach, …)
// are the kit's, not QEMU's: nothing of the unit's can be asserted about them.

import { type Op, type Outcome, isFailure } from '../../../../spec/index.ts';
import type { ReadContext, ReproducerKit } from '../common/reproducer/export.ts';
import type { Assertion } from '../common/reproducer/script.ts';
import { QemuIntelIommuAdapter } from './adapter.ts';
import { ACCESS_LABELS } from './system.ts';

const F_BIT = `((${ACCESS_LABELS.fault} >> 63) & 0x1)`;

function accessAssertions(op: Op, expected: Outcome, reads: ReadContext): Assertion[] | string {
  if (op.op !== 'dma') return `the VT-d unit has no request for ${op.op}: the kit's core layer answers it`;
  const fault = reads.inOp.find((l) => l.name === ACCESS_LABELS.fault);
  if (!fault) return 'no device access was made (the kit answered it)';
  if (isFailure(expected)) {
    if (expected.err !== 'FAULT') return `a device access has no wire form of ${expected.err}`;
    return [{ what: 'the unit records a fault (fault record F, bit 63, set)', expr: `${F_BIT} == 0x1` }];
  }
  const out: Assertion[] = [{ what: 'the unit records no fault (fault record F, bit 63, clear)', expr: `${F_BIT} == 0x0` }];
  const landed = reads.inOp.find((l) => l.name === ACCESS_LABELS.landed);
  if (landed && op.access === 'w') {
    const byte = landed.facts?.byte ?? 0n;
    out.push({ what: `the write lands at 0x${(landed.facts?.phys ?? 0n).toString(16)}, where the tables send it (byte 0x${byte.toString(16)})`, expr: `(${landed.name} & 0xff) == 0x${byte.toString(16)}` });
  }
  return out;
}

export const INTEL_IOMMU_REPRODUCER: ReproducerKit = {
  target: 'qemu-intel-iommu',
  arch: 'x86_64',
  specification: 'the Intel VT-d Architecture Specification (chapter 7: a request the paging entries do not permit is a non-recoverable fault, recorded in the fault recording registers unless FPD is set)',
  create: (install, recorder) => new QemuIntelIommuAdapter({ install, recorder }),
  assertions: accessAssertions,
};
