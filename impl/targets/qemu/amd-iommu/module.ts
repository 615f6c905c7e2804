// The adapter module: `--adapter impl/targets/qemu/amd-iommu/module.ts`, on the qemu-system-x86_64
// of the Debian suite IOMMU_CONFORMANCE_QEMU_SUITE names (bookworm when unset). Each worker calls
// the factory and gets its own QEMU. Without the cached QEMU it is a configuration error, one
// line. `--policy kit_fault=skip-unmap-invalidation` breaks the kit on purpose (no invalidation
// after an unmap), to show that the suite catches a driver that forgets one.

import { ConfigError } from '../../../../spec/index.ts';
import { requireQemu } from '../common/suite-choice.ts';
import { QemuAmdIommuAdapter } from './adapter.ts';

export const KIT_FAULTS = ['skip-unmap-invalidation'] as const;

export default function createAdapter(opts: { requestTimeoutMs?: number; policies?: Record<string, string> } = {}): QemuAmdIommuAdapter {
  const fault = opts.policies?.kit_fault;
  if (fault !== undefined && !(KIT_FAULTS as readonly string[]).includes(fault)) throw new ConfigError(`qemu-amd-iommu: kit_fault=${fault}: known faults are ${KIT_FAULTS.join(', ')}`);
  return new QemuAmdIommuAdapter({ install: requireQemu('qemu-amd-iommu', 'x86_64', 'amd-iommu'), replyTimeoutMs: opts.requestTimeoutMs, skipUnmapInvalidation: fault !== undefined });
}
