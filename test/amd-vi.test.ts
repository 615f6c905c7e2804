// The AMD-Vi model: its PTE and DTE encodings bit by bit, its v1 page table at the edges that
// matter (2^48, 2^57, a 1G leaf asked for in part, tables freed as they empty, a map that runs
// out of memory), its IOTLB, PASIDs programmed per device, and the whole suite against it with
// fixed and with growing tables.

import { describe, expect, test } from 'vitest';
import { GiB, KiB, MiB, type Op, type Outcome, PROT, resolveCapabilities } from '../spec/index.ts';
import { FaultInjector, TableMemory } from '../impl/models/arm-smmu/memory.ts';
import { coreMap, coreUnmap } from '../impl/models/amd-vi/core.ts';
import { decodeDte, encodeDte } from '../impl/models/amd-vi/dte.ts';
import { Iotlb } from '../impl/models/amd-vi/iotlb.ts';
import { AmdViModel } from '../impl/models/amd-vi/model.ts';
import { AmdV1Table } from '../impl/models/amd-vi/pgtable.ts';
import { PTE_FC, PTE_IR, PTE_IW, PTE_PR, isLeaf, leafPte, levelIndex, levelsFor, nextLevel, outputAddress, tablePte } from '../impl/models/amd-vi/pte.ts';
import { AMD_TOPOLOGIES } from '../impl/models/amd-vi/topologies.ts';
import { walkTables } from '../impl/models/amd-vi/walk.ts';
import { runSuite } from '../runner/suite.ts';

const RW = PROT.READ | PROT.WRITE;
const SIZES = 4n * KiB | 2n * MiB | GiB;
const PA = 0x8000_0000n;

function table(ias: number, dynamicTop = false, faults = new FaultInjector()) {
  const mem = new TableMemory(4n * KiB, faults);
  return { mem, faults, t: new AmdV1Table(mem, { ias, oas: 52, pgsizes: SIZES, dynamicTop }) };
}

describe('PTE encoding (amd_iommu_types.h, generic_pt/fmt/amdv1.h)', () => {
  test('a leaf: present, force-coherent, IR and IW apart, address in 51:12, next level 0', () => {
    expect(leafPte(0x1234_5000n, true, false)).toBe(0x3000_0000_1234_5001n);
    expect(leafPte(0x1234_5000n, false, true)).toBe(0x5000_0000_1234_5001n);
    expect(leafPte(0x1234_5000n, true, true)).toBe(PTE_PR | PTE_FC | PTE_IR | PTE_IW | 0x1234_5000n);
    // Bits above 51 and below 12 are not address bits.
    expect(outputAddress(leafPte((1n << 52n) | 0xabc_def0_1fffn, true, true))).toBe(0xabc_def0_1000n);
    expect(isLeaf(leafPte(0n, true, true), 2)).toBe(true);
  });

  test('a PDE: next level in 11:9 names the level below, IR and IW set for the walk to AND', () => {
    const pde = tablePte(0x7f00_0000_1000n, 3);
    expect(pde).toBe(0x6000_7f00_0000_1601n);
    expect(nextLevel(pde)).toBe(3);
    expect(isLeaf(pde, 3)).toBe(false);
    expect(isLeaf(pde, 0)).toBe(true); // the 4K table holds only leaves
  });

  test('levels from the input width, nine index bits per level', () => {
    expect([39, 48, 52, 57, 64].map(levelsFor)).toEqual([3, 4, 5, 5, 6]);
    expect(levelIndex(1n << 48n, 4)).toBe(1);
    expect(levelIndex(1n << 48n, 3)).toBe(0);
    expect(levelIndex((1n << 57n) - 1n, 4)).toBe(511);
  });
});

describe('device table entries', () => {
  test('paging: V, TV, mode, root, IR, IW in word 0; the domain ID in word 1', () => {
    const dte = encodeDte({ kind: 'paging', root: 0x7f00_0000_3000n, levels: 5, domainId: 0x1_0002 });
    expect(dte[0]).toBe(0x6000_7f00_0000_3a03n);
    expect(dte[1]).toBe(2n); // DomainID is 16 bits
    expect(decodeDte(dte)).toEqual({ kind: 'paging', root: 0x7f00_0000_3000n, levels: 5, domainId: 2 });
  });

  test('mode 0: with IR and IW an identity pass-through, without them blocked; an invalid entry blocks', () => {
    expect(decodeDte(encodeDte({ kind: 'identity' }))).toEqual({ kind: 'identity' });
    expect(decodeDte(encodeDte({ kind: 'blocked' }))).toEqual({ kind: 'blocked' });
    expect(decodeDte(new BigUint64Array(4))).toEqual({ kind: 'blocked' });
  });
});

describe.each([['fixed', false], ['dynamic', true]] as const)('AMD v1 table, %s top', (_name, dynamicTop) => {
  test('48 bits: the last page below 2^48 maps, 2^48 is out of range, and the walk agrees', () => {
    const { t } = table(48, dynamicTop);
    const top = (1n << 48n) - 4n * KiB;
    expect(coreMap(t, top, PA, 4n * KiB, RW)).toBeNull();
    expect(t.levels).toBe(4);
    expect(t.walk(top + 0xfffn)?.phys).toBe(PA + 0xfffn);
    expect(t.fits(1n << 48n, PA, 4n * KiB)).toBe(false);
    expect(t.walk(1n << 48n)).toBeNull();
    expect(coreUnmap(t, 1n << 48n, 4n * KiB)).toBe(0n);
  });

  test('57 bits: five levels, 2^48 under root entry 1, a 1G leaf at the very top, no alias of low IOVAs', () => {
    const { mem, t } = table(57, dynamicTop);
    expect(coreMap(t, 0n, PA, 4n * KiB, RW)).toBeNull();
    expect(coreMap(t, 1n << 48n, PA + 0x1000n, 4n * KiB, RW)).toBeNull();
    expect(coreMap(t, (1n << 57n) - GiB, 0x4000_0000n, GiB, PROT.READ)).toBeNull();
    expect(t.levels).toBe(5);
    expect(nextLevel(mem.table(t.root)[1]!)).toBe(4);
    expect(t.walk(0n)?.phys).toBe(PA);
    expect(t.walk(1n << 48n)?.phys).toBe(PA + 0x1000n);
    expect(t.walk((1n << 57n) - 1n)).toEqual({ leafIova: (1n << 57n) - GiB, size: GiB, phys: 0x4000_0000n + GiB - 1n, read: true, write: false });
    expect(t.fits((1n << 57n) - GiB, 0n, 2n * GiB)).toBe(false);
    // The hardware walks with the mode it is given: four levels reach nothing of a 5-level table.
    expect(walkTables(mem, t.root, 4, 0n)).toBeNull();
  });

  test('a 1G leaf asked for in part goes whole (AMD), and a request starting inside it removes nothing', () => {
    const { t } = table(48, dynamicTop);
    expect(coreMap(t, GiB, GiB, GiB, RW)).toBeNull();
    expect(t.leaves(GiB, GiB)).toEqual([{ iova: GiB, pgsize: GiB, count: 1n }]);
    expect(coreUnmap(t, GiB + 4n * KiB, 4n * KiB)).toBe(0n);
    expect(t.walk(GiB)?.phys).toBe(GiB);
    expect(coreUnmap(t, GiB, 4n * KiB)).toBe(GiB);
    expect(t.walk(GiB + GiB - 1n)).toBeNull();
  });

  test('iommu_pgsize() leaves for 2M+4K, and every table given back once the last leaf goes', () => {
    const { t } = table(48, dynamicTop);
    const empty = t.pageCount;
    expect(empty).toBe(1);
    expect(coreMap(t, 2n * MiB, 2n * MiB, 2n * MiB + 4n * KiB, RW)).toBeNull();
    expect(t.leaves(2n * MiB, 2n * MiB + 4n * KiB)).toEqual([{ iova: 2n * MiB, pgsize: 2n * MiB, count: 1n }, { iova: 4n * MiB, pgsize: 4n * KiB, count: 1n }]);
    expect(coreMap(t, 0x7f_ffff_f000n, PA, 4n * KiB, RW)).toBeNull();
    expect(t.pageCount).toBeGreaterThan(empty);
    expect(coreUnmap(t, 2n * MiB, 2n * MiB + 4n * KiB)).toBe(2n * MiB + 4n * KiB);
    expect(coreUnmap(t, 0x7f_ffff_f000n, 4n * KiB)).toBe(4n * KiB);
    expect(t.pageCount).toBe(empty);
  });

  test('a write-only page is writable and not readable (IR and IW are separate bits)', () => {
    const { t } = table(48, dynamicTop);
    expect(coreMap(t, 0n, PA, 4n * KiB, PROT.WRITE)).toBeNull();
    expect(t.walk(0n)).toMatchObject({ read: false, write: true });
    expect(coreMap(t, 0n, PA, 4n * KiB, RW)).toBe('EADDRINUSE');
  });
});

test('a map that runs out of table memory half way is unrolled, tables and all', () => {
  const { t, faults } = table(48);
  // 2M-4K needs three tables under the root; the page at 2M a fourth, which fails.
  faults.arm(4);
  expect(coreMap(t, 2n * MiB - 4n * KiB, 2n * MiB - 4n * KiB, 8n * KiB, RW)).toBe('ENOMEM');
  expect(t.walk(2n * MiB - 4n * KiB)).toBeNull();
  expect(t.pageCount).toBe(1);
});

test('a dynamic top grows a level at 2^39 and at 2^48, telling the owner each old root', () => {
  const { t } = table(57, true);
  const roots: bigint[] = [];
  t.onGrow = (old) => roots.push(old);
  expect(t.levels).toBe(3);
  expect(coreMap(t, 0n, PA, 4n * KiB, RW)).toBeNull();
  const first = t.root;
  expect(coreMap(t, 1n << 39n, PA, 4n * KiB, RW)).toBeNull();
  expect(t.levels).toBe(4);
  expect(coreMap(t, 1n << 48n, PA, 4n * KiB, RW)).toBeNull();
  expect(t.levels).toBe(5);
  expect(roots[0]).toBe(first);
  expect(roots).toHaveLength(2);
  for (const iova of [0n, 1n << 39n, 1n << 48n]) expect(t.walk(iova)?.phys).toBe(PA);
});

test('the IOTLB caches the 4K piece of a large page an access touched, per tag', () => {
  const tlb = new Iotlb();
  tlb.fill(7, 2n * MiB + 4n * KiB + 0x10n, { phys: 0x4000_4010n, read: true, write: false });
  expect(tlb.lookup(7, 2n * MiB + 4n * KiB)).toEqual({ iova: 2n * MiB + 4n * KiB, size: 4n * KiB, phys: 0x4000_4000n, read: true, write: false });
  expect(tlb.lookup(8, 2n * MiB + 4n * KiB)).toBeUndefined();
  tlb.invalidateRange(7, 2n * MiB, 2n * MiB + 4n * KiB);
  expect(tlb.lookup(7, 2n * MiB + 4n * KiB)).toBeDefined();
  tlb.invalidateRange(7, 2n * MiB, 4n * MiB);
  expect(tlb.lookup(7, 2n * MiB + 4n * KiB)).toBeUndefined();
});

describe('the model', () => {
  const run = (m: AmdViModel, ops: Op[]): Outcome[] => ops.map((op) => m.exec(op));
  const model = (top: 'fixed' | 'dynamic' = 'fixed') => {
    const m = new AmdViModel({ top });
    m.reset(AMD_TOPOLOGIES[0]!);
    return m;
  };

  test('attach_pasid programs the GCR3 table of every device in the group', () => {
    const m = model();
    expect(run(m, [
      { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' },
      { op: 'map', domain: 'd1', iova: 0n, paddr: PA, size: 4n * KiB, prot: RW },
      { op: 'attach_pasid', dev: 'dev0', domain: 'd1', pasid: 5 },
      { op: 'dma', dev: 'dev0b', iova: 0x10n, access: 'w', pasid: 5 },
      { op: 'attach_pasid', dev: 'dev0b', domain: 'd1', pasid: 5 },
      { op: 'detach_pasid', dev: 'dev0b', pasid: 5 },
      { op: 'dma', dev: 'dev0', iova: 0x10n, access: 'w', pasid: 5 },
    ])).toEqual([{ ok: { pgsizes: SIZES } }, { ok: {} }, { ok: {} }, { ok: { phys: PA + 0x10n } }, { err: 'EBUSY' }, { ok: {} }, { err: 'FAULT' }]);
  });

  test('three domain IDs: the dma default holds one, two attached paging domains the rest', () => {
    const m = model();
    const alloc = (d: string): Op => ({ op: 'domain_alloc', domain: d, type: 'paging', dev: 'dev1' });
    expect(run(m, [alloc('d1'), alloc('d2'), alloc('d3'),
      { op: 'attach', dev: 'dev1', domain: 'd1' }, { op: 'attach', dev: 'dev2', domain: 'd2' }, { op: 'attach', dev: 'dev3', domain: 'd3' },
      { op: 'detach', dev: 'dev2', domain: 'd2' }, { op: 'attach', dev: 'dev3', domain: 'd3' },
    ]).slice(3)).toEqual([{ ok: {} }, { ok: {} }, { err: 'ENOSPC' }, { ok: {} }, { ok: {} }]);
  });

  test('a 5-level domain does not fit the 4-level IOMMU; a 4-level one fits the 5-level IOMMU', () => {
    const m = new AmdViModel();
    m.reset(AMD_TOPOLOGIES[2]!);
    expect(run(m, [
      { op: 'domain_alloc', domain: 'd57', type: 'paging', dev: 'dev0' },
      { op: 'domain_alloc', domain: 'd48', type: 'paging', dev: 'dev2' },
      { op: 'attach', dev: 'dev2', domain: 'd57' },
      { op: 'attach', dev: 'dev0', domain: 'd48' },
    ]).slice(2)).toEqual([{ err: 'EINVAL' }, { ok: {} }]);
  });

  test.each(['fixed', 'dynamic'] as const)('%s: a device keeps reaching its domain as the table grows to 2^48', (top) => {
    const m = new AmdViModel({ top });
    m.reset(AMD_TOPOLOGIES[1]!);
    expect(run(m, [
      { op: 'domain_alloc', domain: 'd1', type: 'dma', dev: 'dev0' },
      { op: 'attach', dev: 'dev0', domain: 'd1' },
      { op: 'map', domain: 'd1', iova: 0n, paddr: PA, size: 4n * KiB, prot: RW },
      { op: 'dma', dev: 'dev0', iova: 0n, access: 'r' },
      { op: 'map', domain: 'd1', iova: 1n << 48n, paddr: PA, size: 2n * MiB, prot: PROT.READ },
      { op: 'dma', dev: 'dev0', iova: (1n << 48n) + 5n, access: 'r' },
      { op: 'dma', dev: 'dev0', iova: (1n << 48n) + 5n, access: 'w' },
      { op: 'dma', dev: 'dev0', iova: 0n, access: 'w' },
    ]).slice(3)).toEqual([{ ok: { phys: PA } }, { ok: {} }, { ok: { phys: PA + 5n } }, { err: 'FAULT' }, { ok: { phys: PA } }]);
  });
});

test.each(['fixed', 'dynamic'] as const)('the whole suite passes with a %s table top (page-table pages freed on unmap: no PT-LEAK)', { timeout: 300_000 }, async (top) => {
  const adapter = new AmdViModel({ top });
  expect(resolveCapabilities('linux', adapter.hello().capabilities)).toMatchObject({ pasid: true, sva: true, iova_to_phys: true });
  const r = await runSuite(adapter, { adapterSpec: 'impl/models/amd-vi/module.ts', seed: 4, runs: 60, maxSteps: 40, minOpsPerKind: 0, maxSkipRate: 0.2 });
  expect(r.findings.map((f) => `${f.rule}: ${f.trace.join(' ; ')} expected ${f.expected.join('|')} observed ${f.observed}`)).toEqual([]);
  expect(r.quality).toEqual([]);
  expect(r.summary.FAIL).toBe(0);
  expect(r.rules.filter((x) => x.status === 'PASS').map((x) => x.id)).toEqual(expect.arrayContaining(['PT-LEAK', 'ATT-COMPAT', 'SVA-COHERENT', 'TLB-FLUSH', 'FAIL-ATOMIC']));
});
