// QEMU's SMMUv3 through the guest-driver kit, on Debian bookworm's, trixie's and sid's
// qemu-system-aarch64. First what needs no QEMU: the encodings the driver writes (STE, CD,
// commands, stage-1 descriptors) and the invalidations it may send. Then the driver against the
// real unit: accesses go where the tables say and reads are verified, each drawn invalidation
// removes a translation, a missing one leaves it (caching is observable, so the suite can judge
// invalidation at all), a deliberately broken kit is caught; and per version a bounded suite run
// finds exactly that version's judged findings.

import { describe, expect, test } from 'vitest';
import { GuestPages } from '../impl/targets/qemu/common/guest-pages.ts';
import { SUITES } from '../impl/targets/qemu/common/machine.ts';
import type { Qtest } from '../impl/targets/qemu/common/qtest.ts';
import { QemuSmmuv3Adapter } from '../impl/targets/qemu/smmuv3/adapter.ts';
import { CONFIG_INVALIDATIONS, INVALIDATIONS, configInvalidation, rangeCommands, tlbInvalidations } from '../impl/targets/qemu/smmuv3/invalidation.ts';
import { Stage1Table } from '../impl/targets/qemu/smmuv3/pgtable.ts';
import { decodeEvent, decodeFeatures, encodeCd, encodeSte } from '../impl/targets/qemu/smmuv3/regs.ts';
import { TOPOLOGIES } from '../impl/targets/qemu/smmuv3/topologies.ts';
import { type Op, type Outcome, PROT } from '../spec/index.ts';
import { expectBrokenKitCaught, expectJudged, expectStaleWithoutInvalidation, matrixTarget, requireQemuOf } from './qemu-matrix.ts';

const PAGE = 0x1000n;
const field = (w: bigint, lo: number, bits: number): number => Number((w >> BigInt(lo)) & ((1n << BigInt(bits)) - 1n));

describe('what the driver writes', () => {
  test('a CD as arm_smmu_make_s1_cd() makes it; QEMU refuses any other T0SZ, EPD1, IPS, AA64 or A', () => {
    const [w0, w1] = encodeCd({ asid: 0x1234, ttb0: 0xd000_1000n, inputBits: 48, outputBits: 44 });
    expect(field(w0!, 0, 6)).toBe(16); // T0SZ
    expect(field(w0!, 6, 2)).toBe(0); // TG0 4 KiB
    expect(field(w0!, 30, 1)).toBe(1); // EPD1
    expect(field(w0!, 31, 1)).toBe(1); // V
    expect(field(w0!, 32, 3)).toBe(4); // IPS 44 bits
    expect(field(w0!, 41, 1) & field(w0!, 45, 1) & field(w0!, 46, 1)).toBe(1); // AA64, R, A
    expect(field(w0!, 48, 16)).toBe(0x1234);
    expect(w1).toBe(0xd000_1000n);
    expect(() => encodeCd({ asid: 1, ttb0: 0n, inputBits: 48, outputBits: 52 })).toThrow(/IPS/);
  });

  test('STEs: abort, bypass and stage 1 through a 64-byte aligned CD', () => {
    expect(encodeSte({ config: 'abort' })[0]).toBe(1n);
    expect(encodeSte({ config: 'bypass' })[0]).toBe(1n | (4n << 1n));
    const s1 = encodeSte({ config: 'stage1', cd: 0xd000_2040n });
    expect(s1[0]).toBe(1n | (5n << 1n) | 0xd000_2040n);
    expect(field(s1[1]!, 0, 2)).toBe(2); // S1DSS = SSID0
    expect(() => encodeSte({ config: 'stage1', cd: 0xd000_2001n })).toThrow(/aligned/);
  });

  test('registers and events decode as QEMU presents them (IDR values measured on 7.2 and 10.0)', () => {
    expect(decodeFeatures(0x0d40101a, 0x02730010, 0x1404, 0x74)).toMatchObject({ stage1: true, stage2: false, sidBits: 16, cmdqBits: 19, evtqBits: 19, rangeInvalidation: true, oasBits: 44, granule4k: true });
    expect(decodeFeatures(0x0d44101b, 0x02730010, 0x1414, 0x74)).toMatchObject({ stage2: true });
    expect(decodeEvent(0x18_0000_0010n, 1n << 35n, 0x20_0010n)).toEqual({ type: 0x10, sid: 0x18, read: true, input: 0x20_0010n });
  });

  test('stage-1 tables: leaves at the right level with AF; read-only sets AP[2]; no-permission leaves are invalid but held', () => {
    const mem = new GuestPages(null as unknown as Qtest, 0xd000_0000n, 0xd010_0000n);
    const t = new Stage1Table(mem);
    t.setLeaves(0x20_0000n, 0x8000_0000n, 0x20_0000n, 1n, PROT.READ);
    t.setLeaves(0x1000n, 0x4000_0000n, PAGE, 2n, PROT.READ | PROT.WRITE);
    t.setLeaves(0x4000n, 0n, PAGE, 1n, 0);
    expect(t.walk(0x20_1234n)).toEqual({ phys: 0x8000_1234n, read: true, write: false });
    expect(t.walk(0x2008n)).toEqual({ phys: 0x4000_1008n, read: true, write: true });
    expect(t.walk(0x4000n)).toBeNull();
    expect(t.walk(1n << 48n)).toBeNull();
    expect(t.clearRange(0x1000n, 0x40_0000n)).toEqual([{ iova: 0x1000n, size: PAGE }, { iova: 0x2000n, size: PAGE }, { iova: 0x4000n, size: PAGE }, { iova: 0x20_0000n, size: 0x20_0000n }]);
    expect(t.walk(0x2008n)).toBeNull();
    t.setLeaves(0x40_0000n, 0x8000_0000n, 0x20_0000n, 1n, PROT.READ);
    expect(() => t.clearRange(0x40_0000n, 0x40_1000n)).toThrow(/straddles/);
  });
});

describe('the invalidations the kit draws from', () => {
  test('range commands as __arm_smmu_tlb_inv_range() builds them: Linux\'s examples, and they tile the span', () => {
    expect(rangeCommands(0x1000n, PAGE, PAGE)).toEqual([{ addr: 0x1000n, num: 0, scale: 0, ttl: 3 }]);
    expect(rangeCommands(0x20_0000n, 0x20_0000n, 0x20_0000n)).toEqual([{ addr: 0x20_0000n, num: 0, scale: 9, ttl: 2 }]);
    expect(rangeCommands(0x4000_0000n, 0x4000_0000n, 0x4000_0000n)[0]!.ttl).toBe(1);
    for (const pages of [1n, 3n, 31n, 32n, 33n, 100n, 513n, 0x12345n]) {
      let at = 0x10_0000n;
      for (const c of rangeCommands(0x10_0000n, pages * PAGE, PAGE)) {
        expect(c.addr).toBe(at);
        expect(c.num >= 0 && c.num < 32 && c.scale < 32).toBe(true);
        at += BigInt(c.num + 1) * (1n << BigInt(c.scale)) * PAGE;
      }
      expect(at).toBe(0x10_0000n + pages * PAGE);
    }
  });

  test('choices: per leaf, a range, the ASID, everything; without RIL the range is per leaf; too many commands become the ASID; choices wrap', () => {
    const leaves = [{ iova: 0x1000n, size: PAGE }, { iova: 0x3000n, size: PAGE }];
    const ril = { rangeInvalidation: true };
    expect(tlbInvalidations(0, 5, leaves, ril).labels).toEqual(['TLBI_NH_VA asid=5 addr=0x1000 leaf', 'TLBI_NH_VA asid=5 addr=0x3000 leaf']);
    expect(tlbInvalidations(1, 5, leaves, ril).labels).toEqual(['TLBI_NH_VA asid=5 addr=0x1000 tg=1 num=2 scale=0 ttl=3 leaf']);
    expect(tlbInvalidations(1, 5, leaves, { rangeInvalidation: false })).toEqual(tlbInvalidations(0, 5, leaves, ril));
    expect(tlbInvalidations(2, 5, leaves, ril).labels).toEqual(['TLBI_NH_ASID asid=5']);
    expect(tlbInvalidations(3, 5, leaves, ril).labels).toEqual(['TLBI_NH_ALL vmid=0']);
    expect(tlbInvalidations(INVALIDATIONS.length, 5, leaves, ril)).toEqual(tlbInvalidations(0, 5, leaves, ril));
    const many = Array.from({ length: 600 }, (_, i) => ({ iova: BigInt(i) * 2n * PAGE, size: PAGE }));
    expect(tlbInvalidations(0, 5, many, ril).labels).toEqual(['TLBI_NH_ASID asid=5']);
  });

  test('after an STE changes: CFGI_STE, the bus\'s range, or CFGI_ALL (Range 31); choices wrap', () => {
    expect(configInvalidation(0, 0x18).cmds).toEqual([[0x18_0000_0003n, 1n]]);
    expect(configInvalidation(1, 0x18).cmds).toEqual([[0x18_0000_0004n, 7n]]);
    expect(configInvalidation(2, 0x18).cmds).toEqual([[0x4n, 31n]]);
    expect(configInvalidation(CONFIG_INVALIDATIONS.length, 0x18)).toEqual(configInvalidation(0, 0x18));
  });
});

for (const suite of SUITES) {
  describe(`on Debian ${suite}'s QEMU`, () => {
    const what = 'the QEMU SMMUv3 target';
    const install = (ctx: { skip: (note?: string) => never }) => requireQemuOf(ctx, suite, what, 'aarch64');

    test('the driver: accesses go where the tables point, reads verified; every drawn invalidation removes the translation; none leaves it cached', { timeout: 300_000 }, async (ctx) => {
      const a = new QemuSmmuv3Adapter({ install: install(ctx) });
      const run = async (ops: Op[]) => {
        const out: Outcome[] = [];
        for (const op of ops) out.push(await a.exec(op));
        return out;
      };
      try {
        for (const inval of [0, 1, 2, 3, undefined]) {
          await a.reset(TOPOLOGIES[1]!); // blocked by default: an abort STE
          const setup = await run([
            { op: 'dma', dev: 'dev0', iova: 0x4100_0000n, access: 'w' },
            { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' },
            { op: 'map', domain: 'd1', iova: 0x20_0000n, paddr: 0x8000_0000n, size: 0x4000n, prot: PROT.READ | PROT.WRITE },
            { op: 'map', domain: 'd1', iova: 0x40_0000n, paddr: 0x8010_0000n, size: 0x1000n, prot: PROT.READ },
            { op: 'attach', dev: 'dev0', domain: 'd1', inval: inval ?? 0 },
            { op: 'dma', dev: 'dev0', iova: 0x20_1000n, access: 'w' }, // lands, and fills the TLB
            { op: 'dma', dev: 'dev0', iova: 0x20_1000n, access: 'r' }, // returns what 0x80001000 holds
            { op: 'dma', dev: 'dev0', iova: 0x20_5000n, access: 'r' }, // unmapped
            { op: 'dma', dev: 'dev0', iova: 0x40_0000n, access: 'w' }, // read-only
          ]);
          expect(setup[0]).toMatchObject({ err: 'FAULT', msg: expect.stringMatching(/^abort STE: .* did not reach 0x41000000/) });
          expect(setup.slice(1, 7)).toEqual([{ ok: { pgsizes: TOPOLOGIES[1]!.iommus[0]!.pgsizes } }, { ok: {} }, { ok: {} }, { ok: {} }, { ok: {} }, { ok: {} }]);
          expect(setup[7]).toMatchObject({ err: 'FAULT', msg: expect.stringMatching(/^F_TRANSLATION \(event 0x10\) sid=0x18 read at 0x205000/) });
          expect(setup[8]).toMatchObject({ err: 'FAULT', msg: expect.stringMatching(/^F_PERMISSION \(event 0x13\) sid=0x18 write at 0x400000/) });
          if (inval === undefined) continue;
          const after = await run([
            { op: 'unmap', domain: 'd1', iova: 0x20_1000n, size: 0x1000n, inval },
            { op: 'dma', dev: 'dev0', iova: 0x20_1000n, access: 'w' },
            { op: 'dma', dev: 'dev0', iova: 0x20_2000n, access: 'r' }, // the neighbour still maps
            { op: 'detach', dev: 'dev0', domain: 'd1', inval }, // back to the abort STE
            { op: 'dma', dev: 'dev0', iova: 0x20_2000n, access: 'r' },
          ]);
          expect(after, `inval=${inval} (${INVALIDATIONS[inval]}, ${CONFIG_INVALIDATIONS[inval % 3]})`).toEqual([
            { ok: { unmapped: 0x1000n } }, { err: 'FAULT', msg: expect.stringMatching(/F_TRANSLATION/) }, { ok: {} }, { ok: {} }, { err: 'FAULT', msg: expect.stringMatching(/^abort STE/) },
          ]);
        }
      } finally {
        await a.close();
      }
      // Without the invalidation the unit keeps using its cached translation.
      await expectStaleWithoutInvalidation(new QemuSmmuv3Adapter({ install: install(ctx), skipUnmapInvalidation: true }), TOPOLOGIES[0]!, 0n, 0x8000_0000n, { paddr: 0x8010_0000n, miss: /no event recorded, but the read did not reach 0x80100000/ });
    });

    test('a bounded suite run finds exactly the judged findings of this version', { timeout: 900_000 }, async (ctx) => {
      install(ctx);
      await expectJudged(matrixTarget('qemu-smmuv3', suite));
    });
  });
}

test('a kit that skips the TLB invalidation after an unmap is caught: a device still reaches what was unmapped', { timeout: 900_000 }, async (ctx) => {
  requireQemuOf(ctx, 'sid', 'the broken-kit check', 'aarch64');
  await expectBrokenKitCaught('smmuv3', 'sid');
});
