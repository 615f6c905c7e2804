// The system-wide PASID space and the refcounted allocations of the pasid_* ops. One space, as
// Linux has one (ioasid's xarray, today iommu_global_pasid_ida): an mm's SVA PASID comes from
// it too, so no ID is ever live twice. IDs go lowest first from the asked range, never 0
// (IOMMU_NO_PASID, DMA without a PASID). Allocations are reached through the caller's handle,
// not the bare ID: a put through a handle whose allocation is gone must not drop a reference
// of whoever holds the same ID now (the ioasid_put(id) hazard seed 004's refcounts brought).

import type { Outcome } from '../../../spec/index.ts';
import type { FaultInjector } from './memory.ts';

export class PasidSpace {
  private readonly live = new Set<number>();

  /** The lowest free ID in [lo, hi], taken; null when there is none. */
  take(lo: number, hi: number, allowZero = false): number | null {
    for (let id = allowZero ? lo : Math.max(lo, 1); id <= hi; id++) {
      if (!this.live.has(id)) {
        this.live.add(id);
        return id;
      }
    }
    return null;
  }

  release(id: number): void {
    this.live.delete(id);
  }
}

interface Ioasid {
  id: number;
  refs: number;
  data: string | null;
}

export class PasidAllocations {
  private readonly byHandle = new Map<string, Ioasid>();
  /** Every handle's allocation, freed ones included (what the buggy paths look at). */
  private readonly everByHandle = new Map<string, Ioasid>();
  /** Live allocations by ID (the ioasid xarray). */
  private readonly byId = new Map<number, Ioasid>();

  constructor(
    private readonly space: PasidSpace,
    private readonly faults: FaultInjector,
    private readonly bugs: ReadonlySet<string>,
  ) {}

  /** The ID a live allocation holds (for a DMA naming it). */
  idOf(handle: string): number | undefined {
    return this.byHandle.get(handle)?.id;
  }

  alloc(handle: string, min: number, max: number, data?: string): Outcome {
    if (max < min || min < 0) return { err: 'EINVAL' };
    // ioasid_alloc: the private data is allocated first, then an ID from the xarray.
    if (this.faults.fails()) return { err: 'ENOMEM' };
    const id = this.space.take(min, max, this.bugs.has('pasid-alloc-zero'));
    if (id === null) return { err: 'ENOSPC' };
    const a: Ioasid = { id, refs: 1, data: data ?? null };
    this.byHandle.set(handle, a);
    this.everByHandle.set(handle, a);
    this.byId.set(id, a);
    return { ok: { pasid: id } };
  }

  get(handle: string): Outcome {
    const a = this.byHandle.get(handle);
    if (!a) return { err: 'ENOENT' };
    if (!this.bugs.has('pasid-get-no-ref')) a.refs++;
    return { ok: {} };
  }

  put(handle: string): Outcome {
    // The buggy put goes by the ID the handle once held, as ioasid_put(ioasid_t) does.
    const stale = this.everByHandle.get(handle);
    const a = this.bugs.has('pasid-put-by-id') && stale ? this.byId.get(stale.id) : this.byHandle.get(handle);
    if (!a) return { err: 'ENOENT' };
    if (--a.refs > 0) return { ok: { freed: false } };
    for (const [h, x] of this.byHandle) if (x === a) this.byHandle.delete(h);
    this.byId.delete(a.id);
    this.space.release(a.id);
    return { ok: { freed: true } };
  }

  find(handle: string): Outcome {
    const a = this.bugs.has('pasid-find-after-free') ? this.everByHandle.get(handle) : this.byHandle.get(handle);
    return a ? { ok: { data: a.data } } : { err: 'ENOENT' };
  }
}
