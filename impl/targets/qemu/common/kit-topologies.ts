// The systems a guest-driver kit target can be: one IOMMU, one to three edu devices each in a
// group of its own, and what a device gets while nothing is attached (identity or blocked), as
// Linux's default domains. A target names its IOMMU; the list and the check are shared.

import type { IommuSpec, Topology } from '../../../../spec/index.ts';
import { EDU_SLOTS } from './machine.ts';

export type DefaultKind = 'identity' | 'blocked';

export function eduTopology(iommu: Omit<IommuSpec, 'name'>, devices: number, defaultDomain: DefaultKind): Topology {
  const idx = Array.from({ length: devices }, (_, i) => i);
  return {
    iommus: [{ name: 'iommu0', ...iommu }],
    groups: idx.map((i) => ({ name: `g${i}`, iommu: 'iommu0', defaultDomain })),
    devices: idx.map((i) => ({ name: `dev${i}`, group: `g${i}`, maxPasids: 0 })),
  };
}

/** Simplest first: shrinking moves toward the front of the list. */
export function eduTopologies(iommu: Omit<IommuSpec, 'name'>): Topology[] {
  return [1, 2, 3].flatMap((n) => [eduTopology(iommu, n, 'identity'), eduTopology(iommu, n, 'blocked')]);
}

/** The device names of a topology the target can be reset to, or why it cannot. */
export function eduMachineFor(known: readonly Topology[], t: Topology): { devices: string[] } | string {
  if (!known.some((k) => JSON.stringify(k, hexJson) === JSON.stringify(t, hexJson))) {
    return `only the ${known.length} topologies declared in hello (1 to ${EDU_SLOTS.length} devices, identity or blocked by default)`;
  }
  return { devices: t.devices.map((d) => d.name) };
}

function hexJson(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `0x${v.toString(16)}` : v;
}
