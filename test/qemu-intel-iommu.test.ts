// QEMU's intel-iommu (VT-d) through the guest-driver kit, on Debian bookworm's, trixie's and
// sid's QEMU. First what needs no QEMU: the invalidations the kit may send, interval arithmetic.
// Then the driver against the real unit: a write lands where the tables point, each drawn
// invalidation removes a translation, a missing one leaves it (caching is observable, so the
// suite can judge invalidation at all), a deliberately broken kit is caught; and per version a
// bounded suite run finds exactly that version's judged findings.

import { describe, expect, test } from 'vitest';
import { SUITES } from '../impl/targets/qemu/common/machine.ts';
import { subtract } from '../impl/targets/qemu/common/kit-core.ts';
import { QemuIntelIommuAdapter } from '../impl/targets/qemu/intel-iommu/adapter.ts';
import { CONTEXT_INVALIDATIONS, INVALIDATIONS, contextInvalidations, iotlbInvalidations } from '../impl/targets/qemu/intel-iommu/invalidation.ts';
import { decodeCap, decodeFaultRecord } from '../impl/targets/qemu/intel-iommu/regs.ts';
import { TOPOLOGIES } from '../impl/targets/qemu/intel-iommu/topologies.ts';
import { KiB, type Outcome, PROT } from '../spec/index.ts';
import { expectBrokenKitCaught, expectJudged, expectStaleWithoutInvalidation, matrixTarget, requireQemuOf } from './qemu-matrix.ts';

const UNIT = { psi: true, mamv: 18 };
const PAGE = 4n * KiB;

/** The pages a set of page-selective descriptors invalidates: [addr, addr + 2^am pages) each. */
function covered(descs: readonly (readonly [bigint, bigint])[]): [bigint, bigint][] {
  return descs.map(([, hi]) => {
    const am = Number(hi & 0x3fn);
    const addr = hi & ~0xfffn;
    return [addr, addr + (PAGE << BigInt(am))];
  });
}

describe('the invalidations the kit draws from', () => {
  test.each([
    [0x1000n, 0x2000n], [0x0n, 0x40000000n], [0x3000n, 0x9000n], [0x1ff000n, 0x201000n], [0x7fff_ffff_f000n, 0x8000_0000_0000n],
  ])('[%s, %s): exact blocks tile it with aligned power-of-two blocks; the covering block holds it', (lo, hi) => {
    const exact = iotlbInvalidations(0, 7, lo, hi, UNIT);
    const blocks = covered(exact.descs);
    expect(blocks[0]![0]).toBe(lo);
    expect(blocks.at(-1)![1]).toBe(hi);
    for (let i = 1; i < blocks.length; i++) expect(blocks[i]![0]).toBe(blocks[i - 1]![1]);
    for (const [a, b] of blocks) expect(a % (b - a)).toBe(0n);
    for (const [lo0] of exact.descs) expect((lo0 >> 16n) & 0xffffn).toBe(7n); // the DID
    const [cover] = covered(iotlbInvalidations(1, 7, lo, hi, UNIT).descs);
    expect(cover![0] <= lo && cover![1] >= hi).toBe(true);
    expect(cover![0] % (cover![1] - cover![0])).toBe(0n);
  });

  test('wider than MAMV, or no page-selective invalidation: domain-selective; choices wrap', () => {
    const dsi = (s: { labels: string[] }) => s.labels.every((l) => l.startsWith('IOTLB domain-selective'));
    expect(dsi(iotlbInvalidations(1, 2, 0n, 1n << 40n, UNIT))).toBe(true);
    expect(dsi(iotlbInvalidations(0, 2, 0x1000n, 0x2000n, { psi: false, mamv: 18 }))).toBe(true);
    expect(dsi(iotlbInvalidations(2, 2, 0x1000n, 0x2000n, UNIT))).toBe(true);
    expect(iotlbInvalidations(3, 2, 0x1000n, 0x2000n, UNIT).labels).toEqual(['IOTLB global']);
    expect(iotlbInvalidations(INVALIDATIONS.length, 2, 0x1000n, 0x2000n, UNIT)).toEqual(iotlbInvalidations(0, 2, 0x1000n, 0x2000n, UNIT));
    // An exact cover of a span of terabytes would be thousands of descriptors.
    expect(dsi(iotlbInvalidations(0, 2, 0x1000n, (1n << 47n) - 0x1000n, UNIT))).toBe(true);
  });

  test('after a context entry changes: device-, domain-selective or global context-cache invalidation, then the IOTLB; choices wrap', () => {
    expect(contextInvalidations(0, 7, 0x18).labels).toEqual(['context-cache device-selective sid=0x18', 'IOTLB domain-selective did=7']);
    expect(contextInvalidations(1, 7, 0x18).labels).toEqual(['context-cache domain-selective did=7', 'IOTLB domain-selective did=7']);
    expect(contextInvalidations(2, 7, 0x18).labels).toEqual(['context-cache global', 'IOTLB global']);
    expect(contextInvalidations(CONTEXT_INVALIDATIONS.length, 7, 0x18)).toEqual(contextInvalidations(0, 7, 0x18));
  });

  test('what an unmap removed: intervals before, less intervals after', () => {
    expect(subtract([[0n, 10n], [20n, 30n]], [[0n, 10n], [20n, 30n]])).toEqual([]);
    expect(subtract([[0n, 10n], [20n, 30n]], [])).toEqual([[0n, 10n], [20n, 30n]]);
    expect(subtract([[0n, 30n]], [[0n, 5n], [10n, 12n], [25n, 30n]])).toEqual([[5n, 10n], [12n, 25n]]);
    expect(subtract([[0n, 10n], [20n, 30n]], [[5n, 25n]])).toEqual([[0n, 5n], [25n, 30n]]);
  });

  test('registers: QEMU 10.0\'s default CAP decodes as the unit the kit was written for', () => {
    const cap = decodeCap(0x00D2008C222F0606n);
    expect(cap).toMatchObject({ cachingMode: false, sagaw: 0x6, mgaw: 48, faultRecordOffset: 0x220, faultRecords: 1, sllps: 3, psi: true, mamv: 18 });
    expect(decodeFaultRecord(0x1000n, 0n)).toBeNull();
    expect(decodeFaultRecord(0x5000n, (1n << 63n) | (1n << 62n) | (6n << 32n) | 0x18n)).toEqual({ reason: 6, sid: 0x18, read: true, page: 0x5000n });
  });
});

for (const suite of SUITES) {
  describe(`on Debian ${suite}'s QEMU`, () => {
    const what = 'the QEMU intel-iommu target';

    test('the driver: writes land where the tables point; every drawn invalidation removes the translation; none leaves it cached', { timeout: 300_000 }, async (ctx) => {
      const a = new QemuIntelIommuAdapter({ install: requireQemuOf(ctx, suite, what) });
      const run = async (ops: Parameters<typeof a.exec>[0][]) => {
        const out: Outcome[] = [];
        for (const op of ops) out.push(await a.exec(op));
        return out;
      };
      try {
        for (const inval of [0, 1, 2, 3, undefined]) {
          await a.reset(TOPOLOGIES[0]!);
          const setup = await run([
            { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' },
            { op: 'map', domain: 'd1', iova: 0x20_0000n, paddr: 0x8000_0000n, size: 0x4000n, prot: PROT.READ | PROT.WRITE },
            { op: 'attach', dev: 'dev0', domain: 'd1', inval: inval ?? 0 },
            { op: 'dma', dev: 'dev0', iova: 0x20_1000n, access: 'w' }, // lands, and fills the IOTLB
            { op: 'dma', dev: 'dev0', iova: 0x20_5000n, access: 'r' }, // unmapped
          ]);
          expect(setup.slice(0, 4)).toEqual([{ ok: { pgsizes: TOPOLOGIES[0]!.iommus[0]!.pgsizes } }, { ok: {} }, { ok: {} }, { ok: {} }]);
          expect(setup[4]).toMatchObject({ err: 'FAULT', msg: expect.stringMatching(/fault reason 0x6 \(read not permitted\) for read at 0x205000/) });
          if (inval === undefined) continue;
          const after = await run([
            { op: 'unmap', domain: 'd1', iova: 0x20_1000n, size: 0x1000n, inval },
            { op: 'dma', dev: 'dev0', iova: 0x20_1000n, access: 'w' },
            { op: 'dma', dev: 'dev0', iova: 0x20_2000n, access: 'w' }, // the neighbour still maps
            { op: 'detach', dev: 'dev0', domain: 'd1', inval }, // back to pass-through
            { op: 'dma', dev: 'dev0', iova: 0x20_5000n, access: 'r' }, // unmapped in d1, plain RAM untranslated
          ]);
          expect(after, `inval=${inval} (${INVALIDATIONS[inval]}, ${CONTEXT_INVALIDATIONS[inval % 3]})`).toEqual([
            { ok: { unmapped: 0x1000n } }, { err: 'FAULT', msg: expect.stringMatching(/write not permitted/) }, { ok: {} }, { ok: {} }, { ok: {} },
          ]);
        }
      } finally {
        await a.close();
      }
      // Without the invalidation the unit keeps using its cached translation.
      await expectStaleWithoutInvalidation(new QemuIntelIommuAdapter({ install: requireQemuOf(ctx, suite, what), skipUnmapInvalidation: true }), TOPOLOGIES[0]!, 0n, 0x8000_0000n);
    });

    // causes.json, interrupt-range-whole-page: pinned request by request, so a QEMU that changes shows by name.
    test('a 1 GiB leaf whose page overlaps the interrupt range faults far from it (reason 0xE); a 2 MiB leaf just below it does not', { timeout: 120_000 }, async (ctx) => {
      const a = new QemuIntelIommuAdapter({ install: requireQemuOf(ctx, suite, what) });
      try {
        await a.reset(TOPOLOGIES[0]!);
        for (const op of [
          { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' },
          { op: 'attach', dev: 'dev0', domain: 'd1' },
          { op: 'map', domain: 'd1', iova: 0x4000_0000n, paddr: 0xc000_0000n, size: 0x4000_0000n, prot: PROT.READ },
          { op: 'map', domain: 'd1', iova: 0x8000_0000n, paddr: 0xfec0_0000n, size: 0x20_0000n, prot: PROT.READ },
        ] as const) expect(await a.exec(op)).toMatchObject({ ok: {} });
        expect(await a.exec({ op: 'dma', dev: 'dev0', iova: 0x4000_0000n, access: 'r' })).toEqual({ err: 'FAULT', msg: expect.stringMatching(/^fault reason 0xe \(output address in the interrupt range\)/) });
        expect(await a.exec({ op: 'dma', dev: 'dev0', iova: 0x8000_0000n, access: 'r' })).toEqual({ ok: {} });
      } finally {
        await a.close();
      }
    });

    test('a bounded suite run finds exactly the judged findings of this version', { timeout: 900_000 }, async (ctx) => {
      requireQemuOf(ctx, suite, what);
      await expectJudged(matrixTarget('qemu-intel-iommu', suite));
    });
  });
}

test('a kit that skips the IOTLB invalidation after an unmap is caught: a device still reaches what was unmapped', { timeout: 900_000 }, async (ctx) => {
  requireQemuOf(ctx, 'bookworm', 'the broken-kit check');
  await expectBrokenKitCaught('intel-iommu', 'bookworm');
});
