// One running QEMU riscv64 `virt` machine with a riscv-iommu-pci and the edu DMA engines behind
// it, brought up the way firmware and Linux leave one: BARs placed through ECAM, bus mastering
// on, the unit's directory and queues programmed and DDTP set (unit.ts).
//
// The machine (docs/notes/qemu-riscv-iommu.md §1): ECAM at 0x30000000, the 32-bit PCIe window
// from 0x40000000, RAM from 0x80000000 (2.5 GiB here), the WFI-loop firmware at its start and
// `-icount` so the edu's DMA timer fires. The IOMMU sits at 02.0 and translates every other
// device on the root bus; the edus at 03.0-05.0 are device_ids 0x18, 0x20, 0x28. The BARs go
// high in the 32-bit window, above the addresses the generator draws there. The driver's own
// tables live in a window the generator seldom aims at; a write that would land in it is never
// verified and the page is rewritten from the driver's copy afterwards, as is the firmware.
//
// A device read is verified too: the edu reads into its buffer, and the driver then gives the
// device a Bare context (the identity domain's) for one write of that byte into a scratch page,
// then its context back, each with IODIR.INVAL_DDT for the device only, which leaves cached
// translations alone (§3.1.3; QEMU's IOTLB survives it, notes §5).

import type { Access } from '../../../../spec/index.ts';
import { Edu } from '../common/edu.ts';
import { GuestPages } from '../common/guest-pages.ts';
import { EDU_SLOTS, FIRMWARE, type MachineOptions, PCI_DEVFN, type QemuInstall, qemuArgs } from '../common/machine.ts';
import { PciFunction } from '../common/pci.ts';
import { ReadMarkers } from '../common/read-markers.ts';
import { Qtest } from '../common/qtest.ts';
import type { Label, Transcript } from '../common/transcript.ts';
import { DDTP_MODE, type Fault, REG } from './regs.ts';
import { RiscvIommuError, RiscvIommuUnit } from './unit.ts';

export const RAM_BASE = 0x8000_0000n;
export const RAM_BYTES = 0xa000_0000n;
const ECAM_BASE = 0x3000_0000n;
/** The IOMMU's PCI slot (02.0), ahead of the edus (common/machine.ts EDU_SLOTS). */
const IOMMU_SLOT = 2;
const IOMMU_IDS = { vendor: 0x1b36, device: 0x0014 } as const;
/** edu BARs (1 MiB each) and the IOMMU's (4 KiB) high in the 32-bit window, past 0x40000000 + 0xffff pages. */
const EDU_BAR_BASE = 0x6000_0000n;
const EDU_BAR_STRIDE = 0x10_0000n;
const IOMMU_BAR = 0x6040_0000n;
/** The driver's tables and queues: 128 MiB inside RAM. */
export const DRIVER_WINDOW = { base: 0xd000_0000n, end: 0xd800_0000n } as const;
/** Where the edu's buffer bytes come from at boot: one page of a known pattern. */
const PATTERN_PAGE = 0xcfff_f000n;
/** The firmware the CPU idles in, loaded at the start of RAM; a device write there is undone. */
const FIRMWARE_BYTES = BigInt(FIRMWARE.riscv64.size);
/** The byte every DMA write carries (the edu buffer's byte 0, filled from the pattern page at boot). */
export const WRITE_BYTE = 0xa5;
/** Reads land at this buffer offset, so they never overwrite the byte writes carry. */
const READ_AT = 0x800;

const MACHINE: MachineOptions = {
  machine: 'virt',
  ramMiB: Number(RAM_BYTES >> 20n),
  iommu: ['-device', `riscv-iommu-pci,addr=${IOMMU_SLOT.toString(16).padStart(2, '0')}.0`],
};

/** Labels of the reads that classify an access (reproducer.ts turns them into assertions). */
export const ACCESS_LABELS = { faults: 'fqt', record: 'fault', reached: 'reached_byte' } as const;

export interface AccessResult {
  /** The fault records the unit wrote for this access. */
  faults: Fault[];
  /** Did the access reach `expectPhys`? (a write landed there, a read returned what it holds); absent where that cannot be seen. */
  reached?: boolean;
}

export class RiscvIommuSystem {
  private readonly markers = new ReadMarkers(WRITE_BYTE);

  private constructor(
    readonly qt: Qtest,
    readonly unit: RiscvIommuUnit,
    readonly mem: GuestPages,
    readonly edus: readonly Edu[],
    /** A driver page a verified read's byte is copied to. */
    private readonly scratch: bigint,
  ) {}

  static async start(q: QemuInstall, replyTimeoutMs = 10_000, recorder?: Transcript): Promise<RiscvIommuSystem> {
    const qt = await Qtest.start({ binary: q.binary, args: (sock) => qemuArgs(q, MACHINE, sock), env: q.env, replyTimeoutMs, recorder });
    try {
      const iommu = new PciFunction(qt, PCI_DEVFN(IOMMU_SLOT), 0, ECAM_BASE);
      const ids = await iommu.ids();
      if (ids.vendor !== IOMMU_IDS.vendor || ids.device !== IOMMU_IDS.device) throw new RiscvIommuError(`expected riscv-iommu-pci (1b36:0014) at ${iommu.name()}, found ${ids.vendor.toString(16)}:${ids.device.toString(16)}`);
      await iommu.setBar(0, IOMMU_BAR);
      await iommu.enable();
      const edus: Edu[] = [];
      for (const [i, slot] of EDU_SLOTS.entries()) {
        edus.push(await Edu.open(qt, new PciFunction(qt, PCI_DEVFN(slot), 0, ECAM_BASE), EDU_BAR_BASE + BigInt(i) * EDU_BAR_STRIDE));
      }
      // The unit comes out of reset Off, blocking all DMA (gotcha 1): Bare lets each edu read the pattern untranslated.
      await qt.cmd(`writeq 0x${(IOMMU_BAR + BigInt(REG.DDTP)).toString(16)} 0x${DDTP_MODE.BARE.toString(16)}`);
      await qt.cmd(`memset 0x${PATTERN_PAGE.toString(16)} 0x1000 0x${WRITE_BYTE.toString(16)}`);
      for (const e of edus) {
        await e.start(PATTERN_PAGE, 'r', 1, 0);
        await e.waitFinished();
      }
      const mem = new GuestPages(qt, DRIVER_WINDOW.base, DRIVER_WINDOW.end);
      const unit = await RiscvIommuUnit.open(qt, mem, IOMMU_BAR);
      return new RiscvIommuSystem(qt, unit, mem, edus, DRIVER_WINDOW.end - 0x1000n);
    } catch (e) {
      await qt.close();
      throw e;
    }
  }

  get alive(): boolean {
    return this.qt.alive;
  }

  /** The device_id the unit knows edu `index` by: its requester ID (bus 0). */
  deviceId(index: number): number {
    return this.edus[index]!.pci.requesterId;
  }

  /**
   * One byte accessed by edu `index` at `iova`, the fault records the unit wrote, and, where
   * `expectPhys` is plain RAM, whether the access reached it: a write's byte is checked there;
   * for a read, a fresh marker byte is put there first and the byte read is fetched back.
   */
  async access(index: number, iova: bigint, access: Access, expectPhys: bigint | null): Promise<AccessResult> {
    const edu = this.edus[index];
    if (!edu) throw new Error(`no edu device ${index}`);
    const check = expectPhys !== null && this.plainRam(expectPhys) ? expectPhys : null;
    const marker = access === 'w' ? WRITE_BYTE : this.markers.next();
    const seed = access === 'w' ? ~WRITE_BYTE & 0xff : marker;
    // One round trip: the check for stray records, the seed byte, the copy and its first poll (qtest runs them in order).
    const [stray] = await Promise.all([
      this.unit.takeFaults(),
      check !== null ? this.qt.cmd(`writeb 0x${check.toString(16)} 0x${seed.toString(16)}`) : null,
      edu.start(iova, access, 1, access === 'r' ? READ_AT : 0),
      edu.waitFinished(),
    ]);
    if (stray.length > 0) throw new RiscvIommuError(`fault records were pending before the access: ${stray.length}`);
    const reached = check !== null ? { name: ACCESS_LABELS.reached, facts: { phys: check, byte: BigInt(marker) } } : null;
    const [faults, written] = await Promise.all([
      this.unit.takeFaults({ name: ACCESS_LABELS.faults }, ACCESS_LABELS.record),
      access === 'w' && reached ? this.qt.cmd(`readb 0x${check!.toString(16)}`, reached) : null,
    ]);
    if (access === 'w' && expectPhys !== null && this.mem.owns(expectPhys)) await this.mem.restore(expectPhys);
    if (!reached) {
      await this.restoreFirmware(expectPhys);
      return { faults };
    }
    const byte = access === 'w' ? Number(written) : await this.readBack(index, reached);
    await this.restoreFirmware(check);
    return { faults, reached: byte === marker };
  }

  /**
   * The byte the last read put in edu `index`'s buffer: the device gets a Bare context for one
   * write of it into the scratch page, then its context back; both with IODIR.INVAL_DDT only.
   */
  private async readBack(index: number, label: Label): Promise<number> {
    const id = this.deviceId(index);
    const dc = this.unit.dc(id);
    if (!dc) throw new Error(`no device context known for 0x${id.toString(16)}`);
    await this.unit.setDcQuiesced(id, { kind: 'bare' });
    await Promise.all([this.edus[index]!.start(this.scratch, 'w', 1, READ_AT), this.edus[index]!.waitFinished()]);
    const [byte] = await Promise.all([this.qt.cmd(`readb 0x${this.scratch.toString(16)}`, label), this.unit.setDcQuiesced(id, dc)]);
    return Number(byte);
  }

  /** The CPU idles in a WFI loop at the start of RAM: a byte put there by the check or the device is undone. */
  private async restoreFirmware(phys: bigint | null): Promise<void> {
    if (phys === null || phys < RAM_BASE || phys >= RAM_BASE + FIRMWARE_BYTES) return;
    const head = FIRMWARE.riscv64.head;
    await this.qt.batch([`writeb 0x${phys.toString(16)} 0x0`, `write 0x${RAM_BASE.toString(16)} 0x${(head.length / 2).toString(16)} 0x${head}`]);
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
