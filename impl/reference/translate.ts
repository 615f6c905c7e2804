// Translation as a device sees it: which outcomes a DMA may have, and, when an adapter's
// answer is none of them, which rule its answer breaks. The answer itself often tells: the
// old page of an unmapped IOVA is a stale IOTLB entry, another domain's page is an isolation
// breach, a write through a read-only page is a permission check skipped.

import { type DmaOp, type Outcome, type Policies, isFailure, okField } from '../../spec/index.ts';
import { type Blame, type Expect, errExpect, okExpect } from './expect.ts';
import { permits, physOf } from './iotlb.ts';
import type { DomainState, GroupState } from './state.ts';
import { tableOf } from './state.ts';

export interface TranslationContext {
  policies: Policies;
  /** Does the adapter report the physical address a DMA reached? */
  physReported: boolean;
  allDomains(): Iterable<DomainState>;
}

type Pass = (phys: bigint, rule: string) => Expect;

/** Expectations for a DMA that lands in `target` (null: the group's default domain). */
export function dmaExpect(ctx: TranslationContext, op: DmaOp, g: GroupState, target: DomainState | null, rule: string): Expect[] {
  const optionalFields = ctx.physReported ? undefined : new Set(['phys']);
  const blame = (o: Outcome) => blameDma(ctx, op, target, o, rule);
  const fault = (r: string) => errExpect(['FAULT'], [r], { blame });
  const pass: Pass = (phys, r) => okExpect(op, { phys }, [r], { optionalFields, blame });

  if (target === null) {
    if (g.spec.defaultDomain === 'identity') return passthrough(op, g.iommu.oas, rule, pass, fault);
    return [fault(rule)]; // dma default (nothing the suite mapped) or blocked
  }
  if (target.type === 'identity') return passthrough(op, target.oas, rule, pass, fault);
  const table = tableOf(target);
  const writeOnlyReadable = ctx.policies.write_only_read === 'allow';
  const out: Expect[] = [];
  // A lazy domain may still serve what it removed; listing those first makes the reference,
  // acting as a model, behave like a real IOTLB with a flush queue.
  let staleFault = false;
  if (target.removed.lazy) {
    const seen = new Set<bigint>();
    for (const r of target.removed.pendingAt(op.iova)) {
      const phys = physOf(r, op.iova);
      // A stale entry without the permission faults the access, as a real TLB hit would.
      if (!permits(r.prot, op.access, writeOnlyReadable)) staleFault = true;
      if (!permits(r.prot, op.access, writeOnlyReadable) || seen.has(phys)) continue;
      seen.add(phys);
      out.push(pass(phys, 'TLB-LAZY'));
    }
  }
  const m = table?.containing(op.iova);
  if (!m) out.push(fault(rule));
  else if (permits(m.prot, op.access, writeOnlyReadable)) out.push(pass(physOf(m, op.iova), rule));
  else out.push(fault('XLATE-PERM'));
  if (staleFault && m && permits(m.prot, op.access, writeOnlyReadable)) out.push(fault('TLB-LAZY'));
  return out;
}

function passthrough(op: DmaOp, oas: number, rule: string, pass: Pass, fault: (r: string) => Expect): Expect[] {
  // Beyond the output width a bypassing IOMMU may either drop the access or pass it on.
  return op.iova < 1n << BigInt(oas) ? [pass(op.iova, rule)] : [pass(op.iova, rule), fault(rule)];
}

/** Names the rule an unexpected DMA outcome breaks. */
function blameDma(ctx: TranslationContext, op: DmaOp, target: DomainState | null, o: Outcome, rule: string): Blame {
  const phys = okField<bigint>(o, 'phys');
  if (isFailure(o) || phys === undefined) {
    // A fault (or an unreported page) where a translation exists.
    const m = target && tableOf(target)?.containing(op.iova);
    if (m && isFailure(o) && !permits(m.prot, op.access, ctx.policies.write_only_read === 'allow')) return { rule: 'XLATE-PERM', intrinsic: true };
    return { rule };
  }
  if (target) {
    const m = tableOf(target)?.containing(op.iova);
    if (m && physOf(m, op.iova) === phys) return { rule: 'XLATE-PERM', intrinsic: true }; // the right page, the wrong permission
    const svaRule = target.type === 'sva' ? 'SVA-COHERENT' : null;
    for (const r of target.removed.pendingAt(op.iova)) {
      if (physOf(r, op.iova) !== phys) continue;
      if (target.removed.lazy) return { rule: 'XLATE-PERM', intrinsic: true }; // stale, but beyond its old permission
      return { rule: svaRule ?? (r.requested ? 'UNMAP-STRICT' : 'TLB-REMOVED'), intrinsic: true };
    }
    for (const r of target.removed.flushedAt(op.iova)) {
      if (physOf(r, op.iova) === phys) return { rule: svaRule ?? 'TLB-FLUSH', intrinsic: true };
    }
    const isolation = otherDomainHas(ctx, op, target, phys);
    if (isolation) return isolation;
    // A lazy domain may serve the old page of a removed IOVA, never another one.
    if (target.removed.lazy && target.removed.pendingAt(op.iova).length > 0) return { rule: 'TLB-LAZY', intrinsic: true };
    return { rule };
  }
  return otherDomainHas(ctx, op, target, phys) ?? { rule };
}

/** Another domain maps (or just unmapped) the IOVA to the page reached: isolation is broken. */
function otherDomainHas(ctx: TranslationContext, op: DmaOp, target: DomainState | null, phys: bigint): Blame | null {
  for (const d of ctx.allDomains()) {
    if (d === target) continue;
    const m = tableOf(d)?.containing(op.iova);
    const stale = d.removed.pendingAt(op.iova).some((r) => physOf(r, op.iova) === phys);
    if ((m && physOf(m, op.iova) === phys) || stale) return { rule: 'ISOLATION', intrinsic: true };
  }
  return null;
}
