// The system-wide PASID space and the refcounted allocations of the pasid_* ops: the IOASID
// allocator of linux:drivers/iommu/ioasid.c (v5.5-v6.3), whose IDs SVA shares (an mm's PASID
// comes from the same space). IDs are handed out lowest first, from 1: PASID 0 is
// IOMMU_NO_PASID. Drawing an ID may fail for want of memory, as ida_alloc_range() may.

import type { Outcome, PasidAllocOp } from '../../../spec/index.ts';
import type { FaultInjector } from '../arm-smmu/memory.ts';

interface Allocation {
  id: number;
  refs: number;
  data: string | null;
}

export class PasidSpace {
  /** Live IDs: an allocation's or an mm's. */
  private readonly live = new Set<number>();
  private readonly allocs = new Map<string, Allocation>();
  /** Handles whose allocation was freed, and the ID it had (only the buggy paths look). */
  private readonly retired = new Map<string, Allocation>();

  constructor(private readonly faults: FaultInjector, private readonly bugs: ReadonlySet<string>) {}

  private bug(id: string): boolean {
    return this.bugs.has(id);
  }

  /** The lowest free ID in [lo, hi] that `usable` accepts; ENOSPC when none, ENOMEM when the draw fails. */
  take(lo: number, hi: number, usable: (id: number) => boolean = () => true): number | 'ENOSPC' | 'ENOMEM' {
    // The buggy range starts where the caller says, 0 included.
    let id = this.bug('amd-pasid-zero') ? lo : Math.max(lo, 1);
    while (id <= hi && (this.live.has(id) || !usable(id))) id++;
    if (id > hi) return 'ENOSPC';
    if (this.faults.fails()) return 'ENOMEM';
    this.live.add(id);
    return id;
  }

  release(id: number): void {
    this.live.delete(id);
  }

  /** The ID a pasid_alloc handle holds, if live. */
  idOf(handle: string): number | undefined {
    return this.allocs.get(handle)?.id;
  }

  alloc(op: PasidAllocOp): Outcome {
    if (op.max < op.min || op.min < 0) return { err: 'EINVAL' };
    const id = this.take(op.min, op.max);
    if (typeof id === 'string') return { err: id };
    this.allocs.set(op.pasid, { id, refs: 1, data: op.data ?? null });
    return { ok: { pasid: id } };
  }

  /** A live allocation, or (the buggy lookup by number) whatever now holds a freed handle's old ID. */
  private lookup(handle: string): Allocation | undefined {
    const a = this.allocs.get(handle);
    if (a || !this.bug('amd-pasid-stale-put')) return a;
    const old = this.retired.get(handle);
    return old && [...this.allocs.values()].find((x) => x.id === old.id);
  }

  get(handle: string): Outcome {
    const a = this.lookup(handle);
    if (!a) return { err: 'ENOENT' };
    a.refs++;
    return { ok: {} };
  }

  put(handle: string): Outcome {
    const a = this.lookup(handle);
    if (!a) return { err: 'ENOENT' };
    a.refs--;
    // The buggy put gives the ID back at every put, while references remain.
    if (a.refs === 0 || this.bug('amd-pasid-early-release')) this.release(a.id);
    if (a.refs > 0) return { ok: { freed: false } };
    for (const [h, x] of this.allocs) {
      if (x !== a) continue;
      this.allocs.delete(h);
      this.retired.set(h, a);
    }
    return { ok: { freed: true } };
  }

  find(handle: string): Outcome {
    const a = this.allocs.get(handle) ?? (this.bug('amd-pasid-find-after-free') ? this.retired.get(handle) : undefined);
    return a ? { ok: { data: a.data } } : { err: 'ENOENT' };
  }
}
