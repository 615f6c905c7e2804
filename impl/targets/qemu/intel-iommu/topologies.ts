// The systems this target can be: one VT-d unit (48-bit second-level tables: QEMU is started
// with aw-bits=48, which 7.2, 10.0 and 11.x all accept), one to three edu devices each in a
// group of its own, and what a device gets while nothing is attached: a pass-through context
// (identity) or no context entry at all (blocked), as Linux's identity and blocking domains do
// in legacy mode.

import { GiB, KiB, MiB, type Topology } from '../../../../spec/index.ts';
import { EDU_SLOTS } from '../common/machine.ts';

/** Second-level leaf sizes the unit advertises (CAP.SLLPS: 2 MiB and 1 GiB) and 4 KiB pages. */
export const PGSIZES = 4n * KiB | 2n * MiB | GiB;
/** Input and output address width (CAP.MGAW, and the host address width) with aw-bits=48. */
export const ADDRESS_BITS = 48;
/** Domains live at once; the unit has 2^16 domain IDs (CAP.ND = 6). */
export const CONTEXTS = 64;

export type DefaultKind = 'identity' | 'blocked';

export function topology(devices: number, defaultDomain: DefaultKind): Topology {
  const idx = Array.from({ length: devices }, (_, i) => i);
  return {
    iommus: [{ name: 'iommu0', format: 'vtd-sl', pgsizes: PGSIZES, ias: ADDRESS_BITS, oas: ADDRESS_BITS, contexts: CONTEXTS, pasidBits: 0, domainTypes: ['paging', 'identity', 'blocked'] }],
    groups: idx.map((i) => ({ name: `g${i}`, iommu: 'iommu0', defaultDomain })),
    devices: idx.map((i) => ({ name: `dev${i}`, group: `g${i}`, maxPasids: 0 })),
  };
}

/** Simplest first: shrinking moves toward the front of the list. */
export const TOPOLOGIES: readonly Topology[] = [1, 2, 3].flatMap((n) => [topology(n, 'identity'), topology(n, 'blocked')]);

/** The device names of a topology this target can be reset to, or why it cannot. */
export function machineFor(t: Topology): { devices: string[] } | string {
  const known = TOPOLOGIES.find((k) => JSON.stringify(k, hexJson) === JSON.stringify(t, hexJson));
  if (!known) return `only the ${TOPOLOGIES.length} topologies declared in hello (1 to ${EDU_SLOTS.length} devices, identity or blocked by default)`;
  return { devices: t.devices.map((d) => d.name) };
}

function hexJson(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `0x${v.toString(16)}` : v;
}
