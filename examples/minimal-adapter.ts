// A complete, minimal IOMMU model with its adapter: one IOMMU with 4 KiB pages only, paging
// domains only, a flat page table (a Map from page number to entry). It passes the suite, and
// is the shape to copy when plugging in your own model.
//
//   npx iommu-conformance run --adapter examples/minimal-adapter.ts

import type { Adapter, AdapterInfo, Op, Outcome, Topology } from '../spec/index.ts';

const PAGE = 0x1000n;
const READ = 1;
const WRITE = 2;

const TOPOLOGY: Topology = {
  iommus: [{ name: 'iommu0', format: 'flat', pgsizes: PAGE, ias: 39, oas: 40, contexts: 2, pasidBits: 0, domainTypes: ['paging'] }],
  groups: [{ name: 'g0', iommu: 'iommu0', defaultDomain: 'identity' }, { name: 'g1', iommu: 'iommu0', defaultDomain: 'identity' }],
  devices: [{ name: 'dev0', group: 'g0', maxPasids: 0 }, { name: 'dev1', group: 'g1', maxPasids: 0 }],
};

interface Pte { pa: bigint; prot: number }
interface Domain { ptes: Map<bigint, Pte>; groups: Set<string> }

class FlatModel implements Adapter {
  private domains = new Map<string, Domain>();
  private groupOf = new Map<string, string>();
  private current = new Map<string, Domain>();

  hello(): AdapterInfo {
    // 4 KiB leaves never split, so every partial-unmap policy coincides; overmap is EEXIST.
    return { name: 'minimal-flat', version: '1.0.0', profile: 'linux', policies: { overmap_errno: 'EEXIST' }, capabilities: {}, topologies: [TOPOLOGY] };
  }

  reset(t: Topology): void {
    this.domains.clear();
    this.current.clear();
    this.groupOf = new Map(t.devices.map((d) => [d.name, d.group]));
  }

  exec(op: Op): Outcome {
    switch (op.op) {
      case 'domain_alloc':
        if (op.type !== 'paging') return { err: 'EOPNOTSUPP' };
        if (op.pgsizes !== undefined && op.pgsizes !== PAGE) return { err: 'EINVAL' };
        this.domains.set(op.domain, { ptes: new Map(), groups: new Set() });
        return { ok: { pgsizes: PAGE } };
      case 'domain_free': {
        const d = this.domains.get(op.domain);
        if (!d) return { err: 'ENOENT' };
        if (d.groups.size > 0) return { err: 'EBUSY' };
        this.domains.delete(op.domain);
        return { ok: {} };
      }
      case 'attach': {
        const d = this.domains.get(op.domain);
        if (!d) return { err: 'ENOENT' };
        const g = this.groupOf.get(op.dev)!;
        if (this.current.has(g)) return { err: 'EBUSY' };
        const inUse = new Set(this.current.values()).size;
        if (inUse >= TOPOLOGY.iommus[0]!.contexts) return { err: 'ENOSPC' };
        this.current.set(g, d);
        d.groups.add(g);
        return { ok: {} };
      }
      case 'detach': {
        const g = this.groupOf.get(op.dev)!;
        const d = this.domains.get(op.domain);
        if (d && this.current.get(g) === d) {
          this.current.delete(g);
          d.groups.delete(g);
        }
        return { ok: {} };
      }
      case 'attach_pasid':
        return this.domains.has(op.domain) ? { err: 'EINVAL' } : { err: 'ENOENT' };
      case 'detach_pasid':
        return { ok: {} };
      case 'map': {
        const d = this.domains.get(op.domain);
        if (!d) return { err: 'ENOENT' };
        if ((op.iova | op.paddr | op.size) % PAGE !== 0n) return { err: 'EINVAL' };
        if (op.size === 0n) return { ok: {} };
        if ((op.prot & (READ | WRITE)) === 0) return { err: 'EINVAL' };
        if (op.iova + op.size > 1n << 64n) return { err: 'EOVERFLOW' };
        if (op.iova + op.size > 1n << 39n || op.paddr + op.size > 1n << 40n) return { err: 'ERANGE' };
        for (let off = 0n; off < op.size; off += PAGE) if (d.ptes.has((op.iova + off) / PAGE)) return { err: 'EEXIST' };
        for (let off = 0n; off < op.size; off += PAGE) d.ptes.set((op.iova + off) / PAGE, { pa: op.paddr + off, prot: op.prot });
        return { ok: {} };
      }
      case 'unmap': {
        const d = this.domains.get(op.domain);
        if (!d) return { err: 'ENOENT' };
        if ((op.iova | op.size) % PAGE !== 0n || op.iova + op.size > 1n << 64n) return { ok: { unmapped: 0n } };
        let unmapped = 0n; // stop at the first hole, like iommu_unmap()
        while (unmapped < op.size && d.ptes.delete((op.iova + unmapped) / PAGE)) unmapped += PAGE;
        return { ok: { unmapped } };
      }
      case 'iova_to_phys': {
        const d = this.domains.get(op.domain);
        if (!d) return { err: 'ENOENT' };
        const pte = d.ptes.get(op.iova / PAGE);
        return { ok: { phys: pte ? pte.pa + (op.iova % PAGE) : 0n } };
      }
      case 'dma': {
        const d = this.current.get(this.groupOf.get(op.dev)!);
        if (op.pasid !== undefined) return { err: 'FAULT' };
        if (!d) return op.iova < 1n << 40n ? { ok: { phys: op.iova } } : { err: 'FAULT' }; // identity default domain
        const pte = d.ptes.get(op.iova / PAGE);
        // No write-only encoding: a writable page is readable too.
        if (!pte || (op.access === 'w' && !(pte.prot & WRITE))) return { err: 'FAULT' };
        return { ok: { phys: pte.pa + (op.iova % PAGE) } };
      }
      default:
        return { err: 'ENOSYS' };
    }
  }
}

export default function createAdapter(): Adapter {
  return new FlatModel();
}
