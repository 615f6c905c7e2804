// Which Debian suite's QEMU a QEMU target module runs on: the environment variable
// IOMMU_CONFORMANCE_QEMU_SUITE (bookworm, trixie or sid; bookworm when unset), so one module
// path serves every version of the matrix and the suite's adapter process inherits the choice.

import { ConfigError } from '../../../../spec/index.ts';
import { type DebianSuite, type QemuArch, type QemuInstall, SUITES, findQemu, qemuHasDevice } from './machine.ts';

export const SUITE_ENV = 'IOMMU_CONFORMANCE_QEMU_SUITE';

export function chosenSuite(): DebianSuite {
  const v = process.env[SUITE_ENV] ?? 'bookworm';
  if (!(SUITES as readonly string[]).includes(v)) throw new ConfigError(`${SUITE_ENV}=${v}: expected one of ${SUITES.join(', ')}`);
  return v as DebianSuite;
}

/**
 * The chosen suite's QEMU, or a configuration error naming the target and how to fetch it; with
 * `device`, also when that release has no such device (riscv-iommu-pci before 9.2).
 */
export function requireQemu(target: string, arch: QemuArch, device?: string): QemuInstall {
  const install = findQemu(chosenSuite(), arch);
  if (typeof install === 'string') throw new ConfigError(`${target}: ${install}`);
  const has = device === undefined || qemuHasDevice(install, device);
  if (has !== true) throw new ConfigError(`${target}: ${has === false ? deviceAbsent(install, device!) : has}`);
  return install;
}

/** The sentence a version without the target's device is reported with. */
export function deviceAbsent(q: QemuInstall, device: string): string {
  return `Debian ${q.suite}'s QEMU ${q.version.split(' ')[0]} has no ${device} device`;
}
