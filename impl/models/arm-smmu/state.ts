// What the Arm model keeps: SMMUs as the topology gives them, groups and their devices, domains
// with their page tables, and the PASID slots of each group. SVA's process address spaces and
// bonds are here too, since a group's PASID may hold either a domain or a bond.

import type { DomainType } from '../../../spec/index.ts';
import type { FlushQueue } from './flush-queue.ts';
import type { TableMemory } from './memory.ts';
import type { LpaeTable } from './pgtable.ts';

export interface Smmu {
  name: string;
  pgsizes: bigint;
  ias: number;
  oas: number;
  contexts: number;
  format: string;
  types: readonly DomainType[];
  /** Substream ID bits (SSIDSIZE); 0: no PASIDs. */
  pasidBits: number;
  /** Can it walk the CPU's page tables (SVA)? */
  sva: boolean;
}

export interface Domain {
  handle: string;
  type: DomainType;
  smmu: Smmu;
  /** The ASID tagging its TLB entries; 0 for types without a page table. */
  asid: number;
  table: LpaeTable | null;
  mem: TableMemory | null;
  groups: Set<Group>;
  /** PASID slots it is attached at. */
  pasids: number;
  /** Ranges unmapped but not yet invalidated (dma_fq). */
  fq: FlushQueue;
}

export interface Device {
  name: string;
  maxPasids: number;
}

export interface Group {
  name: string;
  smmu: Smmu;
  defaultDomain: 'dma' | 'identity' | 'blocked';
  devices: Device[];
  current: Domain | null;
  /** What each PASID of the group is attached to (Linux's group->pasid_array). */
  pasids: Map<number, PasidSlot>;
}

export type PasidSlot = { domain: Domain } | { bond: Bond };

/** A process address space: the CPU's page table for it, and the PASID it holds. */
export interface Mm {
  handle: string;
  table: LpaeTable;
  exited: boolean;
  pasid: number | null;
  bonds: Set<Bond>;
  /** One SVA domain per SMMU the mm is bound through: an ASID over the mm's table. */
  domains: SvaDomain[];
}

export interface SvaDomain {
  mm: Mm;
  smmu: Smmu;
  asid: number;
  /** Bonds using it; freed (ASID and all) with the last. */
  users: number;
}

/** One (group, mm) binding; each successful sva_bind handle holds one reference. */
export interface Bond {
  group: Group;
  mm: Mm;
  domain: SvaDomain;
  pasid: number;
  refs: number;
  /** Torn down: its CDs are gone (only a buggy unbind leaves handles to such a bond). */
  live: boolean;
}

/** Devices of a group that issue PASIDs, so get a CD for each of the group's PASIDs. */
export function pasidDevices(g: Group): string[] {
  return g.devices.filter((d) => d.maxPasids > 0).map((d) => d.name);
}
