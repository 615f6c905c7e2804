// What every guest-driver kit shares: its core layer, the reference model's API semantics under
// the architecture's policies, decides each reply except a device access's (declared in hello as
// the kit's, AdapterInfo.kit, so no rule is credited to the emulator for them); the driver then
// makes the unit do what the core layer decided. These helpers tell the driver what changed.

import type { OpKind } from '../../../../spec/index.ts';
import type { ReferenceModel } from '../../../reference/model.ts';

/** The ops whose replies the kit's core layer gives: everything but a device access. */
export const KIT_OPS: OpKind[] = ['domain_alloc', 'domain_free', 'attach', 'detach', 'attach_pasid', 'detach_pasid', 'map', 'unmap'];

/** [start, end) of IOVA. */
export type Interval = [bigint, bigint];

/** The mapped intervals within a largest page of [iova, iova+size): all an unmap can remove. */
export function coverage(model: ReferenceModel, handle: string, iova: bigint, size: bigint): Interval[] {
  const maps = model.domain(handle)?.mappings;
  if (!maps) return [];
  const reach = 1n << 30n;
  const lo = iova > reach ? iova - reach : 0n;
  return maps.intersecting(lo, iova + size + reach).map((m) => [m.iova, m.iova + m.size]);
}

/** The parts of sorted, disjoint intervals `a` that sorted, disjoint intervals `b` do not cover. */
export function subtract(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let j = 0;
  for (const [lo0, hi] of a) {
    let lo = lo0;
    while (j < b.length && b[j]![1] <= lo) j++;
    for (let k = j; k < b.length && b[k]![0] < hi; k++) {
      if (b[k]![0] > lo) out.push([lo, b[k]![0]]);
      lo = b[k]![1] > lo ? b[k]![1] : lo;
      if (lo >= hi) break;
    }
    if (lo < hi) out.push([lo, hi]);
  }
  return out;
}
