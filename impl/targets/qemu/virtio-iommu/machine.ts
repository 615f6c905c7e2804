// The virtio-iommu machine: the IOMMU as a PCI function ahead of the edu devices, and the
// fixed layout of guest-physical memory the adapter works in. What every QEMU target shares
// (where Debian's QEMU lives, the rest of the command line) is in ../common/machine.ts.

import { type MachineOptions, type QemuInstall, qemuArgs } from '../common/machine.ts';

/** PCI slot (bus 0) of the virtio-iommu; it comes first so every edu behind it is translated. */
export const IOMMU_SLOT = 2;

/** Guest RAM: 512 MiB at 0. */
export const RAM_SIZE = 0x2000_0000n;

/**
 * The adapter's own memory (virtqueues, request and event buffers): the last MiB of RAM. Where
 * the suite's DMA writes can land (properties/steps.ts): at the physical start of a mapping it
 * drew (0, an IOVA below a few tens of MiB, 0x40000000 + 4 KiB steps, the 0x80000000 window,
 * above 4 GiB) or, through bypass, at a page below 256 MiB. Reaching 511 MiB would take more
 * adjacent small mappings than a sequence has steps.
 */
export const ADAPTER_RAM = 0x1ff0_0000n;

export const IOMMU_BAR = 0xe100_0000n;

const MACHINE: MachineOptions = {
  ramMiB: Number(RAM_SIZE >> 20n),
  iommu: ['-device', `virtio-iommu-pci,addr=${IOMMU_SLOT.toString(16).padStart(2, '0')}.0`],
};

export function virtioArgs(q: QemuInstall, qtestSocket: string): string[] {
  return qemuArgs(q, MACHINE, qtestSocket);
}
