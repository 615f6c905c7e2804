// The executable specification. Given the current state and an op, `expect` lists every legal
// outcome under the declared policies, each with the rules it embodies and the state it leads
// to. `judge` checks an observed outcome against that list and adopts it; `act` plays the
// canonical outcome, which makes the reference usable as an implementation.

import {
  type AttachOp, type AttachPasidOp, type Capabilities, type DetachOp, type DetachPasidOp, type DmaOp,
  type DomainAllocOp, type DomainFreeOp, type Errno, type FlushOp, type Handle, type IovaToPhysOp,
  type LeafRun, type LeavesOp, type MapOp, type Op, type OpKind, type Outcome, PAGING_TYPES, PROT, PROT_ALL, type Policies, type PtPagesOp, type Topology,
  type UnmapOp, U64_LIMIT, formatOutcome, hex, isAligned, isFailure, isPow2, isSubset, minPageSize, okField,
} from '../../spec/index.ts';
import { Breaks, type Expect, errExpect, okExpect } from './expect.ts';
import { RemovedTranslations } from './iotlb.ts';
import { MappingStore, endOf } from './mappings.ts';
import { PasidAllocations, PasidSpace } from './pasid.ts';
import { greedyRuns, normalizeRuns, runsEqual } from './pgsize.ts';
import {
  type DeviceState, type DomainState, type GroupState, highestMappedEnd, isPaging, needsContext, tableOf,
} from './state.ts';
import { SvaModel } from './sva.ts';
import { type TranslationContext, dmaExpect } from './translate.ts';
import { type UnmapResult, rangeSplitsMapping, unmapCandidates } from './unmap.ts';

export type Judgement =
  | { ok: true; rules: string[]; post?: string; quality?: { rule: string; message: string } }
  | { ok: false; rule: string; intrinsic: boolean; expected: string[]; observed: string };

/** Ops that may need memory, so an armed fail_nth may make them fail with ENOMEM. */
const ALLOCATING: ReadonlySet<OpKind> = new Set(['domain_alloc', 'attach', 'attach_pasid', 'map', 'pasid_alloc', 'sva_bind']);
/** The group's IOMMU has fewer address bits than the domain was made for. */
const narrower = (d: DomainState, g: GroupState) => g.iommu.ias < d.ias || g.iommu.oas < d.oas;

const UNMAPPED_OPTIONAL: ReadonlySet<string> = new Set(['unmapped']);

export class UnmodelledOpError extends Error {
  override name = 'UnmodelledOpError';
}

export class ReferenceModel implements TranslationContext {
  readonly domains = new Map<Handle, DomainState>();
  readonly freed = new Set<Handle>();
  readonly groups = new Map<string, GroupState>();
  readonly devices = new Map<string, DeviceState>();
  readonly pasidSpace = new PasidSpace();
  readonly pasids = new PasidAllocations(this.pasidSpace);
  readonly sva: SvaModel;
  /** fail_nth armed and not yet seen to fire. */
  armed = false;
  /** An injected failure was observed (the fail_nth sweep stops when a run sees none). */
  injectionFired = false;
  readonly physReported: boolean;

  constructor(
    readonly topology: Topology,
    readonly policies: Policies,
    readonly capabilities: Capabilities = {},
  ) {
    this.physReported = capabilities.dma_phys !== false;
    this.sva = new SvaModel(this.pasidSpace, policies, this.devices);
    for (const g of topology.groups) {
      const iommu = topology.iommus.find((m) => m.name === g.iommu)!;
      this.groups.set(g.name, { spec: g, iommu, devices: [], current: null, pasids: new Map() });
    }
    for (const d of topology.devices) {
      const group = this.groups.get(d.group)!;
      const dev = { spec: d, group };
      group.devices.push(dev);
      this.devices.set(d.name, dev);
    }
  }

  // ---- public API ------------------------------------------------------------------------

  expect(op: Op): Expect[] {
    const exps = this.withReserved(op, this.expectPlain(op));
    if (!this.armed || !ALLOCATING.has(op.op)) return exps;
    // Any allocation may be the n-th; the failing op must change nothing (FAIL-ATOMIC).
    const fired = () => {
      this.armed = false;
      this.injectionFired = true;
    };
    return [...exps, errExpect(['ENOMEM'], ['FAIL-ATOMIC'], { post: 'FAIL-ATOMIC', apply: fired })];
  }

  /** Every live domain, those SVA binds made included. */
  *allDomains(): Iterable<DomainState> {
    yield* this.domains.values();
    for (const mm of this.sva.mms.values()) for (const b of mm.bonds) yield b.domain;
  }

  private expectPlain(op: Op): Expect[] {
    switch (op.op) {
      case 'domain_alloc': return this.domainAlloc(op);
      case 'domain_free': return this.domainFree(op);
      case 'attach': return this.attach(op);
      case 'detach': return this.detach(op);
      case 'attach_pasid': return this.attachPasid(op);
      case 'detach_pasid': return this.detachPasid(op);
      case 'map': return this.map(op);
      case 'unmap': return this.unmap(op);
      case 'iova_to_phys': return this.iovaToPhys(op);
      case 'dma': return this.dma(op);
      case 'flush': return this.flush(op);
      case 'leaves': return this.leaves(op);
      case 'pt_pages': return this.ptPages(op);
      case 'pasid_alloc': return this.pasids.alloc(op);
      case 'pasid_get': return this.pasids.get(op);
      case 'pasid_put': return this.pasids.put(op);
      case 'pasid_find': return this.pasids.find(op);
      case 'sva_bind': return this.sva.bind(op);
      case 'sva_unbind': return this.sva.unbind(op);
      case 'mm_map': return this.sva.mmMap(op);
      case 'mm_unmap': return this.sva.mmUnmap(op);
      case 'mm_exit': return this.sva.mmExit(op);
      case 'fail_nth':
        return [okExpect(op, {}, [], { apply: () => void (this.armed = op.n > 0) })];
    }
  }

  /**
   * Reserved fields (virtio): a request with reserved bits set is rejected whole; an unmap may
   * instead ignore them (the device MAY perform it).
   */
  private withReserved(op: Op, exps: Expect[]): Expect[] {
    if (this.policies.reserved_fields === 'absent' || !('reserved' in op) || !op.reserved) return exps;
    const errnos = new Set<Errno>(['EINVAL']);
    // A request naming a domain that does not exist may be refused for that first.
    for (const e of exps) if (e.canonical && isFailure(e.canonical) && e.canonical.err === 'ENOENT') errnos.add('ENOENT');
    const reject = errExpect([...errnos], ['VIO-RESERVED'], { post: 'VIO-RESERVED' });
    const asIfClear = exps.map((e) => ({ ...e, rules: [...e.rules, 'VIO-RESERVED'] }));
    // ATTACH must refuse; UNMAP may refuse or carry on; DETACH's reserved bytes are ignored, and
    // MAP has no reserved field at all, so there the bits change nothing.
    if (op.op === 'attach') return [reject];
    if (op.op === 'unmap') return [reject, ...asIfClear];
    return asIfClear;
  }

  judge(op: Op, observed: Outcome): Judgement {
    const exps = this.expect(op);
    const hit = exps.find((e) => e.matches(observed));
    if (hit) {
      hit.apply?.(observed);
      return { ok: true, rules: hit.rules, post: hit.post, quality: hit.quality };
    }
    const first = exps[0]!;
    const blame = first.blame?.(observed) ?? { rule: first.rules[0]! };
    return {
      ok: false,
      rule: blame.rule,
      intrinsic: blame.intrinsic === true,
      expected: exps.map((e) => e.describe),
      observed: formatOutcome(op, observed),
    };
  }

  /** The outcome the reference plays for `op`, and how to adopt it. */
  canonical(op: Op): Expect & { canonical: Outcome } {
    const exp = this.expect(op).find((e) => e.canonical && !e.quality && !e.rules.includes('FAIL-ATOMIC'));
    if (!exp?.canonical) throw new UnmodelledOpError(`no canonical outcome for '${op.op}'`);
    return exp as Expect & { canonical: Outcome };
  }

  /** Plays the canonical outcome (the reference as an implementation). */
  act(op: Op): Outcome {
    const exp = this.canonical(op);
    exp.apply?.(exp.canonical);
    return exp.canonical;
  }

  /** The live domain a handle names, if any. */
  domain(h: Handle): DomainState | undefined {
    return this.domains.get(h);
  }

  /** Every live mapping of a domain, for generators that aim at existing ranges. */
  mappingsOf(h: Handle): MappingStore | null {
    const d = this.domains.get(h);
    return d ? tableOf(d) : null;
  }

  /** Is a dma_fq domain lazy? Only when the adapter can be asked to flush it. */
  private isLazy(type: string): boolean {
    return type === 'dma_fq' && this.capabilities.lazy_flush === true;
  }

  /** Where a device's DMA goes right now (null: its default domain). */
  currentDomain(dev: string): DomainState | null {
    return this.devices.get(dev)!.group.current;
  }

  // ---- domains ---------------------------------------------------------------------------

  private stale(_h: Handle): Expect[] {
    return [errExpect(['ENOENT'], ['DOM-STALE'])];
  }

  /** A domain the op can use: live and, under domain_lifetime=last-detach, attached. */
  private existing(h: Handle): DomainState | Expect[] {
    const d = this.domains.get(h);
    if (!d) return this.stale(h);
    if (d.dormant) return [errExpect(['ENOENT'], ['DOM-LIFETIME'])];
    return d;
  }

  private domainAlloc(op: DomainAllocOp): Expect[] {
    const dev = this.devices.get(op.dev);
    if (!dev) return [errExpect(['ENODEV'], ['DOM-ALLOC'])];
    const iommu = dev.group.iommu;
    const paging = PAGING_TYPES.has(op.type);
    const parent = op.parent === undefined ? undefined : this.domains.get(op.parent);
    const breaks = new Breaks()
      .add(!iommu.domainTypes.includes(op.type), ['EOPNOTSUPP'], 'DOM-ALLOC')
      .add(op.type === 'nested' && (!parent || parent.type !== 'paging' || parent.format !== iommu.format), ['EINVAL'], 'DOM-ALLOC')
      .add(paging && op.pgsizes !== undefined && (op.pgsizes === 0n || !isSubset(op.pgsizes, iommu.pgsizes)), ['EINVAL'], 'DOM-ALLOC');
    if (breaks.any) return breaks.expect();

    const allowed = op.pgsizes ?? iommu.pgsizes;
    const create = (pgsizes: bigint) => {
      const d: DomainState = {
        handle: op.domain, type: op.type, iommu, format: iommu.format, pgsizes,
        ias: iommu.ias, oas: iommu.oas,
        mappings: paging ? new MappingStore() : null,
        groups: new Set(), pasidUses: 0, parent: op.type === 'nested' ? parent! : null, children: 0,
        dormant: this.policies.domain_lifetime === 'last-detach',
        removed: new RemovedTranslations(this.isLazy(op.type)), mm: null,
      };
      if (d.parent) d.parent.children++;
      this.domains.set(op.domain, d);
    };
    if (!paging) {
      return [{ ...okExpect(op, {}, ['DOM-ALLOC']), matches: (o) => !isFailure(o), apply: () => create(op.type === 'nested' ? parent!.pgsizes : iommu.pgsizes) }];
    }
    // A paging domain may take any non-empty subset of the sizes asked for (seed 000).
    return [{
      describe: `ok pgsizes ⊆ ${hex(allowed)}`,
      canonical: { ok: { pgsizes: allowed } },
      matches: (o) => {
        if (isFailure(o)) return false;
        const got = okField<bigint>(o, 'pgsizes');
        return got === undefined || (got !== 0n && isSubset(got, allowed));
      },
      rules: ['DOM-ALLOC', 'DOM-PGSIZE'],
      blame: (o) => ({ rule: isFailure(o) ? 'DOM-ALLOC' : 'DOM-PGSIZE' }),
      apply: (o) => create(okField<bigint>(o, 'pgsizes') ?? allowed),
    }];
  }

  private domainFree(op: DomainFreeOp): Expect[] {
    const d = this.domains.get(op.domain);
    if (!d) return this.stale(op.domain);
    if (d.groups.size > 0 || d.pasidUses > 0 || d.children > 0) return [errExpect(['EBUSY'], ['DOM-FREE'])];
    return [okExpect(op, {}, ['DOM-FREE'], { apply: () => this.destroy(d) })];
  }

  private destroy(d: DomainState): void {
    if (d.parent) d.parent.children--;
    this.domains.delete(d.handle);
    this.freed.add(d.handle);
  }

  // ---- attach ----------------------------------------------------------------------------

  /** Address spaces an IOMMU holds: dma default domains, plus caller-attached paging domains. */
  private contextsInUse(iommuName: string): number {
    let used = 0;
    for (const g of this.groups.values()) if (g.iommu.name === iommuName && g.spec.defaultDomain === 'dma') used++;
    for (const d of this.domains.values()) {
      if (needsContext(d) && [...d.groups].some((g) => g.iommu.name === iommuName)) used++;
    }
    return used;
  }

  /** Why `d` cannot be used behind `g`'s IOMMU, if it cannot (ATT-COMPAT). */
  private incompatible(d: DomainState, g: GroupState): boolean {
    const m = g.iommu;
    if (d.format !== m.format || !m.domainTypes.includes(d.type)) return true;
    if ((isPaging(d) || d.type === 'nested') && !isSubset(d.pgsizes, m.pgsizes)) return true;
    return highestMappedEnd(d) > 1n << BigInt(m.ias);
  }

  private attach(op: AttachOp): Expect[] {
    const d = this.domains.get(op.domain);
    if (!d) return this.stale(op.domain);
    const g = this.devices.get(op.dev)!.group;
    const move = this.policies.attach_busy === 'move';
    const old = g.current;
    if (move && old === d) return [okExpect(op, {}, ['ATT-ONE'], { post: 'ATT-ONE' })]; // already there
    const alreadyHere = [...d.groups].some((x) => x.iommu.name === g.iommu.name);
    // Under move the old domain's context is released first if this group was its only user.
    const freed = move && old !== null && needsContext(old) && old.groups.size === 1 ? 1 : 0;
    const breaks = new Breaks()
      .add(d.type === 'sva', ['ENODEV', 'EINVAL', 'EOPNOTSUPP'], 'DOM-OPS')
      .add(!move && old !== null, ['EBUSY'], 'ATT-ONE')
      .add(this.incompatible(d, g), ['EINVAL'], 'ATT-COMPAT')
      .add(needsContext(d) && !alreadyHere && this.contextsInUse(g.iommu.name) - freed >= g.iommu.contexts, ['ENOSPC'], 'ATT-SPACE');
    // Checks come in no set order: a refusal may name the narrower IOMMU (see below) instead.
    if (breaks.any && narrower(d, g)) breaks.add(true, ['EINVAL'], 'ATT-COMPAT');
    if (breaks.any) return breaks.expect();
    const apply = () => {
      if (old) this.leave(g, old);
      if (d.dormant) this.revive(d);
      g.current = d;
      d.groups.add(g);
      d.ias = Math.min(d.ias, g.iommu.ias);
      d.oas = Math.min(d.oas, g.iommu.oas);
    };
    const rules = old ? ['ATT-ONE', 'ATT-GROUP'] : ['ATT-GROUP', 'ATT-DEFAULT'];
    // Waking a dormant domain: what it shows must be nothing (it came back empty).
    const ok = okExpect(op, {}, d.dormant ? [...rules, 'DOM-LIFETIME'] : rules, { post: d.dormant ? 'DOM-LIFETIME' : 'ATT-GROUP', apply });
    // A narrower IOMMU may take the domain (narrowing it, as VT-d does) or refuse it.
    if (narrower(d, g)) return [ok, errExpect(['EINVAL'], ['ATT-COMPAT'])];
    return [ok];
  }

  /** The group stops using `d`; under last-detach a domain left with nothing goes dormant. */
  private leave(g: GroupState, d: DomainState): void {
    g.current = null;
    d.groups.delete(g);
    this.sleepIfUnused(d);
  }

  /** Under last-detach a domain left with no group and no PASID stops existing, mappings and all. */
  private sleepIfUnused(d: DomainState): void {
    if (this.policies.domain_lifetime !== 'last-detach' || d.groups.size > 0 || d.pasidUses > 0) return;
    d.dormant = true;
    d.mappings?.clear();
    d.removed.clear();
    delete d.ptBaseline;
  }

  private revive(d: DomainState): void {
    d.dormant = false;
    d.ias = d.iommu.ias;
    d.oas = d.iommu.oas;
  }

  private detach(op: DetachOp): Expect[] {
    const g = this.devices.get(op.dev)!.group;
    const d = this.domains.get(op.domain);
    if (!d || g.current !== d) {
      // Linux's detach of a domain that is not current is a no-op (void); an error is also fine.
      const rule = d ? 'ATT-DETACH' : 'DOM-STALE';
      return [okExpect(op, {}, [rule], { post: rule }), errExpect(['EINVAL', 'ENOENT'], [rule])];
    }
    const last = d.groups.size === 1 && d.pasidUses === 0;
    return [okExpect(op, {}, last ? ['ATT-DETACH', 'DOM-LIFETIME'] : ['ATT-DETACH'], {
      post: last && this.policies.domain_lifetime === 'last-detach' ? 'DOM-LIFETIME' : 'ATT-DETACH',
      apply: () => this.leave(g, d),
    })];
  }

  private attachPasid(op: AttachPasidOp): Expect[] {
    const d = this.domains.get(op.domain);
    if (!d) return this.stale(op.domain);
    const dev = this.devices.get(op.dev)!;
    const g = dev.group;
    const breaks = new Breaks()
      .add(op.pasid === 0, ['EINVAL'], 'ATT-PASID')
      .add(dev.spec.maxPasids === 0, ['EINVAL', 'EOPNOTSUPP'], 'ATT-PASID')
      .add(g.devices.some((x) => x.spec.maxPasids > 0 && op.pasid >= x.spec.maxPasids), ['EINVAL'], 'ATT-PASID')
      .add(d.type === 'identity' || d.type === 'blocked', ['EINVAL', 'EOPNOTSUPP'], 'DOM-OPS')
      .add(this.incompatible(d, g), ['EINVAL'], 'ATT-COMPAT')
      .add(g.pasids.has(op.pasid), ['EBUSY'], 'ATT-PASID');
    if (breaks.any && narrower(d, g)) breaks.add(true, ['EINVAL'], 'ATT-COMPAT');
    if (breaks.any) return breaks.expect('ATT-PASID');
    const ok = okExpect(op, {}, ['ATT-PASID'], {
      post: 'ATT-PASID',
      apply: () => {
        if (d.dormant) this.revive(d);
        g.pasids.set(op.pasid, d);
        d.pasidUses++;
      },
    });
    // As for attach: a narrower IOMMU may refuse the domain (ATT-COMPAT: "likewise attach_pasid").
    if (narrower(d, g)) return [ok, errExpect(['EINVAL'], ['ATT-COMPAT'])];
    return [ok];
  }

  private detachPasid(op: DetachPasidOp): Expect[] {
    const g = this.devices.get(op.dev)!.group;
    const d = g.pasids.get(op.pasid);
    // An SVA bond is undone by sva_unbind, not here; Linux's detach of an empty PASID is void.
    if (!d || d.type === 'sva') return [okExpect(op, {}, ['ATT-PASID']), errExpect(['EINVAL', 'ENOENT'], ['ATT-PASID'])];
    return [okExpect(op, {}, ['ATT-PASID'], {
      post: 'ATT-PASID',
      apply: () => {
        g.pasids.delete(op.pasid);
        d.pasidUses--;
        this.sleepIfUnused(d);
      },
    })];
  }

  // ---- map / unmap -----------------------------------------------------------------------

  private map(op: MapOp): Expect[] {
    const d = this.existing(op.domain);
    // virtio states both checks (unknown flag: S_INVAL; no such domain: S_NOENT) in no order.
    if (Array.isArray(d)) return op.prot > PROT_ALL && this.policies.unknown_flags === 'EINVAL' ? [...d, errExpect(['EINVAL'], ['MAP-FLAGS'])] : d;
    const table = d.mappings;
    const min = minPageSize(d.pgsizes);
    const aligned = table !== null && isAligned(op.iova | op.paddr | op.size, min);
    const unknownFlags = op.prot > PROT_ALL;
    const breaks = new Breaks()
      .add(unknownFlags && this.policies.unknown_flags === 'EINVAL', ['EINVAL'], 'MAP-FLAGS')
      .add(table === null, ['EINVAL'], 'MAP-DOMTYPE')
      .add(table !== null && !aligned, [this.policies.align_errno as Errno], 'MAP-ALIGN');
    if (breaks.any) return breaks.expect('MAP-ATOMIC');
    if (op.size === 0n) {
      return this.policies.zero_size_map === 'ok'
        ? [okExpect(op, {}, ['MAP-ZERO'], { post: 'MAP-ZERO' })]
        : [errExpect(['EINVAL'], ['MAP-ZERO'], { post: 'MAP-ZERO' })];
    }
    const prot = op.prot & PROT_ALL;
    const iovaEnd = op.iova + op.size;
    const paddrEnd = op.paddr + op.size;
    const wraps = iovaEnd > U64_LIMIT || paddrEnd > U64_LIMIT;
    const range = this.policies.range_errno as Errno;
    const beyond = iovaEnd > 1n << BigInt(d.ias) || paddrEnd > 1n << BigInt(d.oas);
    breaks
      .add((prot & (PROT.READ | PROT.WRITE)) === 0, ['EINVAL'], 'MAP-PROT')
      .add(wraps, ['EINVAL', 'ERANGE', 'EOVERFLOW', range], 'MAP-OVERFLOW')
      .add(!wraps && beyond, [range], 'MAP-RANGE')
      .add(!wraps && table!.intersecting(op.iova, iovaEnd).length > 0, [this.policies.overmap_errno as Errno], 'MAP-OVERLAP');
    if (breaks.any) return breaks.expect('MAP-ATOMIC');
    return [okExpect(op, {}, unknownFlags ? ['MAP-OK', 'MAP-FLAGS'] : ['MAP-OK'], {
      post: 'MAP-XLATE',
      apply: () => table!.insert({ iova: op.iova, size: op.size, paddr: op.paddr, prot, layout: 'greedy' }),
    })];
  }

  private unmap(op: UnmapOp): Expect[] {
    const d = this.existing(op.domain);
    if (Array.isArray(d)) return d;
    // Without unmap_size the reply carries no byte count; the removal itself is still judged.
    const optionalFields = this.capabilities.unmap_size === false ? UNMAPPED_OPTIONAL : undefined;
    const zero = (rules: string[]) => okExpect(op, { unmapped: 0n }, rules, { post: rules[0], optionalFields });
    const table = d.mappings;
    if (table === null) {
      return this.policies.nonpaging_unmap === 'zero' ? [zero(['UNMAP-DOMTYPE'])] : [errExpect(['EINVAL'], ['UNMAP-DOMTYPE'], { post: 'UNMAP-DOMTYPE' })];
    }
    if (!isAligned(op.iova | op.size, minPageSize(d.pgsizes))) {
      return this.policies.misaligned_unmap === 'zero' ? [zero(['UNMAP-ALIGN'])] : [errExpect(['EINVAL'], ['UNMAP-ALIGN'], { post: 'UNMAP-ALIGN' })];
    }
    if (op.size === 0n) return [zero(['UNMAP-ZERO'])];
    const end = op.iova + op.size;
    if (end > U64_LIMIT) return [zero(['UNMAP-OVERFLOW']), errExpect(['EINVAL', 'ERANGE', 'EOVERFLOW'], ['UNMAP-OVERFLOW'])];

    const rule = this.classifyUnmap(table, op.iova, end);
    const adopt = (r: UnmapResult) => {
      d.removed.beginUnmap();
      for (const l of r.removed) {
        d.removed.record(table, l.start, l.end, { lo: op.iova, hi: end });
        table.removeRange(l.start, l.end, d.pgsizes);
      }
    };
    const blame = (o: Outcome) => ({ rule: isFailure(o) ? 'UNMAP-RET' : rule });

    if (this.policies.partial_unmap === 'reject-range' && rangeSplitsMapping(table, op.iova, end)) {
      return [errExpect(['ERANGE'], ['UNMAP-PARTIAL'], { post: 'UNMAP-PARTIAL', blame })];
    }
    const candidates = unmapCandidates(table, op.iova, end, d.pgsizes, this.policies);
    const anyPredicted = candidates.some((c) => c.predicted);
    const exps = candidates.map((c) =>
      okExpect(op, { unmapped: c.total }, [rule, 'UNMAP-RET'], {
        post: rule,
        blame,
        optionalFields,
        apply: () => {
          adopt(c);
          // An outcome the predicted layout does not explain reveals leaves of another shape.
          if (!c.predicted && anyPredicted) this.forgetLayout(table, op.iova, end);
        },
        quality: !c.predicted && anyPredicted
          ? { rule: 'MAP-PGSIZE-GREEDY', message: `unmap(${hex(op.iova)}, ${hex(op.size)}) removed ${hex(c.total)}: the leaves differ from iommu_pgsize()'s` }
          : undefined,
      }),
    );
    // A split needs a new table; if that allocation fails the unmap removes nothing (FAIL-ATOMIC).
    if (this.armed && this.policies.partial_unmap === 'split' && candidates.every((c) => c.total > 0n)) {
      exps.push(okExpect(op, { unmapped: 0n }, ['FAIL-ATOMIC'], {
        post: 'FAIL-ATOMIC',
        optionalFields,
        apply: () => {
          this.armed = false;
          this.injectionFired = true;
        },
      }));
    }
    return exps;
  }

  /** Which rule an unmap request exercises: SYM when it is exactly whole earlier maps. */
  private classifyUnmap(table: MappingStore, iova: bigint, end: bigint): string {
    const hit = table.intersecting(iova, end);
    if (hit.length === 0) return 'UNMAP-HOLE';
    let cursor = iova;
    for (const m of hit) {
      if (m.iova !== cursor) return m.iova < cursor ? 'UNMAP-PARTIAL' : 'UNMAP-HOLE';
      cursor = endOf(m);
    }
    if (cursor === end) return 'UNMAP-SYM';
    return cursor > end ? 'UNMAP-PARTIAL' : 'UNMAP-HOLE';
  }

  private forgetLayout(table: MappingStore, lo: bigint, hi: bigint): void {
    for (const m of table.intersecting(lo > 0n ? lo - 1n : lo, hi + 1n)) {
      m.layout = 'unknown';
      delete m.confirmed;
    }
  }

  // ---- translation -----------------------------------------------------------------------

  private iovaToPhys(op: IovaToPhysOp): Expect[] {
    const d = this.existing(op.domain);
    if (Array.isArray(d)) return d;
    switch (d.type) {
      case 'identity':
        return [okExpect(op, { phys: op.iova }, ['XLATE-I2P'])];
      case 'blocked':
        return [okExpect(op, { phys: 0n }, ['XLATE-I2P'])];
      case 'sva':
      case 'nested':
        return [okExpect(op, { phys: 0n }, ['DOM-OPS']), errExpect(['EOPNOTSUPP', 'EINVAL'], ['DOM-OPS'])];
      default: {
        const m = d.mappings!.containing(op.iova);
        // Nothing can be mapped beyond the input width, so a translation there is the query's
        // own fault (a walk that drops the high bits), whatever op the probe followed.
        const beyond = op.iova >> BigInt(d.ias) !== 0n;
        return [okExpect(op, { phys: m ? m.paddr + (op.iova - m.iova) : 0n }, ['XLATE-I2P'], beyond ? { blame: () => ({ rule: 'XLATE-I2P', intrinsic: true }) } : {})];
      }
    }
  }

  /** The PASID a dma names: a number the suite chose, or the one an allocation or mm holds. */
  private pasidOf(op: DmaOp): number | null | undefined {
    if (op.pasid !== undefined) return op.pasid;
    if (op.pasidOf === undefined) return undefined;
    return this.pasids.idOf(op.pasidOf) ?? this.sva.mms.get(op.pasidOf)?.pasid ?? null;
  }

  private dma(op: DmaOp): Expect[] {
    const g = this.devices.get(op.dev)!.group;
    const pasid = this.pasidOf(op);
    if (pasid === undefined) return dmaExpect(this, op, g, g.current, g.current ? 'XLATE-DMA' : 'ATT-DEFAULT');
    // A PASID nothing is attached at reaches nothing (not even the default domain).
    const d = pasid === null ? undefined : g.pasids.get(pasid);
    const rule = d?.type === 'sva' || op.pasidOf !== undefined ? (d ? 'SVA-COHERENT' : 'SVA-UNBIND') : 'ATT-PASID';
    if (!d) return [errExpect(['FAULT'], [rule], { blame: (o) => this.blameNowhere(op, o, rule) })];
    return dmaExpect(this, op, g, d, rule);
  }

  /** A DMA that should have reached nothing reached something. */
  private blameNowhere(op: DmaOp, o: Outcome, rule: string): { rule: string; intrinsic?: boolean } {
    const phys = okField<bigint>(o, 'phys');
    if (phys === undefined) return { rule };
    for (const d of this.allDomains()) {
      const m = tableOf(d)?.containing(op.iova);
      if (m && m.paddr + (op.iova - m.iova) === phys && !(d.type === 'sva' && rule === 'SVA-UNBIND')) return { rule: 'ISOLATION', intrinsic: true };
    }
    return { rule };
  }

  private flush(op: FlushOp): Expect[] {
    const d = this.existing(op.domain);
    if (Array.isArray(d)) return d;
    return [okExpect(op, {}, d.removed.lazy ? ['TLB-FLUSH'] : [], { post: 'TLB-FLUSH', apply: () => d.removed.flush() })];
  }

  /** pt_pages: anything while mappings exist; back at the empty baseline once none do (PT-LEAK). */
  private ptPages(op: PtPagesOp): Expect[] {
    const d = this.existing(op.domain);
    if (Array.isArray(d)) return d;
    const empty = !d.mappings || d.mappings.size === 0;
    const any: Expect = {
      describe: 'ok pages=<any>',
      canonical: { ok: { pages: d.ptBaseline ?? 1 } },
      accepts: [{ ok: {} } as Outcome],
      matches: (o) => !isFailure(o),
      rules: [],
      apply: (o) => {
        if (empty && d.ptBaseline === undefined) d.ptBaseline = okField<number>(o, 'pages');
      },
    };
    if (!empty || d.ptBaseline === undefined) return [any];
    return [
      okExpect(op, { pages: d.ptBaseline }, ['PT-LEAK']),
      { ...any, describe: `ok pages=${d.ptBaseline} (the empty baseline)`, quality: { rule: 'PT-LEAK', message: `domain ${d.handle} has no mapping left but holds more page-table pages than its empty baseline of ${d.ptBaseline}` } },
    ];
  }

  // ---- introspection ---------------------------------------------------------------------

  /**
   * `leaves` over anything but one live mapping: the checker never asks it, but a request sent
   * ahead of a case that then went another way (a map the prediction took as done failed) can,
   * and the reference playing a model must answer it as a model would: the leaves of the
   * mappings the range meets. Nothing is judged of it.
   */
  private leavesUnjudged(op: LeavesOp, d: DomainState): Expect {
    const met = d.mappings?.intersecting(op.iova, op.iova + op.size) ?? [];
    const canonical: Outcome = d.mappings ? { ok: { leaves: met.flatMap((x) => greedyRuns(d.pgsizes, x.iova, x.paddr, x.size)) } } : { err: 'EINVAL' };
    return { describe: 'any reply (not a question the checker asks)', canonical, matches: () => true, rules: [] };
  }

  /** `leaves` over exactly one mapping: a valid tiling is required, the greedy one preferred. */
  private leaves(op: LeavesOp): Expect[] {
    const d = this.existing(op.domain);
    if (Array.isArray(d)) return d;
    const m = d.mappings?.containing(op.iova);
    if (!m || m.iova !== op.iova || m.size !== op.size) return [this.leavesUnjudged(op, d)];
    const greedy = greedyRuns(d.pgsizes, m.iova, m.paddr, m.size);
    const runsIn = (o: Outcome) => normalizeRuns(okField<LeafRun[]>(o, 'leaves') ?? []);
    const valid = (o: Outcome) => !isFailure(o) && tiles(runsIn(o), m.iova, m.paddr, m.size, d.pgsizes);
    const describe = `ok leaves tiling [${hex(m.iova)}, ${hex(endOf(m))}) with sizes in ${hex(d.pgsizes)}`;
    const adopt = (o: Outcome) => {
      if (isFailure(o)) return;
      m.layout = runsIn(o);
      m.confirmed = true;
    };
    const isGreedy = (o: Outcome) => !isFailure(o) && runsEqual(runsIn(o), greedy);
    return [
      { describe: `${describe} (greedy)`, canonical: { ok: { leaves: greedy } }, matches: isGreedy, rules: ['MAP-PGSIZE', 'MAP-PGSIZE-GREEDY'], apply: adopt },
      {
        describe, matches: valid, rules: ['MAP-PGSIZE'], apply: adopt,
        quality: { rule: 'MAP-PGSIZE-GREEDY', message: `leaves of map(${hex(m.iova)}, size=${hex(m.size)}) differ from iommu_pgsize()'s ${greedy.length} run(s)` },
      },
    ];
  }
}

/** Do the runs tile [iova, iova+size) with aligned pages of the bitmap's sizes? */
function tiles(runs: LeafRun[], iova: bigint, paddr: bigint, size: bigint, bitmap: bigint): boolean {
  let cursor = iova;
  for (const r of runs) {
    if (r.iova !== cursor || !isPow2(r.pgsize) || (r.pgsize & bitmap) === 0n || r.count <= 0n) return false;
    if (r.iova % r.pgsize !== 0n || (paddr + (r.iova - iova)) % r.pgsize !== 0n) return false;
    cursor += r.pgsize * r.count;
  }
  return cursor === iova + size;
}
