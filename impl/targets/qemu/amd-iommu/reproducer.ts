// amd-iommu findings as standalone qtest reproducers (../common/reproducer/): what an access's
// outcome means in the reads system.ts labels. The unit's answer to a device access is whether
// it logged an event (EVTLOG_TAIL moved past where the driver had consumed to, §2.5) and what
// the first record says (its address is the access's, §2.5.3), and, where the kit could check,
// the byte the access reached: a write's byte, or what a read returned. Ops the kit's core layer
// answers (map, attach, …) are the kit's, not QEMU's: nothing of the unit's can be asserted.

import { type Op, type Outcome, isFailure } from '../../../../spec/index.ts';
import type { ReadContext, ReproducerKit } from '../common/reproducer/export.ts';
import type { Assertion } from '../common/reproducer/script.ts';
import { QemuAmdIommuAdapter } from './adapter.ts';
import { ACCESS_LABELS } from './system.ts';

const hex = (v: bigint) => `0x${v.toString(16)}`;

function accessAssertions(op: Op, expected: Outcome, reads: ReadContext): Assertion[] | string {
  if (op.op !== 'dma') return `the AMD IOMMU has no request for ${op.op}: the kit's core layer answers it`;
  const tail = reads.inOp.find((l) => l.name === ACCESS_LABELS.events);
  if (!tail) return 'no device access was made (the kit answered it)';
  const head = hex(tail.facts?.head ?? 0n);
  const moved = `(${tail.name} & 0x7fff0) != ${head}`;
  const reached = reads.inOp.find((l) => l.name === ACCESS_LABELS.reached);
  const verb = op.access === 'r' ? 'read' : 'write';
  if (isFailure(expected)) {
    if (expected.err !== 'FAULT') return `a device access has no wire form of ${expected.err}`;
    const out: Assertion[] = [{ what: 'the unit logs an event (EVTLOG_TAIL moves)', expr: moved }];
    // Where the recording version logged a record, what it must say: the address refused.
    const address = `${ACCESS_LABELS.record}_address`;
    if (reads.inOp.some((l) => l.name === address)) {
      const page = op.iova & ~0xfffn;
      out.push(page === op.iova
        ? { what: `the record's address is the ${verb}'s, ${hex(op.iova)}`, expr: `${address} == ${hex(op.iova)}` }
        : { what: `the record's address is the ${verb}'s, ${hex(op.iova)} (or its page)`, expr: `${address} == ${hex(op.iova)} or ${address} == ${hex(page)}` });
    }
    return out;
  }
  const out: Assertion[] = [{ what: 'the unit logs no event (EVTLOG_TAIL stays)', expr: `(${tail.name} & 0x7fff0) == ${head}` }];
  if (reached) {
    const byte = hex(reached.facts?.byte ?? 0n);
    out.push({ what: `the ${verb} reaches ${hex(reached.facts?.phys ?? 0n)}, where the tables send it (byte ${byte})`, expr: `(${reached.name} & 0xff) == ${byte}` });
  }
  return out;
}

export const AMD_IOMMU_REPRODUCER: ReproducerKit = {
  target: 'qemu-amd-iommu',
  arch: 'x86_64',
  specification: 'the AMD I/O Virtualization Technology (IOMMU) Specification (48882: a request the device table entry or the I/O page tables do not permit is target-aborted and logged as IO_PAGE_FAULT with the faulting address, §2.5.3)',
  create: (install, recorder) => new QemuAmdIommuAdapter({ install, recorder }),
  assertions: accessAssertions,
};
