// The adapter module: `--adapter impl/targets/qemu/riscv-iommu/module.ts`, on the
// qemu-system-riscv64 of the Debian suite IOMMU_CONFORMANCE_QEMU_SUITE names (bookworm when
// unset; its QEMU 7.2 has no riscv-iommu-pci, which is a configuration error in one line, as is
// a missing QEMU). Each worker calls the factory and gets its own QEMU.
// `--policy kit_fault=skip-unmap-invalidation` breaks the kit on purpose (no invalidation after
// an unmap), to show that the suite catches a driver that forgets one.

import { ConfigError } from '../../../../spec/index.ts';
import { requireQemu } from '../common/suite-choice.ts';
import { QemuRiscvIommuAdapter } from './adapter.ts';

export const KIT_FAULTS = ['skip-unmap-invalidation'] as const;

export default function createAdapter(opts: { requestTimeoutMs?: number; policies?: Record<string, string> } = {}): QemuRiscvIommuAdapter {
  const fault = opts.policies?.kit_fault;
  if (fault !== undefined && !(KIT_FAULTS as readonly string[]).includes(fault)) throw new ConfigError(`qemu-riscv-iommu: kit_fault=${fault}: known faults are ${KIT_FAULTS.join(', ')}`);
  return new QemuRiscvIommuAdapter({ install: requireQemu('qemu-riscv-iommu', 'riscv64', 'riscv-iommu-pci'), replyTimeoutMs: opts.requestTimeoutMs, skipUnmapInvalidation: fault !== undefined });
}
