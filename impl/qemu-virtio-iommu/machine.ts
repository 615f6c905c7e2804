// The guest machine: where Debian's QEMU lives in the cache, the command line, and the fixed
// layout of guest-physical memory the adapter works in.
//
// Nothing runs in the guest: the BIOS is 64 KiB of HLT, so the test drives every device over
// qtest. `-icount sleep=off` lets virtual time jump to the next timer while the CPU idles, so
// the edu device's DMA timer (100 ms of virtual time) fires at once; `pit=off` removes the one
// periodic timer that would otherwise make an idle QEMU spin a host core forever.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CACHE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../.cache/qemu');

export interface QemuInstall {
  binary: string;
  dataDir: string;
  bios: string;
  env: Record<string, string>;
}

/** The cached QEMU, or a sentence saying why there is none. */
export function findQemu(cache = CACHE_DIR): QemuInstall | string {
  const root = join(cache, 'root');
  const binary = join(root, 'usr/bin/qemu-system-x86_64');
  const bios = join(cache, 'hlt.bin');
  if (!existsSync(binary) || !existsSync(bios)) return `QEMU is not in ${cache} (run scripts/fetch-qemu.sh)`;
  const libs = [join(root, 'usr/lib/x86_64-linux-gnu'), join(root, 'lib/x86_64-linux-gnu')];
  const inherited = process.env.LD_LIBRARY_PATH ? [process.env.LD_LIBRARY_PATH] : [];
  return {
    binary,
    dataDir: join(root, 'usr/share/qemu'),
    bios,
    env: {
      LD_LIBRARY_PATH: [...libs, ...inherited].join(':'),
      // The TCG accelerator is a loadable module in Debian's build.
      QEMU_MODULE_DIR: join(root, 'usr/lib/x86_64-linux-gnu/qemu'),
    },
  };
}

let version: string | null = null;

/** `QEMU emulator version 7.2.22 (Debian …)` → `7.2.22 (Debian …)`. */
export function qemuVersion(q: QemuInstall): string {
  version ??= execFileSync(q.binary, ['--version'], { env: { ...process.env, ...q.env }, encoding: 'utf8', timeout: 10_000 })
    .split('\n')[0]!.replace(/^QEMU emulator version /, '');
  return version;
}

/** PCI slots (bus 0). The virtio-iommu comes first so every edu behind it is translated. */
export const IOMMU_SLOT = 2;
export const EDU_SLOTS = [3, 4, 5] as const;
export const PCI_DEVFN = (slot: number): number => slot << 3;

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

/**
 * Registers: well clear of the physical addresses the generator draws in the 32-bit space
 * (below about 0xc0800000, or 0xfffff000 and up), so no DMA of the suite's can reach one.
 */
export const EDU_BAR_BASE = 0xe000_0000n;
export const EDU_BAR_STRIDE = 0x10_0000n;
export const IOMMU_BAR = 0xe100_0000n;

export function qemuArgs(q: QemuInstall, qtestSocket: string): string[] {
  return [
    '-L', q.dataDir,
    '-machine', 'q35,pit=off',
    '-m', `${RAM_SIZE >> 20n}M`,
    '-bios', q.bios,
    '-icount', 'shift=0,sleep=off',
    '-display', 'none',
    '-nodefaults',
    '-device', `virtio-iommu-pci,addr=${hex2(IOMMU_SLOT)}.0`,
    // dma_mask: edu clamps DMA addresses to 28 bits by default; IOVAs here use all 64.
    ...EDU_SLOTS.flatMap((s) => ['-device', `edu,addr=${hex2(s)}.0,dma_mask=0xffffffffffffffff`]),
    '-qtest', `unix:${qtestSocket}`,
    '-qtest-log', '/dev/null',
  ];
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
