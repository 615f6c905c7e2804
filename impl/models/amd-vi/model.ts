// An AMD-Vi style IOMMU model: a device table entry per device routes its requests to a domain's
// AMD v1 page table (or passes them through, or blocks them), a GCR3 table per device routes its
// PASIDs, each IOMMU has a small space of domain IDs that tag its IOTLB, and device accesses go
// through that IOTLB, which caches walks. It implements the Linux IOMMU API as the suite's
// vocabulary states it, with the policies the AMD driver (on iommupt) has.

import { type Adapter, type AdapterInfo, type DomainType, type Op, type Outcome, PAGING_TYPES, PROT, type Topology, U64_LIMIT } from '../../../spec/index.ts';
import { FaultInjector, TableMemory } from '../arm-smmu/memory.ts';
import { coreMap, coreUnmap } from './core.ts';
import { DomainIds } from './domain-ids.ts';
import { type DteTarget, encodeDte } from './dte.ts';
import { FlushQueue, type Range } from './flush-queue.ts';
import { Iotlb } from './iotlb.ts';
import { PasidSpace } from './pasid.ts';
import { PasidTables } from './pasid-tables.ts';
import { AmdV1Table, OutOfTableMemory } from './pgtable.ts';
import { AMD_POLICIES } from './policies.ts';
import { Sva } from './sva.ts';
import { AMD_TOPOLOGIES } from './topologies.ts';
import { deviceAccess } from './translate.ts';
import type { Device, Domain, Group, Iommu } from './types.ts';

export const AMD_VI_VERSION = '0.1.0';

export interface AmdViOptions {
  /**
   * `fixed` (default): as many levels as the IOMMU's input width needs, from the start.
   * `dynamic`: 3 levels that grow as maps reach higher, the device table following.
   */
  top?: 'fixed' | 'dynamic';
  /** One bug of the mutant catalogue (mutants.ts) to switch on. */
  mutant?: string;
}

export class AmdViModel implements Adapter {
  private readonly bugs: ReadonlySet<string>;
  private faults = new FaultInjector();
  private mem = new TableMemory(0x1000n, this.faults);
  private iommus = new Map<string, Iommu>();
  private devices = new Map<string, Device>();
  private domains = new Map<string, Domain>();
  private pasids = new PasidSpace(this.faults, new Set());
  private tables = new PasidTables(this.mem);
  private sva = new Sva(this.pasids, this.tables, new Set());

  private readonly dynamicTop: boolean;

  constructor(opts: AmdViOptions = {}) {
    this.bugs = new Set(opts.mutant ? [opts.mutant] : []);
    this.dynamicTop = opts.top === 'dynamic';
  }

  private bug(id: string): boolean {
    return this.bugs.has(id);
  }

  hello(): AdapterInfo {
    return {
      name: `amd-vi${this.dynamicTop ? '/dynamic' : ''}${[...this.bugs].map((b) => `+${b}`).join('')}`, version: AMD_VI_VERSION, profile: 'linux',
      policies: { ...AMD_POLICIES },
      capabilities: { leaves: true, pt_pages: true, fail_nth: true, lazy_flush: true, dma_phys: true, pasid: true, sva: true },
      topologies: AMD_TOPOLOGIES,
    };
  }

  reset(t: Topology): void {
    this.faults = new FaultInjector();
    this.mem = new TableMemory(0x1000n, this.faults);
    this.pasids = new PasidSpace(this.faults, this.bugs);
    this.tables = new PasidTables(this.mem);
    this.sva = new Sva(this.pasids, this.tables, this.bugs);
    this.domains = new Map();
    this.iommus = new Map(t.iommus.map((spec) => [spec.name, { spec, ids: new DomainIds(spec.contexts, this.faults, this.bug('amd-no-domid-limit')), tlb: new Iotlb() }]));
    this.devices = new Map();
    for (const gs of t.groups) {
      const iommu = this.iommus.get(gs.iommu)!;
      const fallback = this.newDomain(`<default ${gs.name}>`, gs.defaultDomain, iommu, iommu.spec.pgsizes)!;
      const g: Group = { name: gs.name, iommu, devices: [], fallback, current: null };
      // A dma default domain holds its domain ID for good.
      if (fallback.table) fallback.ids.set(iommu, { id: iommu.ids.alloc() as number, users: 1 });
      for (const ds of t.devices.filter((d) => d.group === gs.name)) {
        const dev: Device = { name: ds.name, group: g, maxPasids: ds.maxPasids, dte: new BigUint64Array(4), gcr3: null };
        g.devices.push(dev);
        this.devices.set(ds.name, dev);
      }
      this.program(g);
    }
  }

  exec(op: Op): Outcome {
    switch (op.op) {
      case 'domain_alloc': return this.alloc(op.domain, op.type, op.dev, op.pgsizes);
      case 'domain_free': return this.free(op.domain);
      case 'attach': return this.attach(op.dev, op.domain);
      case 'detach': return this.detach(op.dev, op.domain);
      case 'attach_pasid': return this.attachPasid(op.dev, op.domain, op.pasid);
      case 'detach_pasid': return this.detachPasid(op.dev, op.pasid);
      case 'map': return this.map(op.domain, op.iova, op.paddr, op.size, op.prot);
      case 'unmap': return this.unmap(op.domain, op.iova, op.size);
      case 'iova_to_phys': return this.iovaToPhys(op.domain, op.iova);
      case 'dma': return deviceAccess(this.mem, this.tables.owners, this.devices.get(op.dev)!, op.iova, op.access, op.pasid ?? this.pasidOf(op.pasidOf));
      case 'flush': return this.flush(op.domain);
      case 'leaves': {
        const d = this.domains.get(op.domain);
        return d?.table ? { ok: { leaves: d.table.leaves(op.iova, op.size) } } : { err: 'ENOENT' };
      }
      case 'pt_pages': {
        const d = this.domains.get(op.domain);
        return d ? { ok: { pages: d.table?.pageCount ?? 0 } } : { err: 'ENOENT' };
      }
      case 'fail_nth':
        this.faults.arm(op.n);
        return { ok: {} };
      case 'pasid_alloc': return this.pasids.alloc(op);
      case 'pasid_get': return this.pasids.get(op.pasid);
      case 'pasid_put': return this.pasids.put(op.pasid);
      case 'pasid_find': return this.pasids.find(op.pasid);
      case 'sva_bind': {
        const dev = this.devices.get(op.dev);
        return dev ? this.sva.bind(op, dev, dev.group.iommu.spec.domainTypes.includes('sva')) : { err: 'ENODEV' };
      }
      case 'sva_unbind': return this.sva.unbind(op.bond);
      case 'mm_map': return this.sva.mmMap(op);
      case 'mm_unmap': return this.sva.mmUnmap(op);
      case 'mm_exit': return this.sva.mmExit(op);
      default:
        return { err: 'ENOSYS' };
    }
  }

  // ---- domains ---------------------------------------------------------------------------

  /** A domain object; null when its root table cannot be allocated. */
  private newDomain(handle: string, type: DomainType, iommu: Iommu, pgsizes: bigint): Domain | null {
    let table: AmdV1Table | null = null;
    if (PAGING_TYPES.has(type)) {
      try {
        table = new AmdV1Table(this.mem, { ias: iommu.spec.ias, oas: iommu.spec.oas, pgsizes, dynamicTop: this.dynamicTop, bugs: this.bugs });
      } catch (e) {
        if (e instanceof OutOfTableMemory) return null;
        throw e;
      }
    }
    const d: Domain = {
      handle, type, iommu, table, root: table?.root ?? this.tables.token(), groups: new Set(), ids: new Map(), pasids: new Map(),
      fq: type === 'dma_fq' ? new FlushQueue(8, this.bug('amd-fq-skips-oldest')) : null,
    };
    this.tables.owners.set(d.root, { kind: 'domain', domain: d });
    if (table) table.onGrow = (old) => this.grown(d, old);
    return d;
  }

  /**
   * The table grew a level: its new root and mode must reach every device table entry and GCR3
   * entry that names it (amd_iommu_update_and_flush_device_table(); the buggy driver forgets the DTEs).
   */
  private grown(d: Domain, oldRoot: bigint): void {
    this.tables.owners.delete(oldRoot);
    d.root = d.table!.root;
    this.tables.owners.set(d.root, { kind: 'domain', domain: d });
    if (!this.bug('amd-grow-stale-dte')) for (const g of d.groups) this.program(g);
    for (const { dev, pasid } of d.pasids.values()) dev.gcr3?.set(pasid, d.root);
  }

  private alloc(handle: string, type: DomainType, dev: string, pgsizes?: bigint): Outcome {
    const g = this.devices.get(dev)?.group;
    if (!g) return { err: 'ENODEV' };
    const spec = g.iommu.spec;
    if (!spec.domainTypes.includes(type) || type === 'nested') return { err: 'EOPNOTSUPP' };
    const paging = PAGING_TYPES.has(type);
    if (paging && pgsizes !== undefined && (pgsizes === 0n || (pgsizes & ~spec.pgsizes) !== 0n)) return { err: 'EINVAL' };
    const d = this.newDomain(handle, type, g.iommu, pgsizes ?? spec.pgsizes);
    if (!d) return { err: 'ENOMEM' };
    this.domains.set(handle, d);
    return { ok: paging ? { pgsizes: d.table!.cfg.pgsizes } : {} };
  }

  private free(handle: string): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    // The buggy check counts the groups and forgets the PASID attachments.
    if (d.groups.size > 0 || (d.pasids.size > 0 && !this.bug('amd-free-pasid-attached'))) return { err: 'EBUSY' };
    d.table?.destroy();
    this.tables.owners.delete(d.root);
    this.domains.delete(handle);
    return { ok: {} };
  }

  // ---- attach ----------------------------------------------------------------------------

  /** Can `iommu` use `d` at all? Same format, a type it has, page sizes it has. */
  private compatible(d: Domain, iommu: Iommu): boolean {
    const s = iommu.spec;
    if (d.iommu.spec.format !== s.format || !s.domainTypes.includes(d.type)) return false;
    return !d.table || (d.table.cfg.pgsizes & ~s.pgsizes) === 0n;
  }

  /** Can it walk `d`'s table? No more levels or output bits than it supports (its HATS): a narrower IOMMU refuses the domain. */
  private walkable(d: Domain, iommu: Iommu): boolean {
    return !d.table || (d.table.cfg.ias <= iommu.spec.ias && d.table.cfg.oas <= iommu.spec.oas);
  }

  /** Writes the device table entries of a group for its current (or default) domain. */
  private program(g: Group): void {
    const d = g.current ?? g.fallback;
    let target: DteTarget;
    if (d.table) target = { kind: 'paging', root: d.table.root, levels: d.table.levels, domainId: d.ids.get(g.iommu)!.id };
    else target = { kind: d.type === 'identity' ? 'identity' : 'blocked' };
    for (const dev of g.devices) dev.dte = encodeDte(target);
  }

  private attach(dev: string, handle: string): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    const g = this.devices.get(dev)!.group;
    if (d.type === 'sva') return { err: 'EINVAL' };
    if (g.current && !this.bug('amd-attach-replaces')) return { err: 'EBUSY' };
    if (!this.compatible(d, g.iommu)) return { err: 'EINVAL' };
    if (g.current === d) return { ok: {} }; // the buggy attach, asked for what is already there
    // A paging domain needs a domain ID on this IOMMU, unless another group already gave it one.
    const needsId = d.table !== null && !d.ids.has(g.iommu);
    if (needsId && g.iommu.ids.full) return { err: 'ENOSPC' };
    // Refusing a narrower IOMMU is the last resort: any other reason to fail comes first.
    if (!this.walkable(d, g.iommu)) return { err: 'EINVAL' };
    if (needsId) {
      const id = g.iommu.ids.alloc();
      if (typeof id === 'string') return { err: id };
      d.ids.set(g.iommu, { id, users: 0 });
    }
    if (g.current) this.leave(g);
    if (d.table) d.ids.get(g.iommu)!.users++;
    g.current = d;
    d.groups.add(g);
    this.program(g);
    return { ok: {} };
  }

  /** The group goes back to its default domain; the last group behind an IOMMU frees the domain ID. */
  private leave(g: Group): void {
    const d = g.current!;
    g.current = null;
    d.groups.delete(g);
    this.program(g);
    const held = d.ids.get(g.iommu);
    if (!held || --held.users > 0) return;
    // Flush before the ID can tag someone else's translations (the buggy detach does not).
    if (!this.bug('amd-domid-reuse-stale')) g.iommu.tlb.invalidateTag(held.id);
    g.iommu.ids.free(held.id);
    d.ids.delete(g.iommu);
  }

  private detach(dev: string, handle: string): Outcome {
    const g = this.devices.get(dev)!.group;
    const d = this.domains.get(handle);
    // Detaching what is not attached is a no-op, as Linux's void detach is.
    if (d && g.current === d) this.leave(g);
    return { ok: {} };
  }

  private attachPasid(dev: string, handle: string, pasid: number): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    const device = this.devices.get(dev)!;
    const g = device.group;
    if (pasid <= 0 || device.maxPasids === 0 || g.devices.some((x) => x.maxPasids > 0 && pasid >= x.maxPasids)) return { err: 'EINVAL' };
    if (d.type === 'identity' || d.type === 'blocked' || !this.compatible(d, g.iommu) || !this.walkable(d, g.iommu)) return { err: 'EINVAL' };
    if (this.tables.isOccupied(g.devices, pasid)) return { err: 'EBUSY' };
    if (this.tables.install(g.devices, pasid, d.root)) return { err: 'ENOMEM' };
    for (const x of g.devices) d.pasids.set(`${x.name}/${pasid}`, { dev: x, pasid });
    return { ok: {} };
  }

  private detachPasid(dev: string, pasid: number): Outcome {
    const g = this.devices.get(dev)!.group;
    const owner = this.tables.occupant(g.devices, pasid);
    // Nothing there is a no-op; an SVA bond or an sva domain is undone by sva_unbind, not here.
    if (!owner) return { ok: {} };
    if (owner.kind === 'mm' || owner.domain.type === 'sva') return { err: 'EINVAL' };
    // The buggy detach looks the PASID's domain up among SVA domains only, finds none, and is done.
    if (this.bug('amd-detach-pasid-sva-only')) return { ok: {} };
    this.tables.remove(g.devices, pasid);
    for (const x of g.devices) owner.domain.pasids.delete(`${x.name}/${pasid}`);
    return { ok: {} };
  }

  // ---- map / unmap -----------------------------------------------------------------------

  private map(handle: string, iova: bigint, paddr: bigint, size: bigint, prot: number): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    const t = d.table;
    if (!t) return { err: 'EINVAL' };
    const min = t.cfg.pgsizes & -t.cfg.pgsizes;
    if ((iova | paddr | size) % min !== 0n) return { err: 'EINVAL' };
    if (size === 0n) return { ok: {} };
    if ((prot & (PROT.READ | PROT.WRITE)) === 0) return { err: 'EINVAL' };
    // The buggy driver lets the end wrap past 2^64 and checks only where it lands.
    if (!this.bug('amd-map-wrap') && (iova + size > U64_LIMIT || paddr + size > U64_LIMIT)) return { err: 'EINVAL' };
    if (!t.fits(iova, paddr, size)) return { err: 'ERANGE' };
    const err = coreMap(t, iova, paddr, size, prot);
    return err === null ? { ok: {} } : { err };
  }

  private unmap(handle: string, iova: bigint, size: bigint): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    const t = d.table;
    if (!t) return { ok: { unmapped: 0n } };
    const min = t.cfg.pgsizes & -t.cfg.pgsizes;
    if ((iova | size) % min !== 0n || size === 0n || iova + size > U64_LIMIT) return { ok: { unmapped: 0n } };
    // Whole leaves never start below iova, so [iova, iova + unmapped) is exactly what went.
    const unmapped = coreUnmap(t, iova, size);
    if (unmapped === 0n) return { ok: { unmapped } };
    // The buggy gather covers the range asked for, not the leaves removed.
    const gone = { lo: iova, hi: iova + (this.bug('amd-gather-requested') ? size : unmapped) };
    if (d.fq) for (const r of d.fq.push(gone)) this.invalidate(d, r);
    else this.invalidate(d, gone);
    return { ok: { unmapped } };
  }

  private flush(handle: string): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    if (d.fq) for (const r of d.fq.drain()) this.invalidate(d, r);
    return { ok: {} };
  }

  /** Invalidates a range of a domain under every tag it is cached with: its domain IDs, its PASIDs. */
  private invalidate(d: Domain, r: Range): void {
    for (const [iommu, { id }] of d.ids) iommu.tlb.invalidateRange(id, r.lo, r.hi);
    for (const { dev, pasid } of d.pasids.values()) if (dev.gcr3) dev.group.iommu.tlb.invalidateRange(dev.gcr3.tag(pasid), r.lo, r.hi);
  }

  // ---- translation -----------------------------------------------------------------------

  private iovaToPhys(handle: string, iova: bigint): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    if (d.type === 'identity') return { ok: { phys: iova } };
    return { ok: { phys: d.table?.walk(iova)?.phys ?? 0n } };
  }

  /** The PASID a dma names through a handle: a pasid_alloc allocation's, or an mm's. */
  private pasidOf(h: string | undefined): number | undefined {
    if (h === undefined) return undefined;
    return this.pasids.idOf(h) ?? this.sva.pasidOf(h) ?? -1;
  }
}
