// State-aware generation. fast-check draws a list of raw steps (tuples of small naturals); each
// is interpreted against the reference model's current state into a concrete op, so ops refer
// to things that exist (Hypothesis bundles, not blind pre-generation) and almost nothing is
// skipped. Shrinking works on the raw numbers: toward 0 every choice gets simpler (the first
// op kind, the first mapping, the plainest address), and re-interpretation keeps the shrunk
// sequence meaningful.

import fc from 'fast-check';
import {
  type Capabilities, type DomainType, type Handle, type Op, type OpKind, OP_FIELDS, PROT, U64_LIMIT, alignDown, minPageSize, pageSizes,
} from '../spec/index.ts';
import { type Mapping, endOf } from '../impl/reference/mappings.ts';
import type { ReferenceModel } from '../impl/reference/model.ts';
import type { DomainState } from '../impl/reference/state.ts';

export type RawStep = readonly [kind: number, a: number, b: number, c: number, d: number, e: number];

const n = () => fc.nat({ max: 0xffff });
export const rawStepArb: fc.Arbitrary<RawStep> = fc.tuple(n(), n(), n(), n(), n(), n());

export type Weights = Partial<Record<OpKind, number>>;

/** What a family steers the draw toward beyond op weights. */
export interface Bias {
  /** Domain types to allocate most of the time (when the IOMMU has them). */
  domainTypes?: readonly DomainType[];
}

/** Process address spaces a sequence shares with devices. */
const MMS = ['mm1', 'mm2', 'mm3'] as const;

/** Handles and choices that outlive a single step. */
export class Interpreter {
  private domainCount = 0;
  private pasidCount = 0;
  private bondCount = 0;
  /** Every handle ever allocated, live or freed, in order. */
  readonly handles: Handle[] = [];
  private readonly pasidHandles: Handle[] = [];
  private readonly bondHandles: Handle[] = [];

  constructor(
    private readonly model: ReferenceModel,
    private readonly weights: readonly [OpKind, number][],
    private readonly caps: Capabilities,
    private readonly bias: Bias = {},
  ) {}

  /** A reserved field to send: only where the profile has them, and then now and then. */
  private reserved(r: number): { reserved?: number } {
    return this.model.policies.reserved_fields !== 'absent' && r % 16 === 11 ? { reserved: 1 + (r >> 4) % 3 } : {};
  }

  /**
   * The invalidation a driver kit sends after an unmap or a change of a device's translation
   * (capability invalidation_choice), of the ones its architecture allows, 0 the narrowest: a raw
   * value shrinks toward 0, so a minimal trace names the narrowest invalidation that still fails.
   * Kits list up to four (for an unmap: page, covering range, whole domain, global); a larger
   * value means the same modulo their list.
   */
  private inval(r: number): { inval?: number } {
    return this.caps.invalidation_choice ? { inval: r % 4 } : {};
  }

  private kindOf(r: number): OpKind {
    const total = this.weights.reduce((s, [, w]) => s + w, 0);
    let x = r % total;
    for (const [k, w] of this.weights) {
      if (x < w) return k;
      x -= w;
    }
    return this.weights[0]![0];
  }

  private devices(): string[] {
    return [...this.model.devices.keys()];
  }

  private live(): DomainState[] {
    return [...this.model.domains.values()];
  }

  /** A domain for the op: usually a live one of a fitting kind, sometimes freed or unfit. */
  private pickDomain(r: number, want: (d: DomainState) => boolean): Handle | null {
    const fitting = this.live().filter(want);
    const mode = r % 16;
    if (mode === 15) {
      // A handle that names no domain: freed, or never created because its allocation failed.
      const dead = this.handles.filter((h) => !this.model.domains.has(h));
      if (dead.length > 0) return dead[(r >> 4) % dead.length]!;
    }
    if (mode >= 12 && this.live().length > 0) return this.live()[(r >> 4) % this.live().length]!.handle;
    if (fitting.length === 0) return null;
    return fitting[(r >> 4) % fitting.length]!.handle;
  }

  private mappingAt(d: DomainState, r: number): Mapping | undefined {
    const table = d.mappings;
    if (!table || table.size === 0) return undefined;
    let i = r % table.size;
    for (const m of table.all()) if (i-- === 0) return m;
    return undefined;
  }

  next(step: RawStep): Op {
    return within64Bits(this.draw(step));
  }

  private draw(step: RawStep): Op {
    const [k, a, b, c, d, e] = step;
    const kind = this.kindOf(k);
    switch (kind) {
      case 'domain_alloc':
        return this.alloc(a, b, c);
      case 'domain_free': {
        const h = this.pickDomain(a, () => true);
        return h ? { op: 'domain_free', domain: h } : this.alloc(a, b, c);
      }
      case 'attach': {
        const h = this.pickDomain(a, (x) => x.type !== 'sva' || a % 8 === 0);
        return h ? { op: 'attach', dev: this.dev(b), domain: h, ...this.reserved(e), ...this.inval(d) } : this.alloc(a, b, c);
      }
      case 'detach': {
        const dev = this.dev(b);
        const cur = this.model.currentDomain(dev);
        const h = cur && a % 4 !== 3 ? cur.handle : this.pickDomain(a, () => true);
        return h ? { op: 'detach', dev, domain: h, ...this.reserved(e), ...this.inval(d) } : this.alloc(a, b, c);
      }
      case 'attach_pasid': {
        const h = this.pickDomain(a, (x) => x.type === 'paging' || x.type === 'dma');
        return h ? { op: 'attach_pasid', dev: this.dev(b), domain: h, pasid: this.pasid(c) } : this.alloc(a, b, c);
      }
      case 'detach_pasid':
        return this.detachPasid(b, c);
      case 'map':
        return this.map(a, b, c, d, e);
      case 'unmap':
        return this.unmap(a, b, c, d, e);
      case 'iova_to_phys': {
        const h = this.pickDomain(a, (x) => x.mappings !== null);
        if (!h) return this.alloc(a, b, c);
        return { op: 'iova_to_phys', domain: h, iova: this.probeAddress(h, b, c) };
      }
      case 'dma': {
        const dev = this.dev(a);
        if (this.caps.sva && c % 3 === 0) {
          const mm = MMS[(c >> 2) % MMS.length]!;
          return { op: 'dma', dev, iova: this.mmAddress(mm, b, e), access: d % 2 === 0 ? 'r' : 'w', pasidOf: mm };
        }
        const cur = this.model.currentDomain(dev);
        const iova = cur ? this.probeAddress(cur.handle, b, c) : BigInt(b) << 12n;
        return { op: 'dma', dev, iova, access: d % 2 === 0 ? 'r' : 'w' };
      }
      case 'flush': {
        const h = this.pickDomain(a, (x) => x.removed.lazy && !x.dormant) ?? this.pickDomain(a, () => true);
        return h ? { op: 'flush', domain: h } : this.alloc(a, b, c);
      }
      case 'pasid_alloc':
        return this.pasidAlloc(a, b);
      case 'pasid_get':
      case 'pasid_put':
      case 'pasid_find': {
        const h = this.pickPasid(a);
        return h ? { op: kind, pasid: h } : this.pasidAlloc(a, b);
      }
      case 'sva_bind':
        return this.svaBind(a, b);
      case 'sva_unbind': {
        const live = this.model.sva.liveBondHandles();
        // With nothing bound, mostly bind; now and then unbind a dead handle (SVA-UNBIND).
        if (live.length === 0 && (this.bondHandles.length === 0 || a % 4 !== 0)) return this.svaBind(a, b);
        const pool = live.length > 0 && a % 8 !== 7 ? live : this.bondHandles;
        return { op: 'sva_unbind', bond: pool[(a >> 3) % pool.length]! };
      }
      case 'mm_map': {
        const mm = MMS[a % MMS.length]!;
        const va = this.mmAddress(mm, b, c);
        const size = 0x1000n * BigInt(1 + (d % 4));
        const prots = [PROT.READ | PROT.WRITE, PROT.READ, PROT.WRITE];
        return { op: 'mm_map', mm, va, pa: 0x300000000n + BigInt(a % 7) * 0x10000000n + va, size, prot: prots[(d >> 2) % prots.length]! };
      }
      case 'mm_unmap': {
        const mm = MMS[a % MMS.length]!;
        return { op: 'mm_unmap', mm, va: this.mmAddress(mm, b, c), size: 0x1000n * BigInt(1 + (d % 3)) };
      }
      case 'mm_exit':
        return { op: 'mm_exit', mm: MMS[a % MMS.length]! };
      default:
        throw new Error(`no generator for ${kind}`);
    }
  }

  /**
   * Mostly a PASID some device really has attached (what a driver detaches; a blind draw
   * matches an attach_pasid's device and PASID about once in twenty), else any device and PASID.
   */
  private detachPasid(b: number, c: number): Op {
    const attached = [...this.model.groups.values()].flatMap((g) => [...g.pasids.keys()].map((pasid) => ({ g, pasid })));
    if (attached.length === 0 || c % 4 === 3) return { op: 'detach_pasid', dev: this.dev(b), pasid: this.pasid(c) };
    const { g, pasid } = attached[(c >> 2) % attached.length]!;
    return { op: 'detach_pasid', dev: g.devices[b % g.devices.length]!.spec.name, pasid };
  }

  private pasidAlloc(a: number, b: number): Op {
    // Narrow ranges so exhaustion and reuse come quickly; 0 in range to test it is skipped.
    // [1, 15] fills the IDs a 16-PASID device can use, so an mm bound later gets one beyond it.
    const ranges: [number, number][] = [[1, 4], [0, 3], [1, 1], [5, 8], [1, 0xfffff], [2, 3], [3, 2], [1, 2], [1, 15], [1, 15]];
    const [min, max] = ranges[a % ranges.length]!;
    const data = ['ctx', undefined, 'x<&>"'][b % 3];
    const pasid = `p${++this.pasidCount}`;
    this.pasidHandles.push(pasid);
    return { op: 'pasid_alloc', pasid, min, max, ...(data !== undefined ? { data } : {}) };
  }

  /** Usually a live allocation; now and then a freed one (PASID-STALE). */
  private pickPasid(a: number): Handle | null {
    const live = this.model.pasids.live();
    const pool = live.length > 0 && a % 8 !== 7 ? live : this.pasidHandles;
    return pool.length > 0 ? pool[(a >> 3) % pool.length]! : null;
  }

  private svaBind(a: number, b: number): Op {
    const bond = `b${++this.bondCount}`;
    this.bondHandles.push(bond);
    // mm1 most often, so binds share and PASIDs get reused.
    const mm = MMS[[0, 0, 1, 2][a % 4]!]!;
    // Mostly devices that can bind; the rest check the refusal (SVA-LIMIT).
    const able = this.devices().filter((d) => this.model.devices.get(d)!.spec.maxPasids > 0);
    const dev = able.length > 0 && b % 8 !== 7 ? able[(b >> 3) % able.length]! : this.dev(b);
    return { op: 'sva_bind', bond, dev, mm };
  }

  /** An address in an mm: on or next to one of its mappings, or a page of a small window. */
  private mmAddress(mm: string, b: number, c: number): bigint {
    const table = this.model.sva.mms.get(mm)?.table;
    const maps = table ? [...table.all()] : [];
    const m = maps.length > 0 && c % 4 !== 3 ? maps[b % maps.length]! : undefined;
    if (!m) return 0x1000n * BigInt(b % 32);
    const pts = [m.iova, endOf(m) - 0x1000n, endOf(m), m.iova + 0x1000n * BigInt((c >> 2) % 4)];
    return pts[(c >> 4) % pts.length]!;
  }

  private dev(r: number): string {
    const devs = this.devices();
    return devs[r % devs.length]!;
  }

  private pasid(r: number): number {
    // 0 and the edges of the device's range are where the rules live.
    const choices = [1, 2, 0, 15, 16, 1023, 1024, 5];
    return choices[r % choices.length]!;
  }

  private alloc(a: number, b: number, c: number): Op {
    const dev = this.dev(b);
    const iommu = this.model.devices.get(dev)!.group.iommu;
    const types: DomainType[] = ['paging', 'dma', 'identity', 'blocked', 'sva', 'nested', 'dma_fq'];
    // Mostly the family's types, else paging domains, since most rules live there; now and
    // then any type, supported or not.
    const favoured = (this.bias.domainTypes ?? ['paging', 'paging', 'paging', 'dma']).filter((t) => iommu.domainTypes.includes(t));
    const type = a % 4 !== 3 && favoured.length > 0 ? favoured[(a >> 2) % favoured.length]! : types[(a >> 2) % types.length]!;
    const domain = `d${++this.domainCount}`;
    this.handles.push(domain);
    const op: Op = { op: 'domain_alloc', domain, type, dev };
    if (type === 'nested') {
      const parent = this.live().find((x) => x.type === 'paging');
      if (parent) op.parent = parent.handle;
    }
    if ((type === 'paging' || type === 'dma') && c % 4 === 1) {
      // Ask for a subset (sometimes an impossible one) of the IOMMU's sizes. The subset may
      // leave out the IOMMU's smallest page (a domain of large pages only, legal per DOM-PGSIZE);
      // an empty pick asks for the smallest alone.
      const sizes = pageSizes(iommu.pgsizes);
      const picked = sizes.filter((_, i) => ((c >> 2) >> i) & 1).reduce((x, y) => x | y, 0n);
      op.pgsizes = c % 16 === 13 ? 1n << 13n : picked === 0n ? sizes[0]! : picked;
    }
    return op;
  }

  /**
   * No domain to map into: wake a dormant one (virtio domains exist only while attached), or
   * allocate one.
   */
  private prepare(a: number, b: number, c: number): Op {
    const dormant = this.live().filter((x) => x.dormant && x.mappings !== null);
    if (dormant.length === 0) return this.alloc(a, b, c);
    const d = dormant[a % dormant.length]!;
    const devs = [...this.model.devices.values()].filter((x) => x.group.iommu === d.iommu);
    return { op: 'attach', dev: devs[b % devs.length]!.spec.name, domain: d.handle };
  }

  private map(a: number, b: number, c: number, d: number, e: number): Op {
    const h = this.pickDomain(a, (x) => x.mappings !== null && !x.dormant);
    if (!h) return this.prepare(a, b, c);
    const dom = this.model.domain(h);
    const bitmap = dom?.pgsizes ?? (1n << 12n);
    const size = this.size(bitmap, b, c);
    const iova = this.iova(dom, bitmap, size, d);
    const paddr = this.paddr(dom, bitmap, iova, size, e);
    // Mostly plain permissions; some with no permission, some with flags the vocabulary lacks.
    const prots = [PROT.READ | PROT.WRITE, PROT.READ, PROT.WRITE, PROT.READ | PROT.WRITE | PROT.CACHE, 0, PROT.READ | PROT.NOEXEC, PROT.READ | PROT.WRITE, PROT.READ | 0x40, PROT.READ | PROT.WRITE];
    return { op: 'map', domain: h, iova, paddr, size, prot: prots[(c >> 8) % prots.length]!, ...this.reserved(e >> 4) };
  }

  private size(bitmap: bigint, b: number, c: number): bigint {
    const sizes = pageSizes(bitmap).filter((s) => s <= 1n << 30n);
    const min = minPageSize(bitmap);
    const s = sizes[b % sizes.length] ?? min;
    const count = BigInt(1 + ((b >> 4) % 3));
    switch (c % 10) {
      case 0: case 1: return s;
      case 2: return s * count;
      case 3: return s + min; // the 2M+4K shape that needs two page sizes
      case 4: return min * BigInt(1 + ((c >> 4) % 5));
      case 5: return c % 20 === 5 ? 0n : s;
      case 6: return min > 1n && c % 20 === 6 ? s + min / 2n : s; // misaligned
      case 7: return s > min ? s - min : s;
      case 8: return s * count + min * BigInt((c >> 4) % 3);
      default: return min;
    }
  }

  private iova(dom: DomainState | undefined, bitmap: bigint, size: bigint, d: number): bigint {
    const ias = BigInt(dom?.ias ?? 48);
    const top = 1n << ias;
    const min = minPageSize(bitmap);
    const big = pageSizes(bitmap).filter((s) => s <= 1n << 30n).pop() ?? min;
    const m = dom ? this.mappingAt(dom, d >> 4) : undefined;
    const k = BigInt((d >> 4) % 4);
    switch (d % 13) {
      case 0: return 0n;
      case 1: case 2: return m ? m.iova : big * k; // collide with an existing mapping
      case 3: return m ? endOf(m) : big; // right after one
      case 4: return m && m.iova >= size ? m.iova - size : 0n; // right before one
      case 5: return m ? m.iova + min * BigInt((d >> 6) % Number(m.size / min > 8n ? 8n : m.size / min)) : min;
      case 6: return top >= size ? top - size : 0n; // the last pages of the input space
      case 7: return top; // first address beyond it
      case 8: return U64_LIMIT - min; // the last page of 64 bits: anything longer wraps
      case 9: return min > 1n ? big * k + min / 2n : big; // misaligned
      case 10: return alignDown(BigInt(d) * 0x9e3779b97n % top, min); // anywhere
      default: return big * k + min * BigInt(d >> 8); // page-size multiples
    }
  }

  private paddr(dom: DomainState | undefined, bitmap: bigint, iova: bigint, size: bigint, e: number): bigint {
    const oas = BigInt(dom?.oas ?? 48);
    const top = 1n << oas;
    const min = minPageSize(bitmap);
    const big = pageSizes(bitmap).filter((s) => s <= 1n << 30n).pop() ?? min;
    switch (e % 9) {
      // Co-aligned with iova, so large leaves fit; each domain gets its own window so a page
      // reached through the wrong domain is told apart (ISOLATION).
      case 0: case 1: return (0x80000000n + this.window(dom) * big * 64n + (iova % big)) % top;
      case 2: return iova % top;
      case 3: return 0n;
      case 4: return top >= size ? top - size : 0n;
      case 5: return top; // beyond the output space
      case 6: return alignDown(0x40000000n + BigInt(e) * min, min) % top; // co-aligned only to small pages
      case 7: return min > 1n ? 0x80000000n + min / 2n : 0n;
      default: return 0x100000000n + BigInt(e >> 4) * big;
    }
  }

  private unmap(a: number, b: number, c: number, d: number, e: number): Op {
    const h = this.pickDomain(a, (x) => x.mappings !== null && x.mappings.size > 0) ?? this.pickDomain(a, (x) => x.mappings !== null && !x.dormant);
    if (!h) return this.prepare(a, b, c);
    const dom = this.model.domain(h);
    const bitmap = dom?.pgsizes ?? (1n << 12n);
    const min = minPageSize(bitmap);
    const m = dom ? this.mappingAt(dom, b) : undefined;
    const at = (iova: bigint, size: bigint): Op => ({ op: 'unmap', domain: h, iova, size, ...this.reserved(d >> 4), ...this.inval(e) });
    if (!m || c % 11 === 10) {
      const size = this.size(bitmap, b, d);
      return at(this.iova(dom, bitmap, size, d >> 2), size);
    }
    switch (c % 11) {
      case 0: case 1: case 2: return at(m.iova, m.size); // symmetric
      case 3: { // aggregate contiguous neighbours
        let end = endOf(m);
        for (let next = dom!.mappings!.containing(end); next && (c >> 4) % 3 > 0; next = dom!.mappings!.containing(end)) end = endOf(next);
        return at(m.iova, end - m.iova);
      }
      case 4: return at(m.iova, min); // first page: splits a large leaf
      case 5: return at(endOf(m) - min, min); // last page
      case 6: return at(m.iova + min, m.size > min ? m.size - min : min); // starts inside
      case 7: return at(m.iova >= min ? m.iova - min : m.iova, m.size + 2n * min); // spills into holes
      case 8: return at(m.iova, 0n);
      default: return min > 1n ? at(m.iova + min / 2n, m.size) : at(U64_LIMIT - min, 2n * min);
    }
  }

  private window(dom: DomainState | undefined): bigint {
    const i = dom ? this.handles.indexOf(dom.handle) : 0;
    return BigInt(i < 0 ? 0 : i);
  }

  /** An address worth looking at in a domain: mapping edges and their neighbours. */
  probeAddress(h: Handle, b: number, c: number): bigint {
    const dom = this.model.domain(h);
    const m = dom ? this.mappingAt(dom, b) : undefined;
    if (!m) return BigInt(b) << 12n;
    const points = [m.iova, endOf(m) - 1n, m.iova - 1n, endOf(m)];
    const p = points[c % points.length]!;
    return p < 0n ? 0n : p >= U64_LIMIT ? U64_LIMIT - 1n : p;
  }

}

/**
 * The edges the generator aims at (first address beyond a 64-bit input space, the end of a
 * mapping that reaches the top) can land on 2^64 itself, which no u64 field can hold: it is
 * sent as the last address, 2^64 - 1, so every op stays expressible on the wire.
 */
function within64Bits(op: Op): Op {
  const rec = op as unknown as Record<string, unknown>;
  let out: Record<string, unknown> | null = null;
  for (const [name, kind] of OP_FIELDS[op.op].fields) {
    const v = rec[name];
    if (kind === 'u64' && typeof v === 'bigint' && v >= U64_LIMIT) (out ??= { ...rec })[name] = U64_LIMIT - 1n;
  }
  return (out ?? op) as Op;
}
