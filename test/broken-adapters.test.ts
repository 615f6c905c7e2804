// Deliberately broken adapters: the reference model with one realistic bug each. The suite must
// find every bug within a budget counted in sequences, name the rule it breaks, and shrink it to
// a short trace; the same seed must give the same finding.

import { expect, test } from 'vitest';
import { type Op, type Outcome, type Topology, alignDown, isFailure, minPageSize } from '../spec/index.ts';
import { BrokenAdapter, type Case, describeFinding, expectCaught, hunt } from './broken.ts';

/** (a) A whole-leaf driver clears the whole 2M leaf but reports only the bytes asked for. */
class UnmapReportsRequested extends BrokenAdapter {
  exec(op: Op): Outcome {
    const o = this.model.act(op);
    if (op.op === 'unmap' && !isFailure(o) && (o.ok as { unmapped: bigint }).unmapped > op.size) return { ok: { unmapped: op.size } };
    return o;
  }
}

/** (b) A map over an existing mapping replaces it and succeeds. */
class OvermapReplaces extends BrokenAdapter {
  exec(op: Op): Outcome {
    const o = this.model.act(op);
    if (op.op === 'map' && isFailure(o) && o.err === this.policies.overmap_errno) {
      const d = this.model.domain(op.domain)!;
      this.model.mappingsOf(op.domain)!.removeRange(op.iova, op.iova + op.size, d.pgsizes);
      return this.model.act(op);
    }
    return o;
  }
}

/** (c) The alignment check looks at iova | size only; paddr's low bits are silently dropped. */
class AlignIgnoresPaddr extends BrokenAdapter {
  exec(op: Op): Outcome {
    const d = op.op === 'map' ? this.model.domain(op.domain) : undefined;
    if (op.op === 'map' && d?.mappings) return this.model.act({ ...op, paddr: alignDown(op.paddr, minPageSize(d.pgsizes)) });
    return this.model.act(op);
  }
}

/** (d) Attaching to an attached group switches it to the new domain instead of failing EBUSY. */
class AttachReplaces extends BrokenAdapter {
  exec(op: Op): Outcome {
    if (op.op === 'attach') {
      const cur = this.model.currentDomain(op.dev);
      const would = this.model.expect(op)[0]!.canonical;
      if (cur && would && isFailure(would) && would.err === 'EBUSY') this.model.act({ op: 'detach', dev: op.dev, domain: cur.handle });
    }
    return this.model.act(op);
  }
}

/** (e) The driver never counts hardware contexts: it behaves as if it had a million. */
class NoContextLimit extends BrokenAdapter {
  protected override system(t: Topology): Topology {
    return { ...t, iommus: t.iommus.map((m) => ({ ...m, contexts: 1 << 20 })) };
  }
  exec(op: Op): Outcome {
    return this.model.act(op);
  }
}

/** (f) The permission check only looks at READ: a write through a read-only mapping goes through. */
class WriteIgnoresPermission extends BrokenAdapter {
  exec(op: Op): Outcome {
    const o = this.model.act(op);
    if (op.op === 'dma' && op.access === 'w' && isFailure(o)) return this.model.act({ ...op, access: 'r' });
    return o;
  }
}

/** (g) Detach switches the group back but leaves the old domain's table in the device context. */
class DetachLeaksDomain extends BrokenAdapter {
  private readonly stale = new Map<string, string>();
  override reset(topology: Topology): void {
    super.reset(topology);
    this.stale.clear();
  }
  exec(op: Op): Outcome {
    const group = 'dev' in op ? this.model.devices.get(op.dev)?.group.spec.name : undefined;
    const wasCurrent = op.op === 'detach' && this.model.currentDomain(op.dev)?.handle === op.domain;
    const o = this.model.act(op);
    if (isFailure(o) || group === undefined) return o;
    if (op.op === 'detach' && wasCurrent) this.stale.set(group, op.domain);
    if (op.op === 'attach') this.stale.delete(group);
    if (op.op === 'dma' && op.pasid === undefined && this.model.currentDomain(op.dev) === null) {
      const old = this.stale.get(group);
      const m = old === undefined ? undefined : this.model.mappingsOf(old)?.containing(op.iova);
      if (m) return { ok: { phys: m.paddr + (op.iova - m.iova) } };
    }
    return o;
  }
}

/** (h) A zero-size unmap divides by zero in the driver and throws. */
class ThrowsOnEmptyUnmap extends BrokenAdapter {
  exec(op: Op): Outcome {
    if (op.op === 'unmap' && op.size === 0n) throw new Error('division by zero in unmap');
    return this.model.act(op);
  }
}


const CASES: Case[] = [
  // (a) Named UNMAP-PARTIAL: the request cuts a 2M leaf, and under whole-leaf the count must be
  // the whole leaf that went. (UNMAP-RET says the same in general; UNMAP-PARTIAL is the rule that
  // declares what a leaf-cutting unmap returns, and the reference classifies the request as one.)
  { id: 'a: unmap reports the requested size under whole-leaf', adapter: () => new UnmapReportsRequested('a'), family: 'symmetric-unmap', rule: 'UNMAP-PARTIAL', maxOps: 3 },
  { id: 'b: overmap replaces the old mapping', adapter: () => new OvermapReplaces('b'), family: 'page-size-alignment', rule: 'MAP-OVERLAP', maxOps: 3 },
  { id: 'c: alignment check ignores paddr', adapter: () => new AlignIgnoresPaddr('c'), family: 'page-size-alignment', rule: 'MAP-ALIGN', maxOps: 2 },
  { id: 'd: attach while attached replaces', adapter: () => new AttachReplaces('d'), family: 'attach', rule: 'ATT-ONE', maxOps: 3 },
  { id: 'e: context limit not enforced', adapter: () => new NoContextLimit('e'), family: 'attach', rule: 'ATT-SPACE', maxOps: 4 },
  { id: 'f: write through a read-only mapping', adapter: () => new WriteIgnoresPermission('f'), family: 'attach', rule: 'XLATE-PERM', maxOps: 3 },
  // (g) Named ISOLATION: the probe right after the detach reaches a page of the domain the group
  // left, and the page itself says whose it is, whichever op came before.
  { id: 'g: detach leaves the old domain reachable', adapter: () => new DetachLeaksDomain('g'), family: 'attach', rule: 'ISOLATION', maxOps: 4 },
  { id: 'h: exec throws', adapter: () => new ThrowsOnEmptyUnmap('h'), family: 'symmetric-unmap', rule: 'ADAPTER-REPLY', maxOps: 2 },
];

test.each(CASES.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
  await expectCaught(c);
});

test('(g) is one finding: the leak is named ISOLATION wherever it is seen', async () => {
  const findings = await hunt({ ...CASES.find((c) => c.id.startsWith('g:'))!, maxFindings: 3 });
  expect(findings.map((f) => f.rule)).toEqual(['ISOLATION']);
});

test('(f) a permission bug is one finding, not one per op that happened to precede the probe', async () => {
  const findings = await hunt({ ...CASES.find((c) => c.id.startsWith('f:'))!, maxFindings: 4 });
  expect(findings.map((f) => f.rule)).toEqual(['XLATE-PERM']);
});

test('(a) the minimal trace is map of a 2M block, unmap of its first 4K', async () => {
  const f = (await hunt(CASES[0]!))[0]!;
  const ops = f.trace.filter((e) => !e.probe).map((e) => e.op.op);
  expect(ops).toEqual(['domain_alloc', 'map', 'unmap']);
  expect(f.expected).toEqual(['ok unmapped=0x200000']);
  expect(f.observed).toBe('ok unmapped=0x1000');
});

test('(h) the throwing op is the finding\'s op, reported as ADAPTER_ERROR, not FAIL', async () => {
  const f = (await hunt(CASES[7]!))[0]!;
  expect(f.op).toMatchObject({ op: 'unmap', size: 0n });
  expect(f.observed).toMatch(/threw: division by zero in unmap/);
});

test('a correct adapter built the same way has no finding (the harness itself is sound)', async () => {
  class Faithful extends BrokenAdapter {
    exec(op: Op): Outcome {
      return this.model.act(op);
    }
  }
  for (const family of ['symmetric-unmap', 'page-size-alignment', 'attach']) {
    const findings = await hunt({ id: 'faithful', adapter: () => new Faithful('ok'), family, rule: '', maxOps: 0 });
    expect(findings.map(describeFinding)).toEqual([]);
  }
});
