// The Arm SMMU-style model: its page table on the io-pgtable-arm selftest's cases, and the
// whole suite against it under the partial-unmap policies it implements.

import { describe, expect, test } from 'vitest';
import { GiB, KiB, MiB, PROT } from '../spec/index.ts';
import { coreMap, coreUnmap } from '../impl/arm-smmu/core.ts';
import { FaultInjector, TableMemory } from '../impl/arm-smmu/memory.ts';
import { LpaeTable, type PartialUnmap } from '../impl/arm-smmu/pgtable.ts';
import { ArmSmmuModel } from '../impl/arm-smmu/smmu.ts';
import { runSuite } from '../runner/suite.ts';

const RW = PROT.READ | PROT.WRITE;
const GRANULES: [string, bigint][] = [['4K', 4n * KiB | 2n * MiB | GiB], ['16K', 16n * KiB | 32n * MiB], ['64K', 64n * KiB | 512n * MiB]];

function table(pgsizes: bigint, ias: number, partialUnmap: PartialUnmap = 'refuse') {
  const granule = pgsizes & -pgsizes;
  const mem = new TableMemory(granule, new FaultInjector());
  return { mem, t: new LpaeTable(mem, { granule, ias, oas: 48, pgsizes, partialUnmap }) };
}

const sizes = (bitmap: bigint) => [...Array(64).keys()].map((i) => 1n << BigInt(i)).filter((s) => (bitmap & s) !== 0n);

describe.each(GRANULES)('LPAE %s granule (the io-pgtable-arm selftest cases)', (_name, pgsizes) => {
  test.each([32, 36, 40, 42, 44, 48])('IAS %i: map every size, translate +42, overmap fails, unmap returns the size', (ias) => {
    const { mem, t } = table(pgsizes, ias);
    const empty = mem.pageCount;
    for (const iova of [42n, (1n << 30n) + 42n]) expect(t.walk(iova)).toBeNull();
    let iova = 0n;
    for (const size of sizes(pgsizes).filter((s) => s * 2n <= 1n << BigInt(ias))) {
      expect(coreMap(t, iova, iova, size, RW)).toBeNull();
      expect(coreMap(t, iova, iova + size, size, RW)).toBe('EEXIST');
      expect(t.walk(iova + 42n)?.phys).toBe(iova + 42n);
      expect(coreUnmap(t, iova, size)).toBe(size);
      expect(t.walk(iova + 42n)).toBeNull();
      expect(coreMap(t, iova, iova, size, RW)).toBeNull(); // and it maps again
      iova += size;
    }
    // The last largest page of the input space: the corner of concatenated tables.
    const largest = sizes(pgsizes).filter((s) => s < 1n << BigInt(ias)).pop()!;
    const top = (1n << BigInt(ias)) - largest;
    expect(coreMap(t, top, top, largest, RW)).toBeNull();
    expect(coreUnmap(t, top, largest)).toBe(largest);
    // Beyond the input width nothing maps and nothing unmaps (no index wrap).
    expect(coreMap(t, 1n << BigInt(ias), 0n, sizes(pgsizes)[0]!, RW)).toBe('ERANGE');
    expect(coreUnmap(t, 1n << BigInt(ias), largest)).toBe(0n);
    expect(mem.pageCount).toBeGreaterThanOrEqual(empty);
  });
});

test('split (Linux <= 6.12), refuse (>= 6.13), whole-leaf: the first 4K of a 2M block', () => {
  const run = (p: PartialUnmap) => {
    const { t } = table(GRANULES[0]![1], 48, p);
    coreMap(t, 2n * MiB, 0x80000000n, 2n * MiB, RW);
    return { got: coreUnmap(t, 2n * MiB, 4n * KiB), first: t.walk(2n * MiB)?.phys ?? 0n, second: t.walk(2n * MiB + 4n * KiB)?.phys ?? 0n };
  };
  expect(run('split')).toEqual({ got: 4n * KiB, first: 0n, second: 0x80001000n });
  expect(run('refuse')).toEqual({ got: 0n, first: 0x80000000n, second: 0x80001000n });
  expect(run('whole-leaf')).toEqual({ got: 2n * MiB, first: 0n, second: 0n });
});

test('a map that runs out of table memory half way is unrolled', () => {
  const faults = new FaultInjector();
  const mem = new TableMemory(4n * KiB, faults);
  const t = new LpaeTable(mem, { granule: 4n * KiB, ias: 48, oas: 48, pgsizes: GRANULES[0]![1], partialUnmap: 'refuse' });
  faults.arm(3); // L1, L2 tables for the first 2M, then the table for the next 1G fails
  expect(coreMap(t, GiB - 2n * MiB, 0x80000000n - 2n * MiB, 4n * MiB, RW)).toBe('ENOMEM');
  expect(t.walk(GiB - 2n * MiB)).toBeNull();
});

test.each(['refuse', 'split', 'whole-leaf'] as const)('the whole suite passes under partial_unmap=%s (page-table pages not freed on unmap: a PT-LEAK quality warning, as io-pgtable-arm)', { timeout: 120_000 }, async (partialUnmap) => {
  const r = await runSuite(new ArmSmmuModel({ partialUnmap }), { adapterSpec: `builtin:arm-smmu`, seed: 4, runs: 60, maxSteps: 40, minOpsPerKind: 0, maxSkipRate: 0.2 });
  expect(r.findings.map((f) => `${f.rule}: ${f.trace.join(' ; ')} expected ${f.expected.join('|')} observed ${f.observed}`)).toEqual([]);
  expect(r.quality.every((q) => q.rule === 'PT-LEAK')).toBe(true);
  expect(r.summary.FAIL).toBe(0);
});
