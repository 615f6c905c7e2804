// Requests a driver cannot send. A MAP or UNMAP of an empty range has no encoding (the driver
// MUST send virt_end > virt_start), nor has one whose last byte, or phys_start, lies beyond
// 2^64 - 1. The driver answers these itself and the device never sees them. The answer is the
// device's own order of checks applied to what the driver knows (is the domain on the device,
// is it a bypass domain, are the flags defined, is the range on the page granularity), then
// the range itself: empty MAP → S_INVAL (the virtio-iommu profile's zero_size_map), empty
// UNMAP → nothing to remove, a range past 2^64 → S_RANGE.
//
// Every request that has an encoding goes to the device, however wrong: its answer is the point.

import type { MapOp, Outcome, UnmapOp } from '../../../../spec/index.ts';
import type { DomainRecord } from './driver.ts';
import { MAP_F } from './requests.ts';

const DEFINED_MAP_FLAGS = MAP_F.READ | MAP_F.WRITE | MAP_F.MMIO;

export interface DriverView {
  domain: DomainRecord;
  /** Does the device have the domain (an endpoint is attached to it)? */
  onDevice: boolean;
  /** Page granularity: the lowest bit of the device's page_size_mask. */
  granule: bigint;
}

const aligned = (v: bigint, g: bigint) => v % g === 0n;

export function unsendableMap(op: MapOp, flags: number, why: 'empty' | 'wraps', v: DriverView): Outcome {
  if (!v.onDevice) return { err: 'ENOENT', msg: 'no such domain on the device' };
  if ((flags & ~DEFINED_MAP_FLAGS) !== 0) return { err: 'EINVAL', msg: 'undefined MAP flags' };
  if (v.domain.bypass) return { err: 'EINVAL', msg: 'MAP on a bypass domain' };
  if (!aligned(op.iova | op.paddr | op.size, v.granule)) return { err: 'ERANGE', msg: 'not on the page granularity' };
  return why === 'empty'
    ? { err: 'EINVAL', msg: 'an empty range has no virt_end > virt_start' }
    : { err: 'ERANGE', msg: 'the range ends beyond 2^64 - 1' };
}

export function unsendableUnmap(op: UnmapOp, why: 'empty' | 'wraps', v: DriverView): Outcome {
  if (!v.onDevice) return { err: 'ENOENT', msg: 'no such domain on the device' };
  if (v.domain.bypass) return { err: 'EINVAL', msg: 'UNMAP on a bypass domain' };
  if (!aligned(op.iova | op.size, v.granule)) return { err: 'EINVAL', msg: 'not on the page granularity' };
  return why === 'empty' ? { ok: {} } : { err: 'ERANGE', msg: 'the range ends beyond 2^64 - 1' };
}
