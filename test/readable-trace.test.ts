// The printed trace: a topology line at its head, and of the checker's probes exactly those
// whose outcome fed the verdict — in particular the DMA that filled the TLB a broken unmap left
// stale, which used to be folded into "(N agreeing probes not shown)".

import { expect, test } from 'vitest';
import type { Op, Outcome, Topology } from '../spec/index.ts';
import { formatTopology, sizeText } from '../spec/index.ts';
import type { TraceEntry } from '../properties/checker.ts';
import { ArmSmmuModel } from '../impl/models/arm-smmu/smmu.ts';
import { runSuite } from '../runner/suite.ts';
import { probesFeedingVerdict, readableTrace } from '../runner/readable-trace.ts';
import { findingText } from '../runner/report-text.ts';

const OK: Outcome = { ok: {} };
const step = (op: Op, probe: boolean, outcome: Outcome = OK): TraceEntry => ({ op, outcome, probe });

const TOPOLOGY: Topology = {
  iommus: [{ name: 'iommu0', format: 'lpae', pgsizes: 0x40201000n, ias: 32, oas: 48, contexts: 8, pasidBits: 0, domainTypes: ['paging', 'dma'] },
    { name: 'iommu1', format: 'lpae', pgsizes: 0x1000n, ias: 48, oas: 48, contexts: 1, pasidBits: 5, domainTypes: ['paging'] }],
  groups: [{ name: 'g0', iommu: 'iommu0', defaultDomain: 'dma' }, { name: 'g1', iommu: 'iommu1', defaultDomain: 'blocked' }],
  devices: [{ name: 'dev0', group: 'g0', maxPasids: 0 }, { name: 'dev1', group: 'g0', maxPasids: 0 }, { name: 'dev2', group: 'g1', maxPasids: 16 }],
};

test('the topology in one line: widths, page sizes, contexts, PASIDs, groups and their devices', () => {
  expect(formatTopology(TOPOLOGY)).toBe(
    'iommu0 (lpae, in 32/out 48 bits, 4K 2M 1G, 8 contexts, no PASID): g0 [dev0 dev1] default dma'
    + ' | iommu1 (lpae, in 48/out 48 bits, 4K, 1 context, 5-bit PASID): g1 [dev2/16] default blocked',
  );
  expect([0x1000n, 0x4000n, 0x10000n, 0x200000n, 1n << 40n, 1n << 63n, 0x3000n].map(sizeText)).toEqual(['4K', '16K', '64K', '2M', '1T', '8E', '12K']);
});

test('shown: the access that can have filled a cache, what the table says at the failing bytes, a pt_pages baseline', () => {
  const map = step({ op: 'map', domain: 'd1', iova: 0x200000n, paddr: 0x80200000n, size: 0x200000n, prot: 3 }, false);
  const otherDevice = step({ op: 'dma', dev: 'dev1', iova: 0x200000n, access: 'r' }, true, { ok: { phys: 0x80200000n } });
  const filler = step({ op: 'dma', dev: 'dev0', iova: 0x3ff000n, access: 'r' }, true, { ok: { phys: 0x803ff000n } });
  const faulted = step({ op: 'dma', dev: 'dev0', iova: 0x400000n, access: 'r' }, true, { err: 'FAULT' });
  const unmap = step({ op: 'unmap', domain: 'd1', iova: 0x200000n, size: 0x200000n }, false, { ok: { unmapped: 0x200000n } });
  const tableSays = step({ op: 'iova_to_phys', domain: 'd1', iova: 0x200fffn }, true, { ok: { phys: 0n } });
  const elsewhere = step({ op: 'iova_to_phys', domain: 'd1', iova: 0x3ff000n }, true, { ok: { phys: 0n } });
  const last = step({ op: 'dma', dev: 'dev0', iova: 0x200000n, access: 'r' }, true, { ok: { phys: 0x80200000n } });
  const trace = [map, otherDevice, filler, faulted, unmap, tableSays, elsewhere, last];
  expect([...probesFeedingVerdict(trace)].sort()).toEqual([2, 5]);
  expect(readableTrace(trace, TOPOLOGY)).toEqual([
    `topology: ${formatTopology(TOPOLOGY)}`,
    'map(d1, iova=0x200000, paddr=0x80200000, size=0x200000, rw) -> ok',
    'dma(dev0, iova=0x3ff000, r) -> ok phys=0x803ff000',
    'unmap(d1, iova=0x200000, size=0x200000) -> ok unmapped=0x200000',
    'iova_to_phys(d1, iova=0x200fff) -> ok phys=0x0',
    'dma(dev0, iova=0x200000, r) -> ok phys=0x80200000',
    '(3 agreeing probes not shown)',
  ]);
  // With no access of the failing device before, another device's (a TLB may be per domain).
  expect([...probesFeedingVerdict([map, otherDevice, unmap, last])]).toEqual([1]);
  // A failing drawn op: no step probes; the pt_pages baseline is the same domain's last reading.
  const pt = (domain: string, pages: number, probe: boolean) => step({ op: 'pt_pages', domain } as Op, probe, { ok: { pages } });
  expect([...probesFeedingVerdict([pt('d1', 3, true), pt('d2', 1, true), map, pt('d1', 4, false)])]).toEqual([0]);
  expect([...probesFeedingVerdict([map, unmap])]).toEqual([]);
});

test('a stale TLB after unmap: the printed finding shows the DMA that filled the TLB, and the topology first', { timeout: 120_000 }, async () => {
  const adapter = new ArmSmmuModel({ mutant: 'tlb-no-invalidate' });
  const r = await runSuite(adapter, { adapterSpec: 'builtin:arm-smmu', seed: 1, runs: 200, maxSteps: 40, minOpsPerKind: 0, maxSkipRate: 1, families: ['iotlb'] });
  const f = r.findings.find((x) => x.rule === 'UNMAP-STRICT' || x.rule === 'TLB-REMOVED');
  expect(f, r.findings.map((x) => x.rule).join(', ')).toBeDefined();
  const text = findingText(f!);
  expect(f!.trace[0]).toMatch(/^topology: \w+ \(.*bits/);
  // Before the unmap, the access that filled the TLB; after it, the failing access.
  const unmapAt = f!.trace.findIndex((l) => l.startsWith('unmap('));
  expect(unmapAt, text).toBeGreaterThan(0);
  expect(f!.trace.slice(0, unmapAt).filter((l) => /^dma\(.*-> ok/.test(l)), text).toHaveLength(1);
  expect(f!.trace.at(-2), text).toMatch(/^dma\(.*-> ok/);
  expect(f!.trace.at(-1), text).toMatch(/^\(\d+ agreeing probes? not shown\)$/);
  // The drawn ops stay, and no more than the few probes that matter are added to them.
  const drawn = f!.ops.filter((e) => !e.probe).length;
  expect(f!.trace.length - 2, text).toBeLessThanOrEqual(drawn + 4);
});
