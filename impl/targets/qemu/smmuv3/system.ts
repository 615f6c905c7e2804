// One running QEMU `virt` machine with its SMMUv3 and the edu DMA engines behind it, brought up
// the way firmware and Linux leave one: BARs placed through ECAM, bus mastering on, the unit's
// stream table and queues programmed and translation enabled (unit.ts).
//
// The machine (docs/notes/qemu-smmuv3.md §0, §1): `highmem=off` puts ECAM at 0x3f000000 on
// 7.2, 10.0 and 11.x alike; `-cpu max` with a WFI-loop firmware lets virtual time run, so the
// edu's DMA timer fires; RAM is 2.5 GiB from 0x40000000. The driver's own tables live in a
// window near the top of RAM the generator seldom aims at; a write that would land in it is
// never verified and the page is rewritten from the driver's copy afterwards.
//
// A device read is verified too, which a register-level IOMMU otherwise hides: the edu reads
// into its buffer, and the driver then lets the device through untranslated for one write of
// that byte into a scratch page (bypass STE, CFGI_STE; the TLB is not touched, §4.3) before
// putting its STE back. What the read returned is then plain to see.

import type { Access } from '../../../../spec/index.ts';
import { Edu } from '../common/edu.ts';
import { GuestPages } from '../common/guest-pages.ts';
import { EDU_SLOTS, type MachineOptions, PCI_DEVFN, type QemuInstall, qemuArgs } from '../common/machine.ts';
import { PciFunction } from '../common/pci.ts';
import { ReadMarkers } from '../common/read-markers.ts';
import { Qtest } from '../common/qtest.ts';
import type { Label, Transcript } from '../common/transcript.ts';
import { type Event, TRANSLATION_FAULTS, describeEvent } from './regs.ts';
import { SmmuError, SmmuUnit } from './unit.ts';

export const RAM_BASE = 0x4000_0000n;
export const RAM_BYTES = 0xa000_0000n;
const ECAM_BASE = 0x3f00_0000n;
/** edu BARs in the 32-bit PCIe MMIO window (VIRT_PCIE_MMIO, 0x10000000 up). */
const EDU_BAR_BASE = 0x1000_0000n;
const EDU_BAR_STRIDE = 0x10_0000n;
/** The driver's tables and queues: 128 MiB below the last 256 MiB of RAM. */
export const DRIVER_WINDOW = { base: 0xd000_0000n, end: 0xd800_0000n } as const;
/** Where the edu's buffer bytes come from at boot: one page of a known pattern. */
const PATTERN_PAGE = 0xcfff_f000n;
/** The byte every DMA write carries (the edu buffer's byte 0, filled from the pattern page at boot). */
export const WRITE_BYTE = 0xa5;
/** Reads land at this buffer offset, so they never overwrite the byte writes carry. */
const READ_AT = 0x800;

const MACHINE: MachineOptions = {
  machine: 'virt,iommu=smmuv3,highmem=off',
  cpu: 'max',
  ramMiB: Number(RAM_BYTES >> 20n),
  iommu: [],
};

/** Labels of the reads that classify an access (reproducer.ts turns them into assertions). */
export const ACCESS_LABELS = { events: 'evtq_prod', reached: 'reached_byte' } as const;

export interface AccessResult {
  /** The translation faults the unit recorded for this access (QEMU records one per 4 bytes). */
  faults: Event[];
  /** Did the access reach `expectPhys`? (a write landed there, a read returned what it holds); absent where that cannot be seen. */
  reached?: boolean;
}

export class SmmuSystem {
  private readonly markers = new ReadMarkers(WRITE_BYTE);

  private constructor(
    readonly qt: Qtest,
    readonly unit: SmmuUnit,
    readonly mem: GuestPages,
    readonly edus: readonly Edu[],
    /** A driver page a verified read's byte is copied to. */
    private readonly scratch: bigint,
  ) {}

  static async start(q: QemuInstall, replyTimeoutMs = 10_000, recorder?: Transcript): Promise<SmmuSystem> {
    const qt = await Qtest.start({ binary: q.binary, args: (sock) => qemuArgs(q, MACHINE, sock), env: q.env, replyTimeoutMs, recorder });
    try {
      const edus: Edu[] = [];
      for (const [i, slot] of EDU_SLOTS.entries()) {
        edus.push(await Edu.open(qt, new PciFunction(qt, PCI_DEVFN(slot), 0, ECAM_BASE), EDU_BAR_BASE + BigInt(i) * EDU_BAR_STRIDE));
      }
      // Before the SMMU is on, each edu reads the pattern into its buffer untranslated.
      await qt.cmd(`memset 0x${PATTERN_PAGE.toString(16)} 0x1000 0x${WRITE_BYTE.toString(16)}`);
      for (const e of edus) await e.transfer(PATTERN_PAGE, 'r', 0);
      const mem = new GuestPages(qt, DRIVER_WINDOW.base, DRIVER_WINDOW.end);
      const unit = await SmmuUnit.open(qt, mem);
      return new SmmuSystem(qt, unit, mem, edus, DRIVER_WINDOW.end - 0x1000n);
    } catch (e) {
      await qt.close();
      throw e;
    }
  }

  get alive(): boolean {
    return this.qt.alive;
  }

  sid(index: number): number {
    return this.edus[index]!.pci.requesterId;
  }

  /**
   * One byte accessed by edu `index` at `iova`, the translation faults the unit recorded, and,
   * where `expectPhys` is plain RAM, whether the access reached it: a write's byte is checked
   * there; for a read, a fresh marker byte is put there first and the byte read is fetched back.
   * `silent`: the device's STE aborts, so no event is due (recorded for a reproducer's assertions).
   */
  async access(index: number, iova: bigint, access: Access, expectPhys: bigint | null, silent = false): Promise<AccessResult> {
    const edu = this.edus[index];
    if (!edu) throw new Error(`no edu device ${index}`);
    const check = expectPhys !== null && this.plainRam(expectPhys) ? expectPhys : null;
    const marker = access === 'w' ? WRITE_BYTE : this.markers.next();
    const seed = access === 'w' ? ~WRITE_BYTE & 0xff : marker;
    const [stray] = await Promise.all([
      this.unit.takeEvents(),
      check !== null ? this.qt.cmd(`writeb 0x${check.toString(16)} 0x${seed.toString(16)}`) : null,
    ]);
    if (stray.length > 0) throw new SmmuError(`events were pending before the access: ${stray.map(describeEvent).join('; ')}`);
    await edu.start(iova, access, 1, access === 'r' ? READ_AT : 0);
    await edu.waitFinished();
    const events = await this.unit.takeEvents({ name: ACCESS_LABELS.events, facts: { silent: silent ? 1n : 0n } });
    const sid = edu.pci.requesterId;
    for (const e of events) {
      if (!TRANSLATION_FAULTS.has(e.type)) throw new SmmuError(`the unit reports a configuration error, the driver's fault: ${describeEvent(e)}`);
      if (e.sid !== sid || e.input !== iova || e.read !== (access === 'r')) throw new SmmuError(`the unit recorded an event this access did not cause: ${describeEvent(e)}`);
    }
    if (access === 'w' && expectPhys !== null && this.mem.owns(expectPhys)) await this.mem.restore(expectPhys);
    if (check === null) return { faults: events };
    const reached = { name: ACCESS_LABELS.reached, facts: { phys: check, byte: BigInt(marker) } };
    const byte = access === 'w' ? Number(await this.qt.cmd(`readb 0x${check.toString(16)}`, reached)) : await this.readBack(index, reached);
    return { faults: events, reached: byte === marker };
  }

  /**
   * The byte the last read put in edu `index`'s buffer: the device is let through untranslated
   * (bypass STE) for one write of it into the scratch page, then its STE is put back. Both STE
   * changes are followed by CFGI_STE; neither touches cached translations.
   */
  private async readBack(index: number, label: Label): Promise<number> {
    const sid = this.sid(index);
    const ste = this.unit.ste(sid);
    if (!ste) throw new Error(`no STE known for stream 0x${sid.toString(16)}`);
    await this.unit.setSteQuiesced(sid, { config: 'bypass' });
    await this.edus[index]!.start(this.scratch, 'w', 1, READ_AT);
    await this.edus[index]!.waitFinished();
    const byte = Number(await this.qt.cmd(`readb 0x${this.scratch.toString(16)}`, label));
    await this.unit.setSteQuiesced(sid, ste);
    return byte;
  }


  /** RAM a device access can be checked in: not the driver's tables, not the pattern page, inside RAM. */
  private plainRam(phys: bigint): boolean {
    if (phys < RAM_BASE || phys >= RAM_BASE + RAM_BYTES || this.mem.owns(phys)) return false;
    return !(phys >= PATTERN_PAGE && phys < PATTERN_PAGE + 0x1000n);
  }

  close(): Promise<void> {
    return this.qt.close();
  }
}
