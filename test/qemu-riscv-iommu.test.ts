// QEMU's RISC-V IOMMU (riscv-iommu-pci) through the guest-driver kit, on Debian trixie's and
// sid's qemu-system-riscv64 (bookworm's 7.2 has no such device: not applicable). First what
// needs no QEMU: the encodings the driver writes (device contexts, Sv48 leaves, commands, fault
// records) and the invalidations it may send. Then the driver against the real unit: accesses
// go where the tables say and reads are verified, each drawn invalidation removes a
// translation, a missing one leaves it (caching is observable, so the suite can judge
// invalidation at all), a deliberately broken kit is caught; and per version a bounded suite
// run finds exactly that version's judged findings.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { GuestPages } from '../impl/targets/qemu/common/guest-pages.ts';
import { FIRMWARE, SUITES } from '../impl/targets/qemu/common/machine.ts';
import type { Qtest } from '../impl/targets/qemu/common/qtest.ts';
import { RUNNER, SCRIPT_FILE, exportReproducer } from '../impl/targets/qemu/common/reproducer/export.ts';
import { SUITE_ENV } from '../impl/targets/qemu/common/suite-choice.ts';
import { QemuRiscvIommuAdapter, recordErrors } from '../impl/targets/qemu/riscv-iommu/adapter.ts';
import { CONFIG_INVALIDATIONS, INVALIDATIONS, configInvalidation, tlbInvalidations } from '../impl/targets/qemu/riscv-iommu/invalidation.ts';
import createAdapter from '../impl/targets/qemu/riscv-iommu/module.ts';
import { RISCV_IOMMU_REPRODUCER } from '../impl/targets/qemu/riscv-iommu/reproducer.ts';
import { FirstStageTable, leafEntry } from '../impl/targets/qemu/riscv-iommu/pgtable.ts';
import {
  type Dc, LEAF_RO, LEAF_RW, decodeCapabilities, decodeFault, encodeDc, iodirInvalDdt, iofenceC, iotinvalVma, queueBase,
} from '../impl/targets/qemu/riscv-iommu/regs.ts';
import { PGSIZES, TOPOLOGIES } from '../impl/targets/qemu/riscv-iommu/topologies.ts';
import { absentDevice } from '../runner/targets.ts';
import { type Op, type Outcome, PROT } from '../spec/index.ts';
import { expectBrokenKitCaught, expectJudged, expectStaleWithoutInvalidation, matrixTarget, requireQemuOf } from './qemu-matrix.ts';

const PAGE = 0x1000n;
const field = (w: bigint, lo: number, bits: number): number => Number((w >> BigInt(lo)) & ((1n << BigInt(bits)) - 1n));

describe('what the driver writes', () => {
  test('device contexts as riscv_iommu_iodir_update() leaves them: paging (Sv48, PSCID, tc.V), identity (Bare), blocking (tc.V clear)', () => {
    const dc = encodeDc({ kind: 'translate', root: 0xd000_3000n, mode: 'sv48', pscid: 0x12345 });
    expect(dc).toHaveLength(8);
    expect(dc[0]).toBe(1n); // tc.V
    expect(dc[1]).toBe(0n); // iohgatp Bare
    expect(field(dc[2]!, 12, 20)).toBe(0x12345); // ta.PSCID
    expect(field(dc[3]!, 60, 4)).toBe(9); // fsc.MODE Sv48
    expect(dc[3]! & ((1n << 44n) - 1n)).toBe(0xd0003n); // fsc.PPN
    expect(field(encodeDc({ kind: 'translate', root: 0x1000n, mode: 'sv39', pscid: 1 })[3]!, 60, 4)).toBe(8);
    expect(encodeDc({ kind: 'bare' })).toEqual([1n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
    expect(encodeDc({ kind: 'blocked' }).every((w) => w === 0n)).toBe(true);
    expect(() => encodeDc({ kind: 'translate', root: 0xd000_3008n, mode: 'sv48', pscid: 1 } as Dc)).toThrow(/aligned/);
    expect(() => encodeDc({ kind: 'translate', root: 0x1000n, mode: 'sv48', pscid: 1 << 20 })).toThrow(/20 bits/);
  });

  test('commands: IOTINVAL.VMA with and without AV and PSCV, IODIR.INVAL_DDT with and without DV, IOFENCE.C with AV', () => {
    expect(iotinvalVma()).toEqual([1n, 0n]);
    const [w0, w1] = iotinvalVma({ pscid: 5, addr: 0x20_1234n });
    expect(field(w0, 0, 7)).toBe(1); // IOTINVAL
    expect(field(w0, 7, 3)).toBe(0); // VMA
    expect(field(w0, 10, 1)).toBe(1); // AV
    expect(field(w0, 12, 20)).toBe(5); // PSCID
    expect(field(w0, 32, 1)).toBe(1); // PSCV
    expect(field(w0, 33, 1)).toBe(0); // GV
    expect(w1).toBe((0x201n) << 10n); // ADDR[63:12] at bits 63:10
    expect(iotinvalVma({ pscid: 5 })).toEqual([1n | (5n << 12n) | (1n << 32n), 0n]);
    expect(iodirInvalDdt()).toEqual([3n, 0n]);
    expect(iodirInvalDdt(0x18)).toEqual([3n | (1n << 33n) | (0x18n << 40n), 0n]);
    const [f0, f1] = iofenceC(0xd000_2004n, 0xdead_beef);
    expect(field(f0, 0, 7)).toBe(2);
    expect(field(f0, 10, 1)).toBe(1); // AV
    expect(field(f0, 11, 3)).toBe(0); // no WSI, PR, PW
    expect(field(f0, 32, 32)).toBe(0xdead_beef);
    expect(f1 << 2n).toBe(0xd000_2004n);
    expect(() => iofenceC(0xd000_2002n, 1)).toThrow(/aligned/);
    expect(queueBase(0xd000_1000n, 8)).toBe((0xd0001n << 10n) | 7n);
  });

  test('capabilities and fault records decode as QEMU 10.0.13 and 11.1.3 present them', () => {
    expect(decodeCapabilities(0x0000_0078_c2cf_0f10n)).toEqual({ raw: 0x78c2cf0f10n, version: 0x10, sv39: true, sv48: true, sv57: true, amoHwad: false, pasBits: 56 });
    // notes §6: edu at 03.0 reading 0x20000000 unmapped; 10.0.13 sets PV.
    const w0 = 13n | (1n << 32n) | (2n << 34n) | (0x18n << 40n);
    expect(decodeFault(w0, 0x2000_0000n, 0x2000_0000n)).toEqual({ cause: 13, pid: 0, pv: true, priv: false, ttyp: 2, did: 0x18, iotval: 0x2000_0000n, iotval2: 0x2000_0000n });
    const write = decodeFault(15n | (3n << 34n) | (0x18n << 40n), 0x1000n);
    expect(recordErrors(write, 0x18, { kind: 'translate', root: 0x1000n, mode: 'sv48', pscid: 1 }, 0x1000n, 'w')).toEqual([]);
    expect(recordErrors(write, 0x20, { kind: 'blocked' }, 0x1008n, 'r')).toEqual(['device_id 0x18, not 0x20', 'iotval 0x1000, not the IOVA 0x1008', 'ttyp 3, not 2 (untranslated read)', 'cause 15, not 258']);
  });

  test('Sv48 tables: leaves of every size at their level with V A U R [W D]; no-permission leaves invalid but held; clearing returns whole leaves', () => {
    expect(LEAF_RW).toBe(0xd7n);
    expect(LEAF_RO).toBe(0x53n);
    expect(leafEntry(0x8020_0000n, PROT.READ | PROT.WRITE)).toBe((0x80200n << 10n) | 0xd7n);
    expect(leafEntry(0x8020_0000n, PROT.WRITE)).toBe((0x80200n << 10n) | 0xd7n); // no write-only leaf
    expect(leafEntry(0x8020_0000n, PROT.READ | PROT.NOEXEC)).toBe((0x80200n << 10n) | 0x53n);
    expect(leafEntry(0x8020_0000n, 0) & 1n).toBe(0n);
    const mem = new GuestPages(null as unknown as Qtest, 0xd000_0000n, 0xd010_0000n);
    const t = new FirstStageTable(mem, 'sv48');
    expect(t.vaBits).toBe(48);
    t.setLeaves(0x1000n, 0x8000_1000n, PAGE, 2n, PROT.READ | PROT.WRITE);
    t.setLeaves(0x20_0000n, 0x8020_0000n, 0x20_0000n, 1n, PROT.READ);
    t.setLeaves(0x4000_0000n, 0xc000_0000n, 0x4000_0000n, 1n, PROT.READ | PROT.WRITE);
    t.setLeaves(0x80_0000_0000n, 0n, 0x80_0000_0000n, 1n, PROT.READ | PROT.WRITE);
    t.setLeaves(0x3000n, 0x8000_3000n, PAGE, 1n, 0);
    expect(t.walk(0x2008n)).toEqual({ phys: 0x8000_2008n, read: true, write: true });
    expect(t.walk(0x3f_fff0n)).toEqual({ phys: 0x803f_fff0n, read: true, write: false });
    expect(t.walk(0x7fff_ffffn)).toEqual({ phys: 0xffff_ffffn, read: true, write: true });
    expect(t.walk(0x80_1234_5678n)).toEqual({ phys: 0x1234_5678n, read: true, write: true });
    expect(t.walk(0x3000n)).toBeNull();
    expect(t.walk(0x5000n)).toBeNull();
    expect(t.walk(1n << 47n)).toBeNull(); // outside Linux's lower-half aperture
    // The 2 MiB leaf sits in a level-2 table: root → level 3 → level 2, leaf entry at index 1.
    const l3 = (mem.read64(t.root) >> 10n) << 12n;
    const l2 = (mem.read64(l3) >> 10n) << 12n;
    expect(mem.read64(l2 + 8n)).toBe((0x80200n << 10n) | 0x53n);
    expect(t.clearRange(0x1000n, 0x40_0000n)).toEqual([
      { iova: 0x1000n, size: PAGE }, { iova: 0x2000n, size: PAGE }, { iova: 0x3000n, size: PAGE }, { iova: 0x20_0000n, size: 0x20_0000n },
    ]);
    expect(t.walk(0x20_0000n)).toBeNull();
    expect(() => t.clearRange(0x4000_0000n, 0x4000_1000n)).toThrow(/straddles/);
    expect(() => t.setLeaves(0n, 0n, 0x10000n, 1n, PROT.READ)).toThrow(/no first-stage leaf/);
  });

  test('the topologies: Sv48 leaf sizes, the 47-bit lower half Linux uses, the 56-bit physical address size', () => {
    for (const t of TOPOLOGIES) expect(t.iommus[0]).toMatchObject({ pgsizes: PGSIZES, ias: 47, oas: 56, pasidBits: 0 });
    expect(PGSIZES).toBe(0x1000n | 0x20_0000n | 0x4000_0000n | 0x80_0000_0000n);
  });
});

describe('the invalidations the kit draws from', () => {
  const leaves = [{ iova: 0x1000n, size: PAGE }, { iova: 0x2000n, size: PAGE }, { iova: 0x20_0000n, size: 0x20_0000n }];
  test('after an unmap: AV per 4 KiB page (the whole PSCID from 2 MiB on, as Linux), AV per leaf at its base, the PSCID, everything; choices wrap', () => {
    const small = tlbInvalidations(0, 3, leaves.slice(0, 2));
    expect(small.labels).toEqual(['IOTINVAL.VMA pscid=3 addr=0x1000', 'IOTINVAL.VMA pscid=3 addr=0x2000']);
    expect(tlbInvalidations(0, 3, [{ iova: 0n, size: 0x1f_f000n }]).cmds).toHaveLength(0x1ff);
    expect(tlbInvalidations(0, 3, leaves).labels).toEqual(['IOTINVAL.VMA pscid=3']);
    expect(tlbInvalidations(1, 3, leaves).labels).toEqual(['IOTINVAL.VMA pscid=3 addr=0x1000', 'IOTINVAL.VMA pscid=3 addr=0x2000', 'IOTINVAL.VMA pscid=3 addr=0x200000']);
    expect(tlbInvalidations(2, 3, leaves).cmds).toEqual([iotinvalVma({ pscid: 3 })]);
    expect(tlbInvalidations(3, 3, leaves).cmds).toEqual([iotinvalVma()]);
    expect(tlbInvalidations(INVALIDATIONS.length + 1, 3, leaves)).toEqual(tlbInvalidations(1, 3, leaves));
    expect(tlbInvalidations(1, 3, []).labels).toEqual(['IOTINVAL.VMA pscid=3']);
  });

  test("after a context change: IODIR.INVAL_DDT for the device and its old PSCID (none when it had none), or both for everything; choices wrap", () => {
    expect(configInvalidation(0, 0x18, 4).labels).toEqual(['IODIR.INVAL_DDT device=0x18', 'IOTINVAL.VMA pscid=4']);
    expect(configInvalidation(0, 0x18, null).cmds).toEqual([iodirInvalDdt(0x18)]);
    expect(configInvalidation(1, 0x18, 4).labels).toEqual(['IODIR.INVAL_DDT all', 'IOTINVAL.VMA']);
    expect(configInvalidation(CONFIG_INVALIDATIONS.length, 0x18, 4)).toEqual(configInvalidation(0, 0x18, 4));
  });
});

test("bookworm's QEMU 7.2 has no riscv-iommu-pci: the version is not applicable, and the module says so in one line", { timeout: 3 * 900_000 }, (ctx) => {
  // The device lists come with each version's fetch, which a fresh clone has not made yet.
  for (const suite of SUITES) requireQemuOf(ctx, suite, 'the device list', 'riscv64');
  const t = matrixTarget('qemu-riscv-iommu', 'bookworm');
  expect(t.device).toBe('riscv-iommu-pci');
  expect(absentDevice(t)).toMatch(/^Debian bookworm's QEMU 7\.2\.\d+ has no riscv-iommu-pci device$/);
  for (const suite of ['trixie', 'sid'] as const) expect(absentDevice(matrixTarget('qemu-riscv-iommu', suite))).toBeNull();
  const saved = process.env[SUITE_ENV];
  process.env[SUITE_ENV] = 'bookworm';
  try {
    expect(() => createAdapter()).toThrow(/^qemu-riscv-iommu: Debian bookworm's QEMU 7\.2\.\d+ has no riscv-iommu-pci device$/);
  } finally {
    if (saved === undefined) delete process.env[SUITE_ENV];
    else process.env[SUITE_ENV] = saved;
  }
});

for (const suite of ['trixie', 'sid'] as const) {
  describe(`on Debian ${suite}'s QEMU`, () => {
    const what = 'the QEMU riscv-iommu target';
    const install = (ctx: { skip: (note?: string) => never }) => requireQemuOf(ctx, suite, what, 'riscv64');

    test('the driver: accesses go where the tables point, reads verified; every drawn invalidation removes the translation; none leaves it cached', { timeout: 300_000 }, async (ctx) => {
      const a = new QemuRiscvIommuAdapter({ install: install(ctx) });
      const run = async (ops: Op[]) => {
        const out: Outcome[] = [];
        for (const op of ops) out.push(await a.exec(op));
        return out;
      };
      try {
        for (const inval of [0, 1, 2, 3, undefined]) {
          await a.reset(TOPOLOGIES[0]!); // identity by default: a Bare context
          const setup = await run([
            { op: 'dma', dev: 'dev0', iova: 0x9100_0000n, access: 'w' },
            { op: 'dma', dev: 'dev0', iova: 0x9100_0000n, access: 'r' },
            { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' },
            { op: 'map', domain: 'd1', iova: 0x20_0000n, paddr: 0x9000_0000n, size: 0x4000n, prot: PROT.READ | PROT.WRITE },
            { op: 'map', domain: 'd1', iova: 0x60_0000n, paddr: 0x9020_0000n, size: 0x20_0000n, prot: PROT.READ | PROT.WRITE },
            { op: 'attach', dev: 'dev0', domain: 'd1', inval: inval ?? 0 },
            { op: 'dma', dev: 'dev0', iova: 0x20_1000n, access: 'w' }, // lands, and fills the IOTLB
            { op: 'dma', dev: 'dev0', iova: 0x20_1000n, access: 'r' }, // returns what 0x90001000 holds
            { op: 'dma', dev: 'dev0', iova: 0x7f_f008n, access: 'w' }, // through a 2 MiB leaf
          ]);
          expect(setup.slice(0, 3)).toEqual([{ ok: {} }, { ok: {} }, { ok: { pgsizes: PGSIZES } }]);
          expect(setup.slice(3)).toEqual(Array.from({ length: 6 }, () => ({ ok: {} })));
          if (inval === undefined) continue;
          const after = await run([
            { op: 'unmap', domain: 'd1', iova: 0x20_1000n, size: 0x1000n, inval },
            { op: 'dma', dev: 'dev0', iova: 0x20_1000n, access: 'w' },
            { op: 'dma', dev: 'dev0', iova: 0x20_2000n, access: 'r' }, // the neighbour still maps
            { op: 'detach', dev: 'dev0', domain: 'd1', inval }, // back to the Bare context
            { op: 'dma', dev: 'dev0', iova: 0x9100_0000n, access: 'r' },
          ]);
          const label = `inval=${inval} (${INVALIDATIONS[inval]}, ${CONFIG_INVALIDATIONS[inval % 2]})`;
          expect(after[0], label).toEqual({ ok: { unmapped: 0x1000n } });
          expect(after[1], label).toEqual({ err: 'FAULT', msg: 'cause 15 (write/AMO page fault) device 0x18 ttyp 3 (untranslated write/AMO) iotval 0x201000' });
          expect(after.slice(2), label).toEqual([{ ok: {} }, { ok: {} }, { ok: {} }]);
        }
        // A blocking context (tc.V clear) refuses with "DDT entry not valid".
        await a.reset(TOPOLOGIES[1]!);
        expect(await a.exec({ op: 'dma', dev: 'dev0', iova: 0x9100_0000n, access: 'r' })).toEqual({ err: 'FAULT', msg: 'cause 258 (DDT entry not valid) device 0x18 ttyp 2 (untranslated read) iotval 0x91000000' });
      } finally {
        await a.close();
      }
      // Without the invalidation the unit keeps using its cached translation.
      await expectStaleWithoutInvalidation(new QemuRiscvIommuAdapter({ install: install(ctx), skipUnmapInvalidation: true }), TOPOLOGIES[0]!, 0x1000n, 0x9000_0000n, { paddr: 0x9010_0000n, miss: /no fault recorded, but the read did not reach 0x90100000/ });
    });

    test('a bounded suite run finds exactly the judged findings of this version', { timeout: 900_000 }, async (ctx) => {
      install(ctx);
      await expectJudged(matrixTarget('qemu-riscv-iommu', suite));
    });
  });
}

test('a kit that skips the invalidation after an unmap is caught: a device still reaches what was unmapped', { timeout: 900_000 }, async (ctx) => {
  requireQemuOf(ctx, 'trixie', 'the broken-kit check', 'riscv64');
  // XLATE-PERM is set aside: its known finding (a cached read-only page drops a write) would end
  // the family first, and shrinking it costs minutes; the sequences it ends make 60 short runs.
  await expectBrokenKitCaught('riscv-iommu', 'trixie', { ignore: ['XLATE-PERM'], runs: 60, maxSteps: 30 });
});

/** causes.json superpage-av-invalidation-drops-one-4k-piece: a 2 MiB leaf used, unmapped with one AV at its base, written again. */
const SUPERPAGE_AV: Op[] = [
  { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' },
  { op: 'map', domain: 'd1', iova: 0n, paddr: 0x8000_0000n, size: 0x20_0000n, prot: PROT.READ | PROT.WRITE },
  { op: 'attach', dev: 'dev0', domain: 'd1' },
  { op: 'dma', dev: 'dev0', iova: 0x1f_f000n, access: 'w' },
  { op: 'unmap', domain: 'd1', iova: 0n, size: 0x20_0000n, inval: 1 },
  { op: 'dma', dev: 'dev0', iova: 0x1f_ffffn, access: 'w' },
];
/** causes.json cached-read-only-translation-drops-write-unreported: a read caches a read-only page, then a write. */
const CACHED_READ_ONLY: Op[] = [
  { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' },
  { op: 'map', domain: 'd1', iova: 0n, paddr: 0x8000_0000n, size: 0x1000n, prot: PROT.READ },
  { op: 'attach', dev: 'dev0', domain: 'd1' },
  { op: 'dma', dev: 'dev0', iova: 0n, access: 'r' },
  { op: 'dma', dev: 'dev0', iova: 0xfffn, access: 'w' },
];

describe('the findings as standalone qtest reproducers', () => {
  const cases = [
    { name: 'an AV invalidation at a superpage base', rule: 'UNMAP-SYM', ops: SUPERPAGE_AV, diverges: true },
    { name: 'a write through a cached read-only translation', rule: 'XLATE-PERM', ops: CACHED_READ_ONLY, diverges: true },
    // Controls: the unmap invalidated as Linux does it (the whole PSCID from 2 MiB on); the write with nothing cached (cause 15 recorded).
    { name: 'control: the same unmap invalidated as Linux does (inval=0: the whole PSCID)', rule: 'UNMAP-SYM', ops: SUPERPAGE_AV.map((o) => (o.op === 'unmap' ? { ...o, inval: 0 } : o)), diverges: false },
    { name: 'control: the write with nothing cached', rule: 'XLATE-PERM', ops: CACHED_READ_ONLY.filter((_, i) => i !== 3), diverges: false },
  ];
  for (const c of cases) {
    test(`${c.name}: exported from 11.1, the script exits ${c.diverges ? 1 : 0} on 10.0 and 11.1`, { timeout: 120_000 }, async (ctx) => {
      const qemus = (['trixie', 'sid'] as const).map((s) => requireQemuOf(ctx, s, 'the riscv-iommu reproducer', 'riscv64'));
      const dir = mkdtempSync(join(tmpdir(), 'reproducer-riscv-'));
      try {
        const r = await exportReproducer(RISCV_IOMMU_REPRODUCER, qemus[1]!, { rule: c.rule, topology: TOPOLOGIES[0]!, ops: c.ops }, dir);
        expect(r).toMatchObject({ rule: c.rule, diverged: c.diverges, expected: ['FAULT'] });
        const script = readFileSync(join(dir, SCRIPT_FILE), 'utf8');
        expect(script).toContain(`# firmware: ${FIRMWARE.riscv64.name} 65536 0x0 ${FIRMWARE.riscv64.head}\n`);
        expect(script.split('\n').filter((l) => l.startsWith('@expect'))).toEqual(c.diverges
          ? ['@expect "the unit writes a fault record (FQT moves)" fqt != 0x0']
          : ['@expect "the unit writes a fault record (FQT moves)" fqt != 0x0', `@expect "the record's iotval is the write's IOVA, ${c.rule === 'UNMAP-SYM' ? '0x1fffff' : '0xfff'}" fault_iotval == ${c.rule === 'UNMAP-SYM' ? '0x1fffff' : '0xfff'}`]);
        for (const q of qemus) {
          const p = spawnSync('python3', [RUNNER, join(dir, SCRIPT_FILE), q.binary], { encoding: 'utf8', timeout: 60_000 });
          expect(p.status, `${q.suite}: ${p.stdout}${p.stderr}`).toBe(c.diverges ? 1 : 0);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('the firmware a script names is, byte for byte, the image scripts/fetch-qemu-suite.sh writes', (ctx) => {
    const q = requireQemuOf(ctx, 'sid', 'the cached firmware', 'riscv64');
    const fw = FIRMWARE.riscv64;
    const head = Buffer.from(fw.head, 'hex');
    expect(readFileSync(q.bios)).toEqual(Buffer.concat([head, Buffer.alloc(fw.size - head.length, fw.fill)]));
  });
});
