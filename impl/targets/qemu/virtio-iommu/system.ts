// One running QEMU with its devices brought up: the virtio-iommu at 00:02.0 and the edu DMA
// engines behind it. A device access is an edu copy followed by a look at the IOMMU's event
// queue: a fault record for that endpoint means the access was blocked.

import type { Access } from '../../../../spec/index.ts';
import { VirtioIommu } from './device.ts';
import { Edu } from '../common/edu.ts';
import { EDU_BAR_BASE, EDU_BAR_STRIDE, EDU_SLOTS, PCI_DEVFN, type QemuInstall } from '../common/machine.ts';
import { IOMMU_SLOT, virtioArgs } from './machine.ts';
import { PciFunction } from '../common/pci.ts';
import { Qtest } from '../common/qtest.ts';
import type { Transcript } from '../common/transcript.ts';
import { type FaultRecord, describeFault } from './requests.ts';

export interface AccessResult {
  /** The fault the IOMMU reported for this access, or null if it went through. */
  fault: FaultRecord | null;
}

export class QemuSystem {
  private constructor(
    readonly qt: Qtest,
    readonly iommu: VirtioIommu,
    readonly edus: readonly Edu[],
  ) {}

  static async start(q: QemuInstall, replyTimeoutMs = 10_000, recorder?: Transcript): Promise<QemuSystem> {
    const qt = await Qtest.start({ binary: q.binary, args: (sock) => virtioArgs(q, sock), env: q.env, replyTimeoutMs, recorder });
    try {
      const iommu = await VirtioIommu.open(qt, new PciFunction(qt, PCI_DEVFN(IOMMU_SLOT)));
      const edus: Edu[] = [];
      for (const [i, slot] of EDU_SLOTS.entries()) {
        edus.push(await Edu.open(qt, new PciFunction(qt, PCI_DEVFN(slot)), EDU_BAR_BASE + BigInt(i) * EDU_BAR_STRIDE));
      }
      return new QemuSystem(qt, iommu, edus);
    } catch (e) {
      await qt.close();
      throw e;
    }
  }

  get alive(): boolean {
    return this.qt.alive;
  }

  /** One byte accessed by edu `index` at `iova`, and what the IOMMU said about it. */
  async access(index: number, iova: bigint, access: Access): Promise<AccessResult> {
    const edu = this.edus[index];
    if (!edu) throw new Error(`no edu device ${index}`);
    await edu.start(iova, access);
    await edu.waitFinished();
    // Read after the copy finished: a fault pending now is its fault.
    if (!(await this.iommu.faultPending())) return { fault: null };
    const faults = await this.iommu.takeFaults();
    const endpoint = edu.pci.requesterId;
    const stray = faults.filter((f) => f.endpoint !== endpoint || f.address !== iova);
    if (stray.length > 0) throw new Error(`the virtio-iommu reported a fault this access did not cause: ${stray.map(describeFault).join('; ')}`);
    return { fault: faults[0] ?? null };
  }

  close(): Promise<void> {
    return this.qt.close();
  }
}
