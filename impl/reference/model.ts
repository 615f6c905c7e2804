// The executable specification. Given the current state and an op, `expect` lists every legal
// outcome under the declared policies, each with the rules it embodies and the state it leads
// to. `judge` checks an observed outcome against that list and adopts it; `act` plays the
// canonical outcome, which makes the reference usable as an implementation.

import {
  type AttachOp, type AttachPasidOp, type Capabilities, type DetachOp, type DetachPasidOp, type DmaOp,
  type DomainAllocOp, type DomainFreeOp, type Errno, type FlushOp, type Handle, type IovaToPhysOp,
  type LeafRun, type LeavesOp, type MapOp, type Op, type Outcome, PAGING_TYPES, PROT, type Policies, type Topology,
  type UnmapOp, U64_LIMIT, formatOutcome, hex, isAligned, isFailure, isPow2, isSubset, minPageSize, okField,
} from '../../spec/index.ts';
import { Breaks, type Expect, errExpect, okExpect } from './expect.ts';
import { MappingStore, endOf } from './mappings.ts';
import { greedyRuns, normalizeRuns, runsEqual } from './pgsize.ts';
import {
  type DeviceState, type DomainState, type GroupState, highestMappedEnd, isPaging, needsContext, tableOf,
} from './state.ts';
import { type UnmapResult, rangeSplitsMapping, unmapCandidates } from './unmap.ts';

export type Judgement =
  | { ok: true; rules: string[]; post?: string; quality?: { rule: string; message: string } }
  | { ok: false; rule: string; expected: string[]; observed: string };

export class UnmodelledOpError extends Error {
  override name = 'UnmodelledOpError';
}

export class ReferenceModel {
  readonly domains = new Map<Handle, DomainState>();
  readonly freed = new Set<Handle>();
  readonly groups = new Map<string, GroupState>();
  readonly devices = new Map<string, DeviceState>();

  constructor(
    readonly topology: Topology,
    readonly policies: Policies,
    readonly capabilities: Capabilities = {},
  ) {
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
      default:
        throw new UnmodelledOpError(`the reference does not model '${op.op}' yet`);
    }
  }

  judge(op: Op, observed: Outcome): Judgement {
    const exps = this.expect(op);
    const hit = exps.find((e) => e.matches(observed));
    if (hit) {
      hit.apply?.(observed);
      return { ok: true, rules: hit.rules, post: hit.post, quality: hit.quality };
    }
    const first = exps[0]!;
    return {
      ok: false,
      rule: first.blame?.(observed) ?? first.rules[0]!,
      expected: exps.map((e) => e.describe),
      observed: formatOutcome(op, observed),
    };
  }

  /** Plays the canonical outcome (the reference as an implementation). */
  act(op: Op): Outcome {
    const exp = this.expect(op).find((e) => e.canonical && !e.quality);
    if (!exp?.canonical) throw new UnmodelledOpError(`no canonical outcome for '${op.op}'`);
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

  /** Where a device's DMA goes right now (null: its default domain). */
  currentDomain(dev: string): DomainState | null {
    return this.devices.get(dev)!.group.current;
  }

  // ---- domains ---------------------------------------------------------------------------

  private stale(_h: Handle): Expect[] {
    return [errExpect(['ENOENT'], ['DOM-STALE'])];
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
      blame: (o) => (isFailure(o) ? 'DOM-ALLOC' : 'DOM-PGSIZE'),
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
    const alreadyHere = [...d.groups].some((x) => x.iommu.name === g.iommu.name);
    const breaks = new Breaks()
      .add(d.type === 'sva', ['ENODEV', 'EINVAL', 'EOPNOTSUPP'], 'DOM-OPS')
      .add(g.current !== null, ['EBUSY'], 'ATT-ONE')
      .add(this.incompatible(d, g), ['EINVAL'], 'ATT-COMPAT')
      .add(needsContext(d) && !alreadyHere && this.contextsInUse(g.iommu.name) >= g.iommu.contexts, ['ENOSPC'], 'ATT-SPACE');
    if (breaks.any) return breaks.expect('ATT-ONE');
    const apply = () => {
      g.current = d;
      d.groups.add(g);
      d.ias = Math.min(d.ias, g.iommu.ias);
      d.oas = Math.min(d.oas, g.iommu.oas);
    };
    const ok = okExpect(op, {}, ['ATT-GROUP', 'ATT-DEFAULT'], { post: 'ATT-GROUP', apply });
    // A narrower IOMMU may take the domain (narrowing it, as VT-d does) or refuse it.
    if (g.iommu.ias < d.ias || g.iommu.oas < d.oas) return [ok, errExpect(['EINVAL'], ['ATT-COMPAT'])];
    return [ok];
  }

  private detach(op: DetachOp): Expect[] {
    const g = this.devices.get(op.dev)!.group;
    const d = this.domains.get(op.domain);
    if (!d || g.current !== d) {
      // Linux's detach of a domain that is not current is a no-op (void); an error is also fine.
      return [okExpect(op, {}, [d ? 'ATT-DETACH' : 'DOM-STALE']), errExpect(['EINVAL', 'ENOENT'], [d ? 'ATT-DETACH' : 'DOM-STALE'])];
    }
    const last = d.groups.size === 1 && d.pasidUses === 0;
    const lifetime = this.policies.domain_lifetime === 'last-detach' && last;
    return [okExpect(op, {}, last ? ['ATT-DETACH', 'DOM-LIFETIME'] : ['ATT-DETACH'], {
      post: 'ATT-DETACH',
      apply: () => {
        g.current = null;
        d.groups.delete(g);
        if (lifetime) this.destroy(d);
      },
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
    if (breaks.any) return breaks.expect('ATT-PASID');
    return [okExpect(op, {}, ['ATT-PASID'], {
      post: 'ATT-PASID',
      apply: () => {
        g.pasids.set(op.pasid, d);
        d.pasidUses++;
      },
    })];
  }

  private detachPasid(op: DetachPasidOp): Expect[] {
    const g = this.devices.get(op.dev)!.group;
    const d = g.pasids.get(op.pasid);
    if (!d) return [okExpect(op, {}, ['ATT-PASID']), errExpect(['EINVAL', 'ENOENT'], ['ATT-PASID'])];
    const lifetime = this.policies.domain_lifetime === 'last-detach' && d.groups.size === 0 && d.pasidUses === 1;
    return [okExpect(op, {}, ['ATT-PASID'], {
      post: 'ATT-PASID',
      apply: () => {
        g.pasids.delete(op.pasid);
        d.pasidUses--;
        if (lifetime) this.destroy(d);
      },
    })];
  }

  // ---- map / unmap -----------------------------------------------------------------------

  private map(op: MapOp): Expect[] {
    const d = this.domains.get(op.domain);
    if (!d) return this.stale(op.domain);
    const table = d.mappings;
    const min = minPageSize(d.pgsizes);
    const aligned = table !== null && isAligned(op.iova | op.paddr | op.size, min);
    const breaks = new Breaks()
      .add(table === null, ['EINVAL'], 'MAP-DOMTYPE')
      .add(table !== null && !aligned, ['EINVAL'], 'MAP-ALIGN');
    if (breaks.any) return breaks.expect('MAP-ATOMIC');
    if (op.size === 0n) {
      return this.policies.zero_size_map === 'ok'
        ? [okExpect(op, {}, ['MAP-ZERO'], { post: 'MAP-ZERO' })]
        : [errExpect(['EINVAL'], ['MAP-ZERO'], { post: 'MAP-ZERO' })];
    }
    const iovaEnd = op.iova + op.size;
    const paddrEnd = op.paddr + op.size;
    const wraps = iovaEnd > U64_LIMIT || paddrEnd > U64_LIMIT;
    const range = this.policies.range_errno as Errno;
    const beyond = iovaEnd > 1n << BigInt(d.ias) || paddrEnd > 1n << BigInt(d.oas);
    breaks
      .add((op.prot & (PROT.READ | PROT.WRITE)) === 0, ['EINVAL'], 'MAP-PROT')
      .add(wraps, ['EINVAL', 'ERANGE', 'EOVERFLOW', range], 'MAP-OVERFLOW')
      .add(!wraps && beyond, [range], 'MAP-RANGE')
      .add(!wraps && table!.intersecting(op.iova, iovaEnd).length > 0, [this.policies.overmap_errno as Errno], 'MAP-OVERLAP');
    if (breaks.any) return breaks.expect('MAP-ATOMIC');
    return [okExpect(op, {}, ['MAP-OK'], {
      post: 'MAP-XLATE',
      apply: () => table!.insert({ iova: op.iova, size: op.size, paddr: op.paddr, prot: op.prot, layout: 'greedy' }),
    })];
  }

  private unmap(op: UnmapOp): Expect[] {
    const d = this.domains.get(op.domain);
    if (!d) return this.stale(op.domain);
    const zero = (rules: string[]) => okExpect(op, { unmapped: 0n }, rules, { post: rules[0] });
    const table = d.mappings;
    if (table === null) return [zero(['UNMAP-DOMTYPE'])];
    if (!isAligned(op.iova | op.size, minPageSize(d.pgsizes))) {
      return this.policies.misaligned_unmap === 'zero' ? [zero(['UNMAP-ALIGN'])] : [errExpect(['EINVAL'], ['UNMAP-ALIGN'], { post: 'UNMAP-ALIGN' })];
    }
    if (op.size === 0n) return [zero(['UNMAP-ZERO'])];
    const end = op.iova + op.size;
    if (end > U64_LIMIT) return [zero(['UNMAP-OVERFLOW']), errExpect(['EINVAL', 'ERANGE', 'EOVERFLOW'], ['UNMAP-OVERFLOW'])];

    const rule = this.classifyUnmap(table, op.iova, end);
    const adopt = (r: UnmapResult) => () => {
      for (const l of r.removed) table.removeRange(l.start, l.end, d.pgsizes);
    };
    const blame = (o: Outcome) => (isFailure(o) ? 'UNMAP-RET' : rule);

    if (this.policies.partial_unmap === 'reject-range' && rangeSplitsMapping(table, op.iova, end)) {
      return [errExpect(['ERANGE'], ['UNMAP-PARTIAL'], { post: 'UNMAP-PARTIAL', blame })];
    }
    const candidates = unmapCandidates(table, op.iova, end, d.pgsizes, this.policies);
    const anyPredicted = candidates.some((c) => c.predicted);
    return candidates.map((c) =>
      okExpect(op, { unmapped: c.total }, [rule, 'UNMAP-RET'], {
        post: rule,
        blame,
        apply: () => {
          adopt(c)();
          // An outcome the predicted layout does not explain reveals leaves of another shape.
          if (!c.predicted && anyPredicted) this.forgetLayout(table, op.iova, end);
        },
        quality: !c.predicted && anyPredicted
          ? { rule: 'MAP-PGSIZE-GREEDY', message: `unmap(${hex(op.iova)}, ${hex(op.size)}) removed ${hex(c.total)}: the leaves differ from iommu_pgsize()'s` }
          : undefined,
      }),
    );
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
    const d = this.domains.get(op.domain);
    if (!d) return this.stale(op.domain);
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
        return [okExpect(op, { phys: m ? m.paddr + (op.iova - m.iova) : 0n }, ['XLATE-I2P'])];
      }
    }
  }

  private dma(op: DmaOp): Expect[] {
    const dev = this.devices.get(op.dev)!;
    const g = dev.group;
    const optionalFields = this.capabilities.dma_phys === false ? new Set(['phys']) : undefined;
    const fault = (rule: string) => errExpect(['FAULT'], [rule], { blame: (o) => this.blameLeak(op, o, rule) });
    const pass = (phys: bigint, rule: string) => okExpect(op, { phys }, [rule], { optionalFields, blame: (o) => this.blameLeak(op, o, rule) });

    if (op.pasidOf !== undefined) throw new UnmodelledOpError('dma through an implementation-chosen PASID needs the PASID model');
    if (op.pasid !== undefined) {
      const d = g.pasids.get(op.pasid);
      return d ? this.through(d, op, 'ATT-PASID', pass, fault) : [fault('ATT-PASID')];
    }
    if (g.current === null) {
      if (g.spec.defaultDomain === 'dma') return [fault('ATT-DEFAULT')];
      return this.passthrough(op, g.iommu.oas, 'ATT-DEFAULT', pass, fault);
    }
    return this.through(g.current, op, 'XLATE-DMA', pass, fault);
  }

  private through(d: DomainState, op: DmaOp, rule: string, pass: (p: bigint, r: string) => Expect, fault: (r: string) => Expect): Expect[] {
    if (d.type === 'identity') return this.passthrough(op, d.oas, rule, pass, fault);
    const table = tableOf(d);
    if (!table) return [fault(rule)]; // blocked; sva without an mm
    const m = table.containing(op.iova);
    if (!m) return [fault(rule)];
    const canRead = (m.prot & PROT.READ) !== 0 || ((m.prot & PROT.WRITE) !== 0 && this.policies.write_only_read === 'allow');
    const permitted = op.access === 'w' ? (m.prot & PROT.WRITE) !== 0 : canRead;
    return permitted ? [pass(m.paddr + (op.iova - m.iova), rule)] : [fault('XLATE-PERM')];
  }

  private passthrough(op: DmaOp, oas: number, rule: string, pass: (p: bigint, r: string) => Expect, fault: (r: string) => Expect): Expect[] {
    // Beyond the output width a bypassing IOMMU may either drop the access or pass it on.
    return op.iova < 1n << BigInt(oas) ? [pass(op.iova, rule)] : [pass(op.iova, rule), fault(rule)];
  }

  /** A device reaching a page mapped only in a domain it is not attached to breaks isolation. */
  private blameLeak(op: DmaOp, o: Outcome, rule: string): string {
    const phys = okField<bigint>(o, 'phys');
    if (phys === undefined) return rule;
    for (const d of this.domains.values()) {
      const m = d.mappings?.containing(op.iova);
      if (m && m.paddr + (op.iova - m.iova) === phys && (op.pasid === undefined ? this.currentDomain(op.dev) : this.devices.get(op.dev)!.group.pasids.get(op.pasid)) !== d) return 'ISOLATION';
    }
    return rule;
  }

  private flush(op: FlushOp): Expect[] {
    return this.domains.has(op.domain) ? [okExpect(op, {}, [])] : this.stale(op.domain);
  }

  // ---- introspection ---------------------------------------------------------------------

  /** `leaves` over exactly one mapping: a valid tiling is required, the greedy one preferred. */
  private leaves(op: LeavesOp): Expect[] {
    const d = this.domains.get(op.domain);
    if (!d) return this.stale(op.domain);
    const m = d.mappings?.containing(op.iova);
    if (!m || m.iova !== op.iova || m.size !== op.size) throw new UnmodelledOpError('leaves is only asked for exactly one live mapping');
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
