// virtio-iommu findings as standalone qtest reproducers (../common/reproducer/): what an op's
// outcome means in the reads device.ts labels. A request's answer is its status byte in guest
// memory (mapped to errnos as the virtio-iommu profile maps them, the Linux driver's table); a
// device access's is whether the event queue's used index moved (a fault record arrived).

import { type MapOp, type Op, type Outcome, type Topology, type UnmapOp, findProfile, isFailure } from '../../../../spec/index.ts';
import type { ReadContext, ReproducerKit } from '../common/reproducer/export.ts';
import type { Assertion } from '../common/reproducer/script.ts';
import { QemuVirtioIommuAdapter } from './adapter.ts';
import { READ_LABELS } from './device.ts';
import { STATUS_NAMES } from './requests.ts';

const STATUSES = findProfile('virtio-iommu')!.statuses!;
const PAGE = 0x1000n;

/** The status codes a driver reads as this outcome. */
function statusCodes(expected: Outcome): number[] {
  const want = isFailure(expected) ? expected.err : 'ok';
  return STATUS_NAMES.flatMap((name, code) => (STATUSES[name] === want ? [code] : []));
}

function requestAssertions(op: Op & { op: 'attach' | 'detach' | 'map' | 'unmap' }, expected: Outcome, reads: ReadContext): Assertion[] | string {
  const status = [...reads.inOp].reverse().find((l) => l.name === READ_LABELS.status);
  if (!status) return `the driver answered ${op.op} itself: no request reached the device`;
  const codes = statusCodes(expected);
  if (codes.length === 0) return `no virtio status means ${isFailure(expected) ? expected.err : 'ok'}`;
  const byte = `((${status.name} >> ${status.facts?.shift ?? 0n}) & 0xff)`;
  const what = `the device answers ${codes.map((c) => `S_${STATUS_NAMES[c]}`).join(' or ')}`;
  let expr = codes.map((c) => `${byte} == 0x${c.toString(16)}`).join(' or ');
  const beyond = isFailure(expected) && expected.err === 'ERANGE' && (op.op === 'map' || op.op === 'unmap') ? beyondInputRange(op, reads.topology) : null;
  if (beyond && [...READ_LABELS.inputStart, ...READ_LABELS.inputEnd].every((n) => reads.bound.has(n))) {
    // ERANGE because the request leaves the input range the device advertised when the trace
    // was found; a device advertising a range that holds it (QEMU 7.2: all 64 bits) may accept it.
    const [sLo, sHi] = READ_LABELS.inputStart;
    const [eLo, eHi] = READ_LABELS.inputEnd;
    expr = `${expr} or (((${sHi} << 32) | ${sLo}) <= 0x${beyond.start.toString(16)} and ((${eHi} << 32) | ${eLo}) >= 0x${beyond.end.toString(16)})`;
    return [{ what: `${what}, unless the device advertises an input range holding [0x${beyond.start.toString(16)}, 0x${beyond.end.toString(16)}]`, expr }];
  }
  return [{ what, expr }];
}

/** The inclusive range of a page-aligned request that leaves the topology's input range, else null. */
function beyondInputRange(op: MapOp | UnmapOp, t: Topology): { start: bigint; end: bigint } | null {
  const ias = t.iommus[0]?.ias ?? 64;
  const end = op.iova + op.size - 1n;
  if (op.size === 0n || op.iova % PAGE !== 0n || op.size % PAGE !== 0n || ias >= 64 || end < 1n << BigInt(ias)) return null;
  return { start: op.iova, end };
}

function accessAssertions(expected: Outcome, reads: ReadContext): Assertion[] | string {
  const used = reads.inOp.find((l) => l.name === READ_LABELS.eventsUsed);
  if (!used) return 'no device access was made (the driver answered it)';
  const consumed = `0x${(used.facts?.consumed ?? 0n).toString(16)}`;
  const idx = `(${used.name} & 0xffff)`;
  if (!isFailure(expected)) return [{ what: 'no fault record arrives on the event queue', expr: `${idx} == ${consumed}` }];
  if (expected.err !== 'FAULT') return `a device access has no wire form of ${expected.err}`;
  return [{ what: 'a fault record arrives on the event queue', expr: `${idx} != ${consumed}` }];
}

export const VIRTIO_IOMMU_REPRODUCER: ReproducerKit = {
  target: 'qemu-virtio-iommu',
  arch: 'x86_64',
  specification: 'the OASIS virtio 1.2 specification, IOMMU device (requests, their statuses, the input range, fault reports)',
  create: (install, recorder) => new QemuVirtioIommuAdapter({ install, recorder }),
  assertions(op, expected, reads) {
    switch (op.op) {
      case 'attach':
      case 'detach':
      case 'map':
      case 'unmap':
        return requestAssertions(op, expected, reads);
      case 'dma':
        return accessAssertions(expected, reads);
      default:
        return `virtio-iommu has no request for ${op.op}`;
    }
  },
};
