// Broken adapters for the PASID, SVA, IOTLB, fault-injection and virtio rules: the reference
// with one realistic bug each. Every bug must be found within the fixed budget, named by the
// rule it breaks, and shrunk to a short trace.

import { expect, test } from 'vitest';
import { type Capabilities, type Op, type OpKind, type Outcome, type Policies, type Topology, isFailure, minPageSize } from '../spec/index.ts';
import { ReferenceModel } from '../impl/reference/model.ts';
import { familyById } from '../properties/families.ts';
import { runFamily } from '../properties/property.ts';
import { BUDGET, BrokenAdapter, type Case, describeFinding, expectCaught, hunt } from './broken.ts';

const LINUX_ALL: Capabilities = { dma_phys: true, pasid: true, sva: true, lazy_flush: true, fail_nth: true };

/** The device of `op` reaches this (stale) page instead of faulting. */
function staleHit(model: ReferenceModel, op: Op, pick: (requested: boolean) => boolean): Outcome | null {
  if (op.op !== 'dma' || op.pasid !== undefined || op.pasidOf !== undefined) return null;
  const d = model.currentDomain(op.dev);
  const r = d?.removed.pendingAt(op.iova).find((x) => pick(x.requested));
  return r ? { ok: { phys: r.paddr + (op.iova - r.iova) } } : null;
}

/** (i) put ignores the extra references get took: the ID goes back to the allocator while still held. */
class PutFreesEarly extends BrokenAdapter {
  exec(op: Op): Outcome {
    const id = op.op === 'pasid_put' ? this.model.pasids.idOf(op.pasid) : null;
    const o = this.model.act(op);
    if (op.op === 'pasid_put' && id !== null && !isFailure(o) && !(o.ok as { freed: boolean }).freed) this.model.pasidSpace.release(id);
    return o;
  }
}

/** (j) A strict domain's unmap never invalidates the IOTLB: the device keeps the old page. */
class StrictUnmapNoFlush extends BrokenAdapter {
  exec(op: Op): Outcome {
    const o = this.model.act(op);
    return (isFailure(o) && staleHit(this.model, op, () => true)) || o;
  }
}

/** (k) A whole-leaf unmap invalidates only the range it was asked for, not the whole leaf it cleared. */
class GatherCoversRequestOnly extends BrokenAdapter {
  exec(op: Op): Outcome {
    const o = this.model.act(op);
    return (isFailure(o) && staleHit(this.model, op, (requested) => !requested)) || o;
  }
}

/** (l) A map that runs out of memory half way does not unroll the pages it already mapped. */
class MapNotUnrolled extends BrokenAdapter {
  private failIn = 0;
  override reset(t: Topology): void {
    super.reset(t);
    this.failIn = 0;
  }
  exec(op: Op): Outcome {
    if (op.op === 'fail_nth') {
      this.failIn = op.n;
      return { ok: {} };
    }
    const allocates: OpKind[] = ['domain_alloc', 'attach', 'map'];
    if (this.failIn > 0 && allocates.includes(op.op) && !isFailure(this.model.canonical(op).canonical) && --this.failIn === 0) {
      const d = op.op === 'map' ? this.model.domain(op.domain) : undefined;
      // The first page went in before the allocation for the second failed.
      if (op.op === 'map' && d) this.model.act({ ...op, size: minPageSize(d.pgsizes) });
      return { err: 'ENOMEM' };
    }
    return this.model.act(op);
  }
}

/** (m) A virtio device that keeps a domain, mappings and all, after its last endpoint detaches. */
class VirtioDomainSurvives extends BrokenAdapter {
  protected override modelPolicies(): Policies {
    return { ...this.policies, domain_lifetime: 'persist' };
  }
  private readonly attached = new Set<string>();
  override reset(t: Topology): void {
    super.reset(t);
    this.attached.clear();
  }
  exec(op: Op): Outcome {
    // It does create a domain at its first attach, as the device should.
    if ((op.op === 'map' || op.op === 'unmap' || op.op === 'iova_to_phys') && this.model.domain(op.domain) && !this.attached.has(op.domain)) return { err: 'ENOENT' };
    const o = this.model.act(op);
    if (op.op === 'attach' && !isFailure(o)) this.attached.add(op.domain);
    return o;
  }
}

/** (n) mm_unmap updates the CPU page table but sends no invalidation to the IOMMU. */
class MmUnmapNotPropagated extends BrokenAdapter {
  exec(op: Op): Outcome {
    const o = this.model.act(op);
    if (op.op !== 'dma' || op.pasidOf === undefined || !isFailure(o)) return o;
    const mm = this.model.sva.mms.get(op.pasidOf);
    const b = mm && [...mm.bonds].find((x) => x.group === this.model.devices.get(op.dev)!.group);
    const r = b?.domain.removed.pendingAt(op.iova)[0];
    return r ? { ok: { phys: r.paddr + (op.iova - r.iova) } } : o;
  }
}

/** (o) A second bind of the same (device, mm) allocates a fresh PASID instead of sharing the bond. */
class RebindAllocates extends BrokenAdapter {
  exec(op: Op): Outcome {
    const o = this.model.act(op);
    if (op.op !== 'sva_bind' || isFailure(o)) return o;
    const shared = this.model.sva.bondOf(op.bond)!.refs > 1;
    if (!shared) return o;
    const fresh = this.model.pasidSpace.free(1, this.model.devices.get(op.dev)!.spec.maxPasids - 1)[0];
    return fresh === undefined ? o : { ok: { pasid: fresh } };
  }
}

/** (p) flush drains the queue of the domain but forgets the entries of its last unmap. */
class FlushMissesLast extends BrokenAdapter {
  private readonly kept = new Map<string, { iova: bigint; end: bigint; paddr: bigint }[]>();
  override reset(t: Topology): void {
    super.reset(t);
    this.kept.clear();
  }
  exec(op: Op): Outcome {
    const d = op.op === 'flush' ? this.model.domain(op.domain) : undefined;
    const last = d?.removed.pending.at(-1);
    const o = this.model.act(op);
    if (op.op === 'flush' && last) this.kept.set(op.domain, [last]);
    if (op.op === 'unmap' || op.op === 'map') this.kept.delete(op.domain);
    if (op.op === 'dma' && isFailure(o) && op.pasid === undefined && op.pasidOf === undefined) {
      const cur = this.model.currentDomain(op.dev);
      const r = cur && this.kept.get(cur.handle)?.find((x) => op.iova >= x.iova && op.iova < x.end);
      if (r) return { ok: { phys: r.paddr + (op.iova - r.iova) } };
    }
    return o;
  }
}

const CASES: Case[] = [
  { id: 'i: a PASID is reused while still referenced', adapter: () => new PutFreesEarly('i', {}, 'linux', LINUX_ALL), family: 'pasid-lifetime', rule: 'PASID-UNIQUE', maxOps: 4 },
  { id: 'j: no IOTLB invalidation in a strict domain', adapter: () => new StrictUnmapNoFlush('j', {}, 'linux', LINUX_ALL), family: 'iotlb', rule: 'UNMAP-STRICT', maxOps: 4 },
  { id: 'k: whole-leaf unmap invalidates only the requested range', adapter: () => new GatherCoversRequestOnly('k', {}, 'linux', LINUX_ALL), family: 'iotlb', rule: 'TLB-REMOVED', maxOps: 4 },
  { id: 'l: a failed map keeps what it mapped', adapter: () => new MapNotUnrolled('l', {}, 'linux', LINUX_ALL), family: 'fault-injection', rule: 'FAIL-ATOMIC', maxOps: 4 },
  { id: 'm: a virtio domain survives its last detach', adapter: () => new VirtioDomainSurvives('m', {}, 'virtio-iommu', { dma_phys: true }), family: 'attach', rule: 'DOM-LIFETIME', maxOps: 5 },
  { id: 'n: mm_unmap does not reach the device', adapter: () => new MmUnmapNotPropagated('n', {}, 'linux', LINUX_ALL), family: 'sva', rule: 'SVA-COHERENT', maxOps: 4 },
  { id: 'o: a second bind allocates a new PASID', adapter: () => new RebindAllocates('o', {}, 'linux', LINUX_ALL), family: 'sva', rule: 'SVA-SHARE', maxOps: 3 },
  { id: 'p: flush misses the last unmap', adapter: () => new FlushMissesLast('p', {}, 'linux', LINUX_ALL), family: 'iotlb', rule: 'TLB-FLUSH', maxOps: 6 },
];

test.each(CASES.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
  await expectCaught(c);
});

test('(l) the minimal trace starts by arming the injection and ends at the failing map', async () => {
  const f = (await hunt(CASES.find((c) => c.id.startsWith('l:'))!))[0]!;
  const ops = f.trace.filter((e) => !e.probe);
  expect(ops[0]!.op).toMatchObject({ op: 'fail_nth' });
  expect(ops.at(-1)!.outcome).toEqual({ err: 'ENOMEM' });
});

test('a faithful adapter with every capability has no finding in the new families, under both profiles', async () => {
  class Faithful extends BrokenAdapter {
    private failIn = 0;
    exec(op: Op): Outcome {
      if (op.op === 'fail_nth') {
        this.failIn = op.n;
        return { ok: {} };
      }
      if (this.failIn > 0 && op.op === 'map' && !isFailure(this.model.canonical(op).canonical) && --this.failIn === 0) return { err: 'ENOMEM' };
      return this.model.act(op);
    }
  }
  for (const family of ['iotlb', 'pasid-lifetime', 'sva', 'fault-injection']) {
    const findings = await hunt({ id: 'faithful', adapter: () => new Faithful('ok', {}, 'linux', LINUX_ALL), family, rule: '', maxOps: 0 });
    expect(findings.map(describeFinding), family).toEqual([]);
  }
  for (const family of ['attach', 'symmetric-unmap']) {
    const findings = await hunt({ id: 'faithful', adapter: () => new Faithful('ok', {}, 'virtio-iommu', { dma_phys: true }), family, rule: '', maxOps: 0 });
    expect(findings.map(describeFinding), family).toEqual([]);
  }
});

/** Page-table pages as a simple driver would count them: one root, one table per live mapping. */
class CountsTables extends BrokenAdapter {
  constructor(name: string, private readonly leaks: boolean) {
    super(name, {}, 'linux', { dma_phys: true, pt_pages: true });
  }
  private made = new Map<string, number>();
  override reset(t: Topology): void {
    super.reset(t);
    this.made = new Map();
  }
  exec(op: Op): Outcome {
    if (op.op === 'pt_pages') {
      const d = this.model.domain(op.domain);
      if (!d?.mappings) return this.model.act(op);
      // The leaky one frees no table page on unmap: it counts every map ever made.
      return { ok: { pages: 1 + (this.leaks ? this.made.get(op.domain) ?? 0 : d.mappings.size) } };
    }
    const o = this.model.act(op);
    if (op.op === 'map' && !isFailure(o)) this.made.set(op.domain, (this.made.get(op.domain) ?? 0) + 1);
    return o;
  }
}

test('(q) page-table pages never freed are a PT-LEAK quality warning; a driver that frees them has none', async () => {
  const run = async (leaks: boolean) => {
    const adapter = new CountsTables(leaks ? 'leaky' : 'tidy', leaks);
    return runFamily({ adapter, policies: adapter.policies, capabilities: adapter.capabilities, topologies: 'any' }, familyById('symmetric-unmap')!, BUDGET);
  };
  const leaky = await run(true);
  expect(leaky.findings).toEqual([]);
  expect(leaky.quality.map((q) => q.rule)).toEqual(['PT-LEAK']);
  expect(leaky.quality[0]!.message).toMatch(/empty baseline of 1/);
  const tidy = await run(false);
  expect(tidy.quality).toEqual([]);
  expect(tidy.coverage.rules.get('PT-LEAK') ?? 0).toBeGreaterThan(0);
});
