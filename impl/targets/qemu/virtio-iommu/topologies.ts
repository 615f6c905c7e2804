// The systems this target can be: one virtio-iommu, one to three edu devices (each at its own
// PCI address, so each is its own endpoint and its own group), and what unattached endpoints
// get. That last is the device's one `bypass` config field, so it is the same for every
// endpoint: all identity (bypass = 1) or all blocked (bypass = 0).

import { GiB, KiB, MiB, type Topology } from '../../../../spec/index.ts';
import { EDU_SLOTS } from '../common/machine.ts';

/**
 * Page sizes. The device's page_size_mask is 0xfffffffffffff000: 4 KiB granularity, every
 * larger power of two a hint. These three are in it, and give the generator x86's mix of
 * small and large mappings to draw.
 */
export const PGSIZES = 4n * KiB | 2n * MiB | GiB;

/** Domain IDs the suite can have live at once; the device's domain_range must hold them. */
export const CONTEXTS = 64;

export type DefaultKind = 'identity' | 'blocked';

/**
 * `ias` is the device's input range: all 64 bits in QEMU 7.2, 39 on q35 since QEMU 9.0 (its
 * aw-bits property, set for the machine type); MAP takes any 64-bit phys_start either way.
 */
export function topology(devices: number, defaultDomain: DefaultKind, ias = 64): Topology {
  const idx = Array.from({ length: devices }, (_, i) => i);
  return {
    iommus: [{ name: 'iommu0', format: 'virtio', pgsizes: PGSIZES, ias, oas: 64, contexts: CONTEXTS, pasidBits: 0, domainTypes: ['paging', 'identity'] }],
    groups: idx.map((i) => ({ name: `g${i}`, iommu: 'iommu0', defaultDomain })),
    devices: idx.map((i) => ({ name: `dev${i}`, group: `g${i}`, maxPasids: 0 })),
  };
}

/** Simplest first: shrinking moves toward the front of the list. */
export function topologiesFor(ias: number): Topology[] {
  return [1, 2, 3].flatMap((n) => [topology(n, 'identity', ias), topology(n, 'blocked', ias)]);
}

export const TOPOLOGIES: readonly Topology[] = topologiesFor(64);

/** What a topology asks of a machine whose device translates `ias` bits, or why it cannot be had. */
export function machineFor(t: Topology, ias = 64): { bypass: boolean; devices: string[] } | string {
  if (t.iommus.length !== 1) return 'one virtio-iommu only';
  if (t.devices.length < 1 || t.devices.length > EDU_SLOTS.length) return `1 to ${EDU_SLOTS.length} devices`;
  const defaults = new Set(t.groups.map((g) => g.defaultDomain));
  if (defaults.size !== 1) return 'every endpoint has the same default (the bypass field is device-wide)';
  const [d] = [...defaults];
  if (d !== 'identity' && d !== 'blocked') return `default domain '${d}' (only identity or blocked)`;
  if (t.groups.length !== t.devices.length || new Set(t.devices.map((x) => x.group)).size !== t.devices.length) return 'one device per group';
  const known = topology(t.devices.length, d, ias);
  if (JSON.stringify(t.iommus, bigintJson) !== JSON.stringify(known.iommus, bigintJson)) return 'the IOMMU as declared in hello';
  return { bypass: d === 'identity', devices: t.devices.map((x) => x.name) };
}

function bigintJson(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `0x${v.toString(16)}` : v;
}
