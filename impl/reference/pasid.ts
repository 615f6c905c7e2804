// The system-wide PASID space and the refcounted allocations of the pasid_* ops. The space is
// shared with SVA (an mm's PASID comes from the same allocator), so uniqueness is checked
// across both. Which free ID an implementation picks is its own business: the reference
// accepts any free one in range and adopts it, and picks the lowest when it acts.

import { type Handle, type PasidAllocOp, type PasidFindOp, type PasidGetOp, type PasidPutOp, isFailure, okField } from '../../spec/index.ts';
import { type Expect, errExpect, okExpect } from './expect.ts';

export class PasidSpace {
  /** Live IDs and what holds each (an allocation handle or an mm handle). */
  private readonly live = new Map<number, Handle>();

  isLive(id: number): boolean {
    return this.live.has(id);
  }

  take(id: number, owner: Handle): void {
    this.live.set(id, owner);
  }

  release(id: number): void {
    this.live.delete(id);
  }

  /** Free IDs in [lo, hi], lowest first, up to `limit` of them. */
  free(lo: number, hi: number, limit = 1): number[] {
    const out: number[] = [];
    for (let id = Math.max(lo, 1); id <= hi && out.length < limit; id++) if (!this.live.has(id)) out.push(id);
    return out;
  }

  /** Is some ID in [lo, hi] (0 excluded) free? Counts, so it is O(live) for any range width. */
  hasFree(lo: number, hi: number): boolean {
    const from = Math.max(lo, 1);
    if (hi < from) return false;
    let used = 0;
    for (const id of this.live.keys()) if (id >= from && id <= hi) used++;
    return used < hi - from + 1;
  }
}

interface Allocation {
  id: number;
  refs: number;
  data: string | null;
}

/** The outcome of allocating from [lo, hi]: any free ID, or ENOSPC when there is none. */
export function allocateExpect(space: PasidSpace, lo: number, hi: number, rules: { ok: string[]; range: string }, adopt: (id: number) => void): Expect[] {
  if (!space.hasFree(lo, hi)) return [errExpect(['ENOSPC'], [rules.range])];
  const lowest = space.free(lo, hi)[0]!;
  const idOf = (o: Parameters<Expect['matches']>[0]) => okField<number>(o, 'pasid');
  return [{
    describe: `ok pasid=<a free ID in [${Math.max(lo, 1)}, ${hi}]>`,
    canonical: { ok: { pasid: lowest } },
    matches: (o) => {
      const id = idOf(o);
      return !isFailure(o) && Number.isInteger(id) && id! >= Math.max(lo, 1) && id! <= hi && !space.isLive(id!);
    },
    rules: rules.ok,
    blame: (o) => {
      const id = idOf(o);
      if (id !== undefined && space.isLive(id)) return { rule: 'PASID-UNIQUE', intrinsic: true };
      return { rule: rules.range, intrinsic: true };
    },
    apply: (o) => adopt(idOf(o)!),
  }];
}

export class PasidAllocations {
  private readonly byHandle = new Map<Handle, Allocation>();

  constructor(private readonly space: PasidSpace) {}

  has(h: Handle): boolean {
    return this.byHandle.has(h);
  }

  idOf(h: Handle): number | null {
    return this.byHandle.get(h)?.id ?? null;
  }

  live(): Handle[] {
    return [...this.byHandle.keys()];
  }

  alloc(op: PasidAllocOp): Expect[] {
    if (op.max < op.min || op.min < 0) return [errExpect(['EINVAL'], ['PASID-RANGE'])];
    return allocateExpect(this.space, op.min, op.max, { ok: ['PASID-RANGE', 'PASID-UNIQUE'], range: 'PASID-RANGE' }, (id) => {
      this.space.take(id, op.pasid);
      this.byHandle.set(op.pasid, { id, refs: 1, data: op.data ?? null });
    });
  }

  get(op: PasidGetOp): Expect[] {
    const a = this.byHandle.get(op.pasid);
    if (!a) return [errExpect(['ENOENT'], ['PASID-STALE'])];
    return [okExpect(op, {}, ['PASID-REF'], { apply: () => void a.refs++ })];
  }

  put(op: PasidPutOp): Expect[] {
    const a = this.byHandle.get(op.pasid);
    if (!a) return [errExpect(['ENOENT'], ['PASID-STALE'])];
    const last = a.refs === 1;
    return [okExpect(op, { freed: last }, ['PASID-REF'], {
      post: 'PASID-REF',
      apply: () => {
        a.refs--;
        if (!last) return;
        this.byHandle.delete(op.pasid);
        this.space.release(a.id);
      },
    })];
  }

  find(op: PasidFindOp): Expect[] {
    const a = this.byHandle.get(op.pasid);
    if (!a) return [errExpect(['ENOENT'], ['PASID-STALE'])];
    return [okExpect(op, { data: a.data }, ['PASID-DATA'])];
  }
}
