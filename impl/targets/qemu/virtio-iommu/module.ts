// The adapter module: `--adapter impl/targets/qemu/virtio-iommu/module.ts`. Each worker calls the
// factory and gets its own QEMU. Without the cached QEMU it is a configuration error, one line.

import { QemuVirtioIommuAdapter } from './adapter.ts';
import { requireQemu } from '../common/suite-choice.ts';

export default function createAdapter(opts: { requestTimeoutMs?: number } = {}): QemuVirtioIommuAdapter {
  return new QemuVirtioIommuAdapter({ install: requireQemu('qemu-virtio-iommu', 'x86_64'), replyTimeoutMs: opts.requestTimeoutMs });
}
