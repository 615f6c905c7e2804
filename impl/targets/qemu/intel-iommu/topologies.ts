// The systems this target can be (common/kit-topologies.ts): one VT-d unit (48-bit second-level
// tables: QEMU is started with aw-bits=48, which 7.2, 10.0 and 11.x all accept); a device with
// nothing attached gets a pass-through context (identity) or no context entry at all (blocked),
// as Linux's identity and blocking domains do in legacy mode.

import { GiB, KiB, MiB, type Topology } from '../../../../spec/index.ts';
import { eduMachineFor, eduTopologies } from '../common/kit-topologies.ts';

/** Second-level leaf sizes the unit advertises (CAP.SLLPS: 2 MiB and 1 GiB) and 4 KiB pages. */
export const PGSIZES = 4n * KiB | 2n * MiB | GiB;
/** Input and output address width (CAP.MGAW, and the host address width) with aw-bits=48. */
export const ADDRESS_BITS = 48;
/** Domains live at once; the unit has 2^16 domain IDs (CAP.ND = 6). */
export const CONTEXTS = 64;

export const TOPOLOGIES: readonly Topology[] = eduTopologies({
  format: 'vtd-sl', pgsizes: PGSIZES, ias: ADDRESS_BITS, oas: ADDRESS_BITS, contexts: CONTEXTS, pasidBits: 0, domainTypes: ['paging', 'identity', 'blocked'],
});

export const machineFor = (t: Topology) => eduMachineFor(TOPOLOGIES, t);
