// SMMUv3 findings as standalone qtest reproducers (../common/reproducer/): what an access's
// outcome means in the reads system.ts labels. The unit's answer to a device access is whether
// it wrote an event record (EVTQ_PROD moved past where the driver had consumed to, §7.2) and,
// where the kit could check, the byte the access reached: a write's byte, or what a read
// returned. An abort STE terminates without an event (§5.2), so there a FAULT is asserted by
// where the access did not go. Ops the kit's core layer answers (map, attach, …) are the kit's,
// not QEMU's: nothing of the unit's can be asserted about them.

import { type Op, type Outcome, isFailure } from '../../../../spec/index.ts';
import type { ReadContext, ReproducerKit } from '../common/reproducer/export.ts';
import type { Assertion } from '../common/reproducer/script.ts';
import { QemuSmmuv3Adapter } from './adapter.ts';
import { ACCESS_LABELS } from './system.ts';

const hex = (v: bigint) => `0x${v.toString(16)}`;

function accessAssertions(op: Op, expected: Outcome, reads: ReadContext): Assertion[] | string {
  if (op.op !== 'dma') return `the SMMU has no request for ${op.op}: the kit's core layer answers it`;
  const events = reads.inOp.find((l) => l.name === ACCESS_LABELS.events);
  if (!events) return 'no device access was made (the kit answered it)';
  const prod = `(${events.name} & ${hex(events.facts?.index ?? 0xffn)})`;
  const cons = hex(events.facts?.cons ?? 0n);
  const reached = reads.inOp.find((l) => l.name === ACCESS_LABELS.reached);
  const where = reached ? hex(reached.facts?.phys ?? 0n) : '';
  const byte = hex(reached?.facts?.byte ?? 0n);
  const verb = op.access === 'r' ? 'read' : 'write';
  if (isFailure(expected)) {
    if (expected.err !== 'FAULT') return `a device access has no wire form of ${expected.err}`;
    if (events.facts?.silent !== 1n) return [{ what: 'the unit records an event (EVTQ_PROD moves)', expr: `${prod} != ${cons}` }];
    if (!reached) return 'an abort STE records nothing, and where a bypass would send the access is not RAM: nothing to assert';
    return [
      { what: 'no event (an abort STE records none)', expr: `${prod} == ${cons}` },
      { what: `the ${verb} does not reach ${where}, where a bypass would send it`, expr: `(${reached.name} & 0xff) != ${byte}` },
    ];
  }
  const out: Assertion[] = [{ what: 'the unit records no event (EVTQ_PROD stays)', expr: `${prod} == ${cons}` }];
  if (reached) out.push({ what: `the ${verb} reaches ${where}, where the tables send it (byte ${byte})`, expr: `(${reached.name} & 0xff) == ${byte}` });
  return out;
}

export const SMMUV3_REPRODUCER: ReproducerKit = {
  target: 'qemu-smmuv3',
  arch: 'aarch64',
  specification: 'the Arm SMMUv3 architecture specification (IHI 0070: a transaction the stage-1 configuration or tables do not permit takes a translation, permission or access fault, recorded in the event queue when CD.R is set, §3.12, §7.3)',
  create: (install, recorder) => new QemuSmmuv3Adapter({ install, recorder }),
  assertions: accessAssertions,
};
