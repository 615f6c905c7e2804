// An Arm SMMU-style IOMMU model: stream tables route each group to a domain, paging domains
// own an LPAE page table in simulated memory and an ASID, a context bank per attached paging
// domain is a scarce resource (seed 001), and device accesses go through a TLB that caches
// walks. PASIDs are substreams: each device's CD table says which address space each of its
// PASIDs translates through, a domain's or (SVA) a process's own page table. It implements the
// Linux IOMMU API as the suite's vocabulary states it.

import {
  type Adapter, type AdapterInfo, type Capabilities, type DomainType, type Op, type Outcome, PROT, type Policies, type Topology, U64_LIMIT,
} from '../../../spec/index.ts';
import { AsidAllocator } from './asid.ts';
import { type ContextDescriptor, quietCd } from './cd.ts';
import { coreMap, coreUnmap } from './core.ts';
import { svaCapable } from './cpu.ts';
import { FlushQueue } from './flush-queue.ts';
import { Iotlb } from './iotlb.ts';
import { FaultInjector, TableMemory } from './memory.ts';
import { PasidAllocations, PasidSpace } from './pasid.ts';
import { LpaeTable, OutOfTableMemory, type PartialUnmap } from './pgtable.ts';
import { type Domain, type Group, type Smmu, pasidDevices } from './state.ts';
import { StreamTable, ssidBits } from './streams.ts';
import { Sva } from './sva.ts';
import { ARM_TOPOLOGIES } from './topologies.ts';

export const ARM_SMMU_VERSION = '0.2.0';

const PAGING = new Set<DomainType>(['paging', 'dma', 'dma_fq']);
/** CD tables live in ordinary kernel memory, allocated a 4 KiB page at a time. */
const CD_PAGE = 0x1000n;

export interface ArmSmmuOptions {
  partialUnmap?: PartialUnmap;
  /** When an mm's SVA PASID goes back: at its last unbind (v5.11) or once it has exited too (today). */
  pasidLifetime?: Policies['pasid_lifetime'];
  /** Bugs of the mutant catalogue (mutants.ts) to switch on: one id, or several joined by '+' (a known bug beside a new one). */
  mutant?: string;
}

export class ArmSmmuModel implements Adapter {
  private smmus = new Map<string, Smmu>();
  private groups = new Map<string, Group>();
  private devices = new Map<string, Group>();
  private domains = new Map<string, Domain>();
  // The hardware and allocator state below is made afresh by every reset().
  private tlb!: Iotlb;
  private faults!: FaultInjector;
  private asids!: AsidAllocator;
  /** ASID → the page table walked under it (a domain's, or an mm's for SVA). */
  private spaces!: Map<number, LpaeTable>;
  private streams!: StreamTable;
  private pasidSpace!: PasidSpace;
  private pasids!: PasidAllocations;
  private sva!: Sva;
  private readonly partialUnmap: PartialUnmap;
  private readonly pasidLifetime: Policies['pasid_lifetime'];
  private readonly bugs: ReadonlySet<string>;
  /** Where a group's stream table entry still points after a buggy detach. */
  private staleSte = new Map<Group, Domain>();
  /** Context banks a buggy detach never gave back. */
  private leakedContexts = new Map<Smmu, number>();

  constructor(opts: ArmSmmuOptions = {}) {
    this.partialUnmap = opts.partialUnmap ?? 'refuse';
    this.pasidLifetime = opts.pasidLifetime ?? 'mm-exit';
    this.bugs = new Set(opts.mutant ? opts.mutant.split('+') : []);
  }

  private bug(id: string): boolean {
    return this.bugs.has(id);
  }

  hello(): AdapterInfo {
    const caps: Capabilities = { leaves: true, pt_pages: true, fail_nth: true, lazy_flush: true, dma_phys: true, pasid: true, sva: true };
    return {
      name: this.bugs.size > 0 ? `arm-smmu+${[...this.bugs].join('+')}` : 'arm-smmu', version: ARM_SMMU_VERSION, profile: 'linux',
      policies: { partial_unmap: this.partialUnmap, overmap_errno: 'EEXIST', write_only_read: 'allow', range_errno: 'ERANGE', pasid_lifetime: this.pasidLifetime },
      capabilities: caps, topologies: ARM_TOPOLOGIES,
    };
  }

  reset(t: Topology): void {
    this.smmus = new Map(t.iommus.map((m) => [m.name, {
      name: m.name, pgsizes: m.pgsizes, ias: m.ias, oas: m.oas, contexts: m.contexts, format: m.format, types: m.domainTypes,
      pasidBits: m.pasidBits, sva: m.domainTypes.includes('sva') && svaCapable(m),
    }]));
    this.groups = new Map(t.groups.map((g) => [g.name, { name: g.name, smmu: this.smmus.get(g.iommu)!, defaultDomain: g.defaultDomain, devices: [], current: null, pasids: new Map() }]));
    this.devices = new Map();
    this.domains = new Map();
    this.tlb = new Iotlb();
    this.faults = new FaultInjector();
    this.asids = new AsidAllocator();
    this.spaces = new Map();
    this.streams = new StreamTable(new TableMemory(CD_PAGE, this.faults));
    for (const d of t.devices) {
      const g = this.groups.get(d.group)!;
      g.devices.push({ name: d.name, maxPasids: d.maxPasids });
      this.devices.set(d.name, g);
      this.streams.add(d.name, ssidBits(d.maxPasids, g.smmu.pasidBits));
    }
    this.pasidSpace = new PasidSpace();
    this.pasids = new PasidAllocations(this.pasidSpace, this.faults, this.bugs);
    this.sva = new Sva({ streams: this.streams, tlb: this.tlb, asids: this.asids, spaces: this.spaces, faults: this.faults, space: this.pasidSpace }, this.pasidLifetime, this.bugs);
    this.staleSte = new Map();
    this.leakedContexts = new Map();
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
      case 'dma': {
        // pasidOf names a PASID allocation or an mm: the ID it holds now, if any.
        const pasid = op.pasid ?? (op.pasidOf === undefined ? undefined : this.pasids.idOf(op.pasidOf) ?? this.sva.pasidOf(op.pasidOf) ?? null);
        if (pasid === null) return { err: 'FAULT' };
        return pasid === undefined ? this.dma(op.dev, op.iova, op.access) : this.dmaPasid(op.dev, pasid, op.iova, op.access);
      }
      case 'flush': return this.flush(op.domain);
      case 'pasid_alloc': return this.pasids.alloc(op.pasid, op.min, op.max, op.data);
      case 'pasid_get': return this.pasids.get(op.pasid);
      case 'pasid_put': return this.pasids.put(op.pasid);
      case 'pasid_find': return this.pasids.find(op.pasid);
      case 'sva_bind': {
        const g = this.devices.get(op.dev)!;
        return this.sva.bind(op.bond, g, g.devices.find((x) => x.name === op.dev)!, op.mm);
      }
      case 'sva_unbind': return this.sva.unbind(op.bond);
      case 'mm_map': return this.sva.mmMap(op.mm, op.va, op.pa, op.size, op.prot);
      case 'mm_unmap': return this.sva.mmUnmap(op.mm, op.va, op.size);
      case 'mm_exit': return this.sva.mmExit(op.mm);
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
    const domain = (table: LpaeTable | null, mem: TableMemory | null, asid: number): Domain =>
      ({ handle, type, smmu, asid, table, mem, groups: new Set(), pasids: 0, fq: new FlushQueue(this.bug('fq-flush-skips-newest')) });
    if (!PAGING.has(type)) {
      // identity, blocked, and an SVA domain not yet given an mm: nothing to translate through.
      this.domains.set(handle, domain(null, null, 0));
      return { ok: {} };
    }
    if (pgsizes !== undefined && (pgsizes === 0n || (pgsizes & ~smmu.pgsizes) !== 0n)) return { err: 'EINVAL' };
    const sizes = pgsizes ?? smmu.pgsizes;
    // The granule is the SMMU's (its smallest size), whatever sizes the domain keeps: a domain
    // of 2M blocks only still walks 4K-granule tables. The buggy model takes the smallest size
    // asked for, so a domain without the small page gets a table of nonsense geometry.
    const granule = this.bug('granule-from-request') ? sizes & -sizes : smmu.pgsizes & -smmu.pgsizes;
    const mem = new TableMemory(granule, this.faults);
    let table: LpaeTable;
    try {
      table = new LpaeTable(mem, { granule, ias: smmu.ias, oas: smmu.oas, pgsizes: sizes, partialUnmap: this.partialUnmap, bugs: this.bugs });
    } catch (e) {
      if (!(e instanceof OutOfTableMemory)) throw e;
      // The buggy error path registers the half-made domain before bailing out.
      if (this.bug('failed-alloc-leaks-domain')) this.domains.set(handle, domain(null, null, 0));
      return { err: 'ENOMEM' };
    }
    const asid = this.asids.alloc();
    if (asid === null) return { err: 'ENOSPC' };
    this.spaces.set(asid, table);
    this.domains.set(handle, domain(table, mem, asid));
    return { ok: { pgsizes: sizes } };
  }

  private free(handle: string): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    const busy = d.groups.size > 0 || (d.pasids > 0 && !this.bug('free-pasid-attached'));
    if (busy && !this.bug('free-attached')) return { err: 'EBUSY' };
    d.table?.destroy();
    if (d.asid > 0) {
      // TLBI ASID before the ASID can be handed out again.
      this.tlb.invalidateAll(d.asid);
      this.spaces.delete(d.asid);
      this.asids.free(d.asid);
    }
    this.domains.delete(handle);
    return { ok: {} };
  }

  /** Context banks in use on an SMMU: dma default domains hold one each, attached paging domains one each. */
  private contextsInUse(smmu: Smmu): number {
    let n = [...this.groups.values()].filter((g) => g.smmu === smmu && g.defaultDomain === 'dma').length;
    for (const d of this.domains.values()) if (d.table && [...d.groups].some((g) => g.smmu === smmu)) n++;
    return n + (this.leakedContexts.get(smmu) ?? 0);
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
    // An SVA domain has no stream-table form: it exists only at a PASID.
    if (d.type === 'sva') return { err: 'EINVAL' };
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
      // The buggy detach never clears the context bank's bit when its last group on this SMMU leaves.
      if (this.bug('context-leak-on-detach') && d.table && ![...d.groups].some((x) => x.smmu === g.smmu)) {
        this.leakedContexts.set(g.smmu, (this.leakedContexts.get(g.smmu) ?? 0) + 1);
      }
    }
    return { ok: {} };
  }

  private attachPasid(dev: string, handle: string, pasid: number): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    const g = this.devices.get(dev)!;
    const me = g.devices.find((x) => x.name === dev)!;
    if ((pasid === 0 && !this.bug('pasid-zero')) || me.maxPasids === 0 || g.devices.some((x) => x.maxPasids > 0 && pasid >= x.maxPasids)) return { err: 'EINVAL' };
    if (d.type === 'identity' || d.type === 'blocked' || !this.compatible(d, g)) return { err: 'EINVAL' };
    if (g.pasids.has(pasid)) return { err: 'EBUSY' };
    // A paging domain's CD walks its table under its ASID; an SVA domain without an mm translates nothing.
    const cd: ContextDescriptor = d.table ? { asid: d.asid, ttb0: d.table.root, ias: d.table.cfg.ias, granule: d.table.cfg.granule, epd0: false } : quietCd(0);
    if (!this.streams.install(pasidDevices(g), pasid, cd)) return { err: 'ENOMEM' };
    g.pasids.set(pasid, { domain: d });
    d.pasids++;
    return { ok: {} };
  }

  private detachPasid(dev: string, pasid: number): Outcome {
    const g = this.devices.get(dev)!;
    const slot = g.pasids.get(pasid);
    if (!slot) return { ok: {} }; // Linux's detach of an empty PASID is void
    // An SVA bond (or an SVA domain) is undone by sva_unbind, not here.
    if ('bond' in slot || slot.domain.type === 'sva') return { err: 'EINVAL' };
    this.streams.remove(pasidDevices(g), pasid);
    g.pasids.delete(pasid);
    slot.domain.pasids--;
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
    if (unmapped > 0n) {
      if (d.type === 'dma_fq') {
        // Lazy: queued; a full queue is drained first.
        for (const r of d.fq.push({ lo: iova, hi: iova + unmapped })) this.tlb.invalidateRange(d.asid, r.lo, r.hi);
      } else if (!this.bug('tlb-no-invalidate')) {
        // Strict: the gather covers everything removed, and is synced before unmap returns.
        // The buggy level hint is the granule of the request, not of the leaves removed.
        const hint = this.bug('tlb-wrong-level-hint') ? min : undefined;
        this.tlb.invalidateRange(d.asid, iova, iova + unmapped, hint);
      }
    }
    return { ok: { unmapped: this.bug('unmap-returns-requested') && unmapped > size ? size : unmapped } };
  }

  /** Drains the domain's flush queue: one range invalidation per queued unmap. */
  private flush(handle: string): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    const queued = d.fq.drain();
    if (!this.bug('flush-noop')) for (const r of queued) this.tlb.invalidateRange(d.asid, r.lo, r.hi);
    return { ok: {} };
  }

  private iovaToPhys(handle: string, iova: bigint): Outcome {
    const d = this.domains.get(handle);
    if (!d) return { err: 'ENOENT' };
    if (d.type === 'identity') return { ok: { phys: iova } };
    return { ok: { phys: d.table?.walk(iova)?.phys ?? 0n } };
  }

  /** Where a device access without a PASID lands: the stream table entry's domain. */
  private dma(dev: string, iova: bigint, access: 'r' | 'w'): Outcome {
    const g = this.devices.get(dev)!;
    const stale = this.staleSte.get(g);
    const d = g.current ?? (stale && this.domains.has(stale.handle) ? stale : null);
    if (!d) {
      if (g.defaultDomain !== 'identity') return { err: 'FAULT' };
      return iova < 1n << BigInt(g.smmu.oas) ? { ok: { phys: iova } } : { err: 'FAULT' };
    }
    if (d.type === 'identity') return iova < 1n << BigInt(d.smmu.oas) ? { ok: { phys: iova } } : { err: 'FAULT' };
    if (!d.table) return { err: 'FAULT' };
    return this.translate(d.asid, d.table, iova, access);
  }

  /** A device access with a PASID: the device's CD for that substream names the address space. */
  private dmaPasid(dev: string, pasid: number, iova: bigint, access: 'r' | 'w'): Outcome {
    const cd = this.streams.lookup(dev, pasid);
    if (!cd) return { err: 'FAULT' };
    const table = this.spaces.get(cd.asid);
    // EPD0: TLB hits only; and a CD naming a table that is not the ASID's walks nothing.
    return this.translate(cd.asid, cd.epd0 || table?.root !== cd.ttb0 ? null : table!, iova, access);
  }

  /** Through the TLB, walking the table on a miss (no table: a miss faults). */
  private translate(asid: number, table: LpaeTable | null, iova: bigint, access: 'r' | 'w'): Outcome {
    let e = this.tlb.lookup(asid, iova);
    if (!e) {
      const w = table?.walk(iova);
      if (!w) return { err: 'FAULT' };
      const leaf = w.size;
      e = { iova: iova - (iova % leaf), size: leaf, phys: w.phys - (iova % leaf), writable: w.writable };
      this.tlb.fill(asid, e);
    }
    if (access === 'w' && !e.writable) return { err: 'FAULT' };
    return { ok: { phys: e.phys + (iova - e.iova) } };
  }
}
