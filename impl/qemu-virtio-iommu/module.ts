// The adapter module: `--adapter impl/qemu-virtio-iommu/module.ts`. Each worker calls the
// factory and gets its own QEMU. Without the cached QEMU it is a configuration error, one line.

import { ConfigError } from '../../spec/index.ts';
import { QemuVirtioIommuAdapter } from './adapter.ts';
import { findQemu } from './machine.ts';

export default function createAdapter(opts: { requestTimeoutMs?: number } = {}): QemuVirtioIommuAdapter {
  const install = findQemu();
  if (typeof install === 'string') throw new ConfigError(`qemu-virtio-iommu: ${install}`);
  return new QemuVirtioIommuAdapter({ install, replyTimeoutMs: opts.requestTimeoutMs });
}
