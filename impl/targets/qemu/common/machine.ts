// Debian's QEMU releases as the targets run them, and what every QEMU target's machine has in
// common. scripts/fetch-qemu-suite.sh puts one Debian suite's emulators in .cache/qemu/<suite>/
// (its own libraries and loader, so trixie's and sid's QEMU run on a bookworm host) with a
// manifest of what was resolved; this module finds them and builds the shared part of the
// command line.
//
// Nothing runs in the guest: the firmware is 64 KiB that only halts (x86: HLT; Arm: a WFI loop;
// RISC-V: the same), so the test drives every device over qtest. `-icount sleep=off` lets virtual time jump to the next timer while the CPU idles, so
// the edu device's DMA timer (100 ms of virtual time) fires at once; `pit=off` removes the one
// periodic timer that would otherwise make an idle QEMU spin a host core forever.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CACHE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../.cache/qemu');

/** The Debian suites whose QEMU the targets run on, oldest first, and the release each carries. */
export const SUITES = ['bookworm', 'trixie', 'sid'] as const;
export type DebianSuite = (typeof SUITES)[number];
export type QemuArch = 'x86_64' | 'aarch64' | 'riscv64';

export interface QemuInstall {
  suite: DebianSuite;
  arch: QemuArch;
  /** The wrapper that runs the suite's emulator with its own loader. */
  binary: string;
  bios: string;
  env: Record<string, string>;
  /** `7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)`, as --version printed it at fetch time. */
  version: string;
  /** The Debian package version, e.g. `1:10.0.13+ds-0+deb13u1`. */
  packageVersion: string;
}

export interface FirmwareImage {
  name: string;
  size: number;
  /** The first bytes, in hex (little-endian instructions), then `fill` to the end. */
  head: string;
  fill: number;
}

/**
 * The halting firmware of each architecture, as scripts/fetch-qemu-suite.sh writes it (a test
 * compares the two): x86 HLT everywhere; Arm and RISC-V a loop on WFI at the reset address.
 */
export const FIRMWARE: Readonly<Record<QemuArch, FirmwareImage>> = {
  x86_64: { name: 'hlt.bin', size: 0x10000, head: '', fill: 0xf4 },
  aarch64: { name: 'wfi-aarch64.bin', size: 0x10000, head: '7f2003d5ffffff17', fill: 0 },
  riscv64: { name: 'wfi-riscv64.bin', size: 0x10000, head: '730050106ff0dfff', fill: 0 },
};

interface Manifest {
  arches?: Partial<Record<QemuArch, { version?: string; package_version?: string; wrapper?: string }>>;
}

/** The cached QEMU of a suite, or a sentence saying why there is none. */
export function findQemu(suite: DebianSuite, arch: QemuArch = 'x86_64', cache = CACHE_DIR): QemuInstall | string {
  const dir = join(cache, suite);
  const fetch = `run scripts/fetch-qemu-suite.sh ${suite} ${arch}`;
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return `QEMU of Debian ${suite} is not in ${dir} (${fetch})`;
  }
  const entry = manifest.arches?.[arch];
  const binary = join(dir, entry?.wrapper ?? `bin/qemu-system-${arch}`);
  const bios = join(dir, FIRMWARE[arch].name);
  if (!entry?.version || !existsSync(binary) || !existsSync(bios)) return `Debian ${suite}'s qemu-system-${arch} is not in ${dir} (${fetch})`;
  return {
    suite, arch, binary, bios, env: {},
    version: entry.version.replace(/^QEMU emulator version /, ''),
    packageVersion: entry.package_version ?? 'unknown',
  };
}

/**
 * Whether a suite's emulator has a `-device` of this name, from the list the fetch script saved
 * (device-help/<arch>-devices.txt, `-device help`), or why that cannot be told.
 */
export function qemuHasDevice(q: Pick<QemuInstall, 'suite' | 'arch'>, device: string, cache = CACHE_DIR): boolean | string {
  const list = join(cache, q.suite, 'device-help', `${q.arch}-devices.txt`);
  let text: string;
  try {
    text = readFileSync(list, 'utf8');
  } catch {
    return `${list} is missing (run scripts/fetch-qemu-suite.sh ${q.suite} ${q.arch})`;
  }
  return text.split('\n').some((line) => line.startsWith(`name "${device}"`));
}

/**
 * The properties a suite's emulator lists for a device (`-device <name>,help`, saved by the
 * fetch script as device-help/<arch>-<name>.txt), or why they cannot be read.
 */
export function qemuDeviceProperties(q: Pick<QemuInstall, 'suite' | 'arch'>, device: string, cache = CACHE_DIR): Set<string> | string {
  const file = join(cache, q.suite, 'device-help', `${q.arch}-${device}.txt`);
  try {
    return new Set([...readFileSync(file, 'utf8').matchAll(/^ {2}([\w-]+)=/gm)].map((m) => m[1]!));
  } catch {
    return `${file} is missing (run scripts/fetch-qemu-suite.sh ${q.suite} ${q.arch})`;
  }
}

/** `7.2.22 (Debian …)` → `7.2`: the release a (target, version) pair is named by. */
export function qemuRelease(q: QemuInstall): string {
  return /^(\d+\.\d+)/.exec(q.version)?.[1] ?? q.version;
}

/** PCI slots (bus 0) of the edu DMA engines; an IOMMU on the PCI bus takes slot 2. */
export const EDU_SLOTS = [3, 4, 5] as const;
export const PCI_DEVFN = (slot: number): number => slot << 3;

/**
 * Registers: well clear of the physical addresses the generator draws in the 32-bit space
 * (below about 0xc0800000, or 0xfffff000 and up), so no DMA of the suite's can reach one.
 */
export const EDU_BAR_BASE = 0xe000_0000n;
export const EDU_BAR_STRIDE = 0x10_0000n;

export interface MachineOptions {
  /** `-machine` value; q35 by default. */
  machine?: string;
  /** `-cpu` value; QEMU's default for the machine when absent. */
  cpu?: string;
  ramMiB: number;
  /** The IOMMU's own options (`-device intel-iommu,...`), which must come before any PCI device. */
  iommu: string[];
}

/** The command line of a machine with an IOMMU and edu devices behind it, driven over qtest. */
export function qemuArgs(q: QemuInstall, m: MachineOptions, qtestSocket: string): string[] {
  return [
    '-machine', m.machine ?? 'q35,pit=off',
    ...(m.cpu ? ['-cpu', m.cpu] : []),
    '-m', `${m.ramMiB}M`,
    '-bios', q.bios,
    '-icount', 'shift=0,sleep=off',
    '-display', 'none',
    '-nodefaults',
    ...m.iommu,
    // dma_mask: edu clamps DMA addresses to 28 bits by default; IOVAs here use all 64.
    ...EDU_SLOTS.flatMap((s) => ['-device', `edu,addr=${hex2(s)}.0,dma_mask=0xffffffffffffffff`]),
    '-qtest', `unix:${qtestSocket}`,
    '-qtest-log', '/dev/null',
  ];
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
