// One running QEMU q35 with its VT-d unit and the edu DMA engines behind it, brought up the way
// firmware and Linux leave a machine: BARs placed, bus mastering on, the unit's root table
// programmed and translation enabled (unit.ts).
//
// Guest memory is laid out as for every q35 kit (common/q35-memory.ts).

import type { Access } from '../../../../spec/index.ts';
import { Edu } from '../common/edu.ts';
import { GuestPages } from '../common/guest-pages.ts';
import { EDU_BAR_BASE, EDU_BAR_STRIDE, EDU_SLOTS, type MachineOptions, PCI_DEVFN, type QemuInstall, qemuArgs } from '../common/machine.ts';
import { PciFunction } from '../common/pci.ts';
import { DRIVER_WINDOW, PATTERN_PAGE, RAM_BYTES, READ_AT, WRITE_BYTE, plainRam } from '../common/q35-memory.ts';
import { Qtest } from '../common/qtest.ts';
import type { Transcript } from '../common/transcript.ts';
import type { FaultRecord } from './regs.ts';
import { VtdUnit } from './unit.ts';


const MACHINE: MachineOptions = {
  ramMiB: Number(RAM_BYTES >> 20n),
  // aw-bits=48 on every version (7.2 defaults to 39): 4-level tables, one topology for all.
  // Interrupt remapping off: this driver does not program it, and it would not change DMA.
  iommu: ['-device', 'intel-iommu,aw-bits=48,intremap=off'],
};

/** Labels of the reads that classify an access (reproducer.ts turns them into assertions). */
export const ACCESS_LABELS = { fault: 'fault_hi', landed: 'landed_byte' } as const;

export interface AccessResult {
  fault: FaultRecord | null;
  /** For a write the driver expected at a physical address it could check: did the byte land there? */
  landed?: boolean;
}

export class VtdSystem {
  private constructor(
    readonly qt: Qtest,
    readonly unit: VtdUnit,
    readonly mem: GuestPages,
    readonly edus: readonly Edu[],
  ) {}

  static async start(q: QemuInstall, replyTimeoutMs = 10_000, recorder?: Transcript): Promise<VtdSystem> {
    const qt = await Qtest.start({ binary: q.binary, args: (sock) => qemuArgs(q, MACHINE, sock), env: q.env, replyTimeoutMs, recorder });
    try {
      const edus: Edu[] = [];
      for (const [i, slot] of EDU_SLOTS.entries()) {
        edus.push(await Edu.open(qt, new PciFunction(qt, PCI_DEVFN(slot)), EDU_BAR_BASE + BigInt(i) * EDU_BAR_STRIDE));
      }
      // Before translation is on, each edu reads the pattern into its buffer untranslated.
      await qt.cmd(`memset 0x${PATTERN_PAGE.toString(16)} 0x1000 0x${WRITE_BYTE.toString(16)}`);
      for (const e of edus) await e.transfer(PATTERN_PAGE, 'r', 0);
      const mem = new GuestPages(qt, DRIVER_WINDOW.base, DRIVER_WINDOW.end);
      const unit = await VtdUnit.open(qt, mem);
      return new VtdSystem(qt, unit, mem, edus);
    } catch (e) {
      await qt.close();
      throw e;
    }
  }

  get alive(): boolean {
    return this.qt.alive;
  }

  /**
   * One byte accessed by edu `index` at `iova`, and what the unit recorded. For a write the
   * driver expects at `expectPhys`, that byte is first set to the complement of what the edu
   * writes, so afterwards it shows whether the write reached it.
   */
  async access(index: number, iova: bigint, access: Access, expectPhys: bigint | null): Promise<AccessResult> {
    const edu = this.edus[index];
    if (!edu) throw new Error(`no edu device ${index}`);
    const check = access === 'w' && expectPhys !== null && plainRam(expectPhys, this.mem) ? expectPhys : null;
    const at = access === 'r' ? READ_AT : 0;
    // One round trip: nothing pending, the marker written, the copy started (qtest runs them in order).
    const [stray] = await Promise.all([
      this.unit.readFault(),
      check !== null ? this.qt.cmd(`writeb 0x${check.toString(16)} 0x${(~WRITE_BYTE & 0xff).toString(16)}`) : null,
      edu.start(iova, access, 1, at),
    ]);
    if (stray) throw new Error(`a fault was pending before the access: ${this.unit.describe(stray)}`);
    await edu.waitFinished();
    const [fault, byte] = await Promise.all([
      this.unit.readFault({ name: ACCESS_LABELS.fault }),
      check !== null ? this.qt.cmd(`readb 0x${check.toString(16)}`, { name: ACCESS_LABELS.landed, facts: { phys: check, byte: BigInt(WRITE_BYTE) } }) : null,
    ]);
    if (fault) {
      await this.unit.clearFaults();
      if (fault.sid !== edu.pci.requesterId || fault.page !== (iova & ~0xfffn)) throw new Error(`the unit recorded a fault this access did not cause: ${this.unit.describe(fault)}`);
    }
    if (access === 'w' && expectPhys !== null && this.mem.owns(expectPhys)) await this.mem.restore(expectPhys);
    return check === null ? { fault } : { fault, landed: Number(byte) === WRITE_BYTE };
  }


  close(): Promise<void> {
    return this.qt.close();
  }
}
