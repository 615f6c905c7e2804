// One running QEMU q35 with its AMD IOMMU and the edu DMA engines behind it, brought up the way
// firmware and Linux leave a machine: BARs placed, bus mastering on, the unit's device table,
// command buffer and event log programmed and the unit enabled (unit.ts).
//
// Guest memory is laid out as for every q35 kit (common/q35-memory.ts). QEMU 10.2 and later
// translate nothing unless the unit is created with dma-remap=on (docs/notes/qemu-amd-iommu.md
// gotcha 4); the property exists only there, so it is given when the version lists it.
//
// A device read is verified too: the edu reads into its buffer, and the driver then gives the
// device a translation-disabled entry (Mode 0, the identity domain's) for one write of that
// byte into a scratch page, then its entry back, each with INVALIDATE_DEVTAB_ENTRY, which does
// not touch cached translations (§2.4.2; QEMU's IOTLB survives it, notes §7).

import type { Access } from '../../../../spec/index.ts';
import { Edu } from '../common/edu.ts';
import { GuestPages } from '../common/guest-pages.ts';
import { EDU_BAR_BASE, EDU_BAR_STRIDE, EDU_SLOTS, type MachineOptions, PCI_DEVFN, type QemuInstall, qemuArgs, qemuDeviceProperties } from '../common/machine.ts';
import { PciFunction } from '../common/pci.ts';
import { DRIVER_WINDOW, PATTERN_PAGE, RAM_BYTES, READ_AT, WRITE_BYTE, plainRam } from '../common/q35-memory.ts';
import { ReadMarkers } from '../common/read-markers.ts';
import { Qtest } from '../common/qtest.ts';
import type { Label, Transcript } from '../common/transcript.ts';
import { type Event, invalidateDevtabEntry } from './regs.ts';
import { AmdViError, AmdViUnit } from './unit.ts';

/** The DomainID of the translation-disabled entry a read-back uses (Linux never allocates 0xffff). */
const READBACK_DOMAIN = 0xffff;

/** Labels of the reads that classify an access (reproducer.ts turns them into assertions). */
export const ACCESS_LABELS = { events: 'evtlog_tail', record: 'event', reached: 'reached_byte' } as const;

export interface AccessResult {
  /** What the unit logged for this access. */
  events: Event[];
  /** Did the access reach `expectPhys`? (a write landed there, a read returned what it holds); absent where that cannot be seen. */
  reached?: boolean;
}

export class AmdSystem {
  private readonly markers = new ReadMarkers(WRITE_BYTE);

  private constructor(
    readonly qt: Qtest,
    readonly unit: AmdViUnit,
    readonly mem: GuestPages,
    readonly edus: readonly Edu[],
    /** A driver page a verified read's byte is copied to. */
    private readonly scratch: bigint,
    /** The unit was created with dma-remap=on (QEMU 10.2 and later). */
    readonly dmaRemap: boolean,
  ) {}

  static async start(q: QemuInstall, replyTimeoutMs = 10_000, recorder?: Transcript): Promise<AmdSystem> {
    const props = qemuDeviceProperties(q, 'amd-iommu');
    if (typeof props === 'string') throw new AmdViError(props);
    const dmaRemap = props.has('dma-remap');
    const machine: MachineOptions = { ramMiB: Number(RAM_BYTES >> 20n), iommu: ['-device', `amd-iommu${dmaRemap ? ',dma-remap=on' : ''}`] };
    const qt = await Qtest.start({ binary: q.binary, args: (sock) => qemuArgs(q, machine, sock), env: q.env, replyTimeoutMs, recorder });
    try {
      const edus: Edu[] = [];
      for (const [i, slot] of EDU_SLOTS.entries()) {
        edus.push(await Edu.open(qt, new PciFunction(qt, PCI_DEVFN(slot)), EDU_BAR_BASE + BigInt(i) * EDU_BAR_STRIDE));
      }
      // Before the unit is on, each edu reads the pattern into its buffer untranslated.
      await qt.cmd(`memset 0x${PATTERN_PAGE.toString(16)} 0x1000 0x${WRITE_BYTE.toString(16)}`);
      for (const e of edus) await e.transfer(PATTERN_PAGE, 'r', 0);
      const mem = new GuestPages(qt, DRIVER_WINDOW.base, DRIVER_WINDOW.end);
      const unit = await AmdViUnit.open(qt, mem);
      return new AmdSystem(qt, unit, mem, edus, DRIVER_WINDOW.end - 0x1000n, dmaRemap);
    } catch (e) {
      await qt.close();
      throw e;
    }
  }

  get alive(): boolean {
    return this.qt.alive;
  }

  devid(index: number): number {
    return this.edus[index]!.pci.requesterId;
  }

  /**
   * One byte accessed by edu `index` at `iova`, the events the unit logged, and, where
   * `expectPhys` is plain RAM, whether the access reached it: a write's byte is checked there;
   * for a read, a fresh marker byte is put there first and the byte read is fetched back.
   */
  async access(index: number, iova: bigint, access: Access, expectPhys: bigint | null): Promise<AccessResult> {
    const edu = this.edus[index];
    if (!edu) throw new Error(`no edu device ${index}`);
    const check = expectPhys !== null && plainRam(expectPhys, this.mem) ? expectPhys : null;
    const marker = access === 'w' ? WRITE_BYTE : this.markers.next();
    const seed = access === 'w' ? ~WRITE_BYTE & 0xff : marker;
    const [stray] = await Promise.all([
      this.unit.takeEvents(),
      check !== null ? this.qt.cmd(`writeb 0x${check.toString(16)} 0x${seed.toString(16)}`) : null,
    ]);
    if (stray.length > 0) throw new AmdViError(`events were pending before the access: ${stray.length}`);
    await edu.start(iova, access, 1, access === 'r' ? READ_AT : 0);
    await edu.waitFinished();
    const events = await this.unit.takeEvents({ name: ACCESS_LABELS.events }, ACCESS_LABELS.record);
    if (access === 'w' && expectPhys !== null && this.mem.owns(expectPhys)) await this.mem.restore(expectPhys);
    if (check === null) return { events };
    const reached = { name: ACCESS_LABELS.reached, facts: { phys: check, byte: BigInt(marker) } };
    const byte = access === 'w' ? Number(await this.qt.cmd(`readb 0x${check.toString(16)}`, reached)) : await this.readBack(index, reached);
    return { events, reached: byte === marker };
  }

  /**
   * The byte the last read put in edu `index`'s buffer: the device gets a translation-disabled
   * entry for one write of it into the scratch page, then its entry back; both changes are
   * followed by INVALIDATE_DEVTAB_ENTRY only, so cached translations stay as they were.
   */
  private async readBack(index: number, label: Label): Promise<number> {
    const devid = this.devid(index);
    const dte = this.unit.dte(devid);
    if (!dte) throw new Error(`no device table entry known for 0x${devid.toString(16)}`);
    const devtabOnly = { cmds: [invalidateDevtabEntry(devid)], labels: [`INVALIDATE_DEVTAB_ENTRY device=0x${devid.toString(16)}`] };
    await this.unit.setDte(devid, { kind: 'passthrough', domainId: READBACK_DOMAIN }, devtabOnly);
    await this.edus[index]!.start(this.scratch, 'w', 1, READ_AT);
    await this.edus[index]!.waitFinished();
    const byte = Number(await this.qt.cmd(`readb 0x${this.scratch.toString(16)}`, label));
    await this.unit.setDte(devid, dte, devtabOnly);
    return byte;
  }



  close(): Promise<void> {
    return this.qt.close();
  }
}
