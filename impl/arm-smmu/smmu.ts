// An Arm SMMU-style IOMMU model: stream tables route each group to a domain, paging domains
// own an LPAE page table in simulated memory and an ASID, a context bank per attached paging
// domain is a scarce resource (seed 001), and device accesses go through a TLB that caches
// walks. It implements the Linux IOMMU API as the suite's vocabulary states it.

import {
  type Adapter, type AdapterInfo, type Capabilities, type DomainType, type Op, type Outcome, PROT, type Topology, U64_LIMIT,
} from '../../spec/index.ts';
import { coreMap, coreUnmap } from './core.ts';
import { Iotlb } from './iotlb.ts';
import { FaultInjector, TableMemory } from './memory.ts';
import { LpaeTable, OutOfTableMemory, type PartialUnmap } from './pgtable.ts';
import { ARM_TOPOLOGIES } from './topologies.ts';

export const ARM_SMMU_VERSION = '0.1.0';

interface Smmu {
  name: string;
  pgsizes: bigint;
  ias: number;
  oas: number;
  contexts: number;
  format: string;
  types: readonly DomainType[];
}

interface Domain {
  handle: string;
  type: DomainType;
  smmu: Smmu;
  asid: number;
  table: LpaeTable | null;
  mem: TableMemory | null;
  groups: Set<Group>;
  pasids: number;
}

interface Group {
  name: string;
  smmu: Smmu;
  defaultDomain: 'dma' | 'identity' | 'blocked';
  devices: { name: string; maxPasids: number }[];
  current: Domain | null;
  pasids: Map<number, Domain>;
}

const PAGING = new Set<DomainType>(['paging', 'dma', 'dma_fq']);

export interface ArmSmmuOptions {
  partialUnmap?: PartialUnmap;
  /** One bug of the mutant catalogue (mutants.ts) to switch on. */
  mutant?: string;
}

export class ArmSmmuModel implements Adapter {
  private smmus = new Map<string, Smmu>();
  private groups = new Map<string, Group>();
  private devices = new Map<string, Group>();
  private domains = new Map<string, Domain>();
  private readonly tlb = new Iotlb();
  private faults = new FaultInjector();
  private nextAsid = 1;
  private readonly partialUnmap: PartialUnmap;
  private readonly bugs: ReadonlySet<string>;
  /** Where a group's stream table entry still points after a buggy detach. */
  private staleSte = new Map<Group, Domain>();

  constructor(opts: ArmSmmuOptions = {}) {
    this.partialUnmap = opts.partialUnmap ?? 'refuse';
    this.bugs = new Set(opts.mutant ? [opts.mutant] : []);
  }

  private bug(id: string): boolean {
    return this.bugs.has(id);
  }

  hello(): AdapterInfo {
    const caps: Capabilities = { leaves: true, pt_pages: true, fail_nth: true, lazy_flush: true, dma_phys: true };
    return {
      name: this.bugs.size > 0 ? `arm-smmu+${[...this.bugs].join('+')}` : 'arm-smmu', version: ARM_SMMU_VERSION, profile: 'linux',
      policies: { partial_unmap: this.partialUnmap, overmap_errno: 'EEXIST', write_only_read: 'allow', range_errno: 'ERANGE' },
      capabilities: caps, topologies: ARM_TOPOLOGIES,
    };
  }

  reset(t: Topology): void {
    this.smmus = new Map(t.iommus.map((m) => [m.name, { name: m.name, pgsizes: m.pgsizes, ias: m.ias, oas: m.oas, contexts: m.contexts, format: m.format, types: m.domainTypes }]));
    this.groups = new Map(t.groups.map((g) => [g.name, { name: g.name, smmu: this.smmus.get(g.iommu)!, defaultDomain: g.defaultDomain, devices: [], current: null, pasids: new Map() }]));
    this.devices = new Map();
    for (const d of t.devices) {
      const g = this.groups.get(d.group)!;
      g.devices.push({ name: d.name, maxPasids: d.maxPasids });
      this.devices.set(d.name, g);
    }
    this.domains = new Map();
    this.faults = new FaultInjector();
    this.staleSte = new Map();
  }

  exec(op: Op): Outcome {
    switch (op.op) {
      case 'domain_alloc': return this.alloc(op.domain, op.type, op.dev, op.pgsizes);
      case 'domain_free': return this.free(op.domain);
      case 'attach': return this.attach(op.dev, op.domain);
      case 'detach': return this.detach(op.dev, op.domain);
      case 'attach_pasid': return this.attachPasid(op.dev, op.domain, op.pasid);
      case 'detach_pasid': {
        const g = this.devices.get(op.dev)!;
        const d = g.pasids.get(op.pasid);
        if (d) {
          g.pasids.delete(op.pasid);
          d.pasids--;
        }
        return { ok: {} };
      }
      case 'map': return this.map(op.domain, op.iova, op.paddr, op.size, op.prot);
      case 'unmap': return this.unmap(op.domain, op.iova, op.size);
      case 'iova_to_phys': return this.iovaToPhys(op.domain, op.iova);
      case 'dma': return this.dma(op.dev, op.iova, op.access, op.pasid);
      case 'flush': {
        const d = this.domains.get(op.domain);
        if (!d) return { err: 'ENOENT' };
        if (!this.bug('flush-noop')) this.tlb.invalidateAll(d.asid);
        return { ok: {} };
      }
      case 'leaves': {
        const d = this.domains.get(op.domain);
        return d?.table ? { ok: { leaves: d.table.leaves(op.iova, op.size) } } : { err: 'ENOENT' };
      }
      case 'pt_pages': {
        const d = this.domains.get(op.domain);
        return d ? { ok: { pages: d.mem?.pageCount ?? 0 } } : { err: 'ENOENT' };
      }
      case 'fail_nth':
        this.faults.arm(op.n);
        return { ok: {} };
      default:
        return { err: 'ENOSYS' };
    }
  }

  private alloc(handle: string, type: DomainType, dev: string, pgsizes?: bigint): Outcome {
    const g = this.devices.get(dev);
    if (!g) return { err: 'ENODEV' };
    const smmu = g.smmu;
    if (!smmu.types.includes(type)) return { err: 'EOPNOTSUPP' };
    let table: LpaeTable | null = null;
    let mem: TableMemory | null = null;
    let sizes = smmu.pgsizes;
    if (PAGING.has(type)) {
      if (pgsizes !== undefined && (pgsizes === 0n || (pgsizes & ~smmu.pgsizes) !== 0n)) return { err: 'EINVAL' };
      sizes = pgsizes ?? smmu.pgsizes;
      // The granule is the smallest size; the table's levels follow from it and the IAS.
      const granule = sizes & -sizes;
      mem = new TableMemory(granule, this.faults);
      try {
        table = new LpaeTable(mem, { granule, ias: smmu.ias, oas: smmu.oas, pgsizes: sizes, partialUnmap: this.partialUnmap, bugs: this.bugs });
      } catch (e) {
        if (!(e instanceof OutOfTableMemory)) throw e;
        // The buggy error path registers the half-made domain before bailing out.
        if (this.bug('failed-alloc-leaks-domain')) this.domains.set(handle, { handle, type, smmu, asid: this.nextAsid++, table: null, mem: null, groups: new Set(), pasids: 0 });
        return { err: 'ENOMEM' };
      }
    }
    this.domains.set(handle, { handle, type, smmu, asid: this.nextAsid++, table, mem, groups: new Set(), pasids: 0 });
    return { ok: PAGING.has(type) ? { pgsizes: sizes } : {} };
  }

  private free(handle: string): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    if ((d.groups.size > 0 || d.pasids > 0) && !this.bug('free-attached')) return { err: 'EBUSY' };
    d.table?.destroy();
    this.tlb.invalidateAll(d.asid);
    this.domains.delete(handle);
    return { ok: {} };
  }

  /** Context banks in use on an SMMU: dma default domains hold one each, attached paging domains one each. */
  private contextsInUse(smmu: Smmu): number {
    let n = [...this.groups.values()].filter((g) => g.smmu === smmu && g.defaultDomain === 'dma').length;
    for (const d of this.domains.values()) if (d.table && [...d.groups].some((g) => g.smmu === smmu)) n++;
    return n;
  }

  private compatible(d: Domain, g: Group): boolean {
    const s = g.smmu;
    if (d.smmu.format !== s.format || !s.types.includes(d.type)) return false;
    if (!d.table) return true;
    // A table built for another SMMU works here only if this one walks the same geometry.
    return (d.table.cfg.pgsizes & ~s.pgsizes) === 0n && d.smmu.ias <= s.ias && d.smmu.oas <= s.oas;
  }

  private attach(dev: string, handle: string): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    const g = this.devices.get(dev)!;
    if (g.current && !this.bug('attach-replaces')) return { err: 'EBUSY' };
    if (!this.compatible(d, g) && !this.bug('compat-unchecked')) return { err: 'EINVAL' };
    const shares = [...d.groups].some((x) => x.smmu === g.smmu);
    if (d.table && !shares && this.contextsInUse(g.smmu) >= g.smmu.contexts && !this.bug('no-context-limit')) return { err: 'ENOSPC' };
    g.current?.groups.delete(g);
    g.current = d;
    d.groups.add(g);
    this.staleSte.delete(g);
    return { ok: {} };
  }

  private detach(dev: string, handle: string): Outcome {
    const g = this.devices.get(dev)!;
    const d = this.domains.get(handle);
    if (d && g.current === d) {
      g.current = null;
      d.groups.delete(g);
      if (this.bug('detach-keeps-ste')) this.staleSte.set(g, d);
    }
    return { ok: {} };
  }

  private attachPasid(dev: string, handle: string, pasid: number): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    const g = this.devices.get(dev)!;
    const me = g.devices.find((x) => x.name === dev)!;
    if ((pasid === 0 && !this.bug('pasid-zero')) || me.maxPasids === 0 || g.devices.some((x) => x.maxPasids > 0 && pasid >= x.maxPasids)) return { err: 'EINVAL' };
    if (!d.table || !this.compatible(d, g)) return { err: 'EINVAL' };
    if (g.pasids.has(pasid)) return { err: 'EBUSY' };
    g.pasids.set(pasid, d);
    d.pasids++;
    return { ok: {} };
  }

  private map(handle: string, iova: bigint, paddr: bigint, size: bigint, prot: number): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    if (!d.table) return { err: 'EINVAL' };
    const min = d.table.cfg.pgsizes & -d.table.cfg.pgsizes;
    if (((this.bug('align-ignores-paddr') ? iova | size : iova | paddr | size) % min) !== 0n) return { err: 'EINVAL' };
    if (size === 0n) return { ok: {} };
    if ((prot & (PROT.READ | PROT.WRITE)) === 0) return { err: 'EINVAL' };
    if (iova + size > U64_LIMIT || paddr + size > U64_LIMIT) return { err: 'EINVAL' };
    const err = coreMap(d.table, iova, paddr, size, prot);
    if (err === null) return { ok: {} };
    this.tlb.invalidateRange(d.asid, iova, iova + size); // the unroll removed what it mapped
    return { err };
  }

  private unmap(handle: string, iova: bigint, size: bigint): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    if (!d.table) return { ok: { unmapped: 0n } };
    const min = d.table.cfg.pgsizes & -d.table.cfg.pgsizes;
    if ((iova | size) % min !== 0n || size === 0n || iova + size > U64_LIMIT) return { ok: { unmapped: 0n } };
    // Whole-leaf removal never starts below iova (a request inside a leaf removes nothing),
    // so [iova, iova + unmapped) is exactly what went.
    const unmapped = coreUnmap(d.table, iova, size);
    // Strict: the gather covers everything removed, and is synced before unmap returns.
    // The buggy level hint is the granule of the request, not of the leaves removed.
    const hint = this.bug('tlb-wrong-level-hint') ? d.table.cfg.pgsizes & -d.table.cfg.pgsizes : undefined;
    if (d.type !== 'dma_fq' && unmapped > 0n && !this.bug('tlb-no-invalidate')) this.tlb.invalidateRange(d.asid, iova, iova + unmapped, hint);
    return { ok: { unmapped: this.bug('unmap-returns-requested') && unmapped > size ? size : unmapped } };
  }

  private iovaToPhys(handle: string, iova: bigint): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    if (d.type === 'identity') return { ok: { phys: iova } };
    return { ok: { phys: d.table?.walk(iova)?.phys ?? 0n } };
  }

  /** Where a device access lands: through the TLB, walking the table on a miss. */
  private dma(dev: string, iova: bigint, access: 'r' | 'w', pasid?: number): Outcome {
    const g = this.devices.get(dev)!;
    const stale = this.staleSte.get(g);
    const d = pasid === undefined ? (g.current ?? (stale && this.domains.has(stale.handle) ? stale : null)) : g.pasids.get(pasid);
    if (!d) {
      if (pasid !== undefined || g.defaultDomain !== 'identity') return { err: 'FAULT' };
      return iova < 1n << BigInt(g.smmu.oas) ? { ok: { phys: iova } } : { err: 'FAULT' };
    }
    if (d.type === 'identity') return iova < 1n << BigInt(d.smmu.oas) ? { ok: { phys: iova } } : { err: 'FAULT' };
    if (!d.table) return { err: 'FAULT' };
    let e = this.tlb.lookup(d.asid, iova);
    if (!e) {
      const w = d.table.walk(iova);
      if (!w) return { err: 'FAULT' };
      const leaf = w.size;
      e = { iova: iova - (iova % leaf), size: leaf, phys: w.phys - (iova % leaf), writable: w.writable };
      this.tlb.fill(d.asid, e);
    }
    if (access === 'w' && !e.writable) return { err: 'FAULT' };
    return { ok: { phys: e.phys + (iova - e.iova) } };
  }
}
