// The reference model's state: the topology as given, and what the ops have made of it.

import { type DeviceSpec, type DomainType, type GroupSpec, type Handle, type IommuSpec, PAGING_TYPES } from '../../spec/index.ts';
import type { RemovedTranslations } from './iotlb.ts';
import { type MappingStore, endOf } from './mappings.ts';

export interface DomainState {
  handle: Handle;
  type: DomainType;
  /** The IOMMU the domain was allocated for, and its page-table format. */
  iommu: IommuSpec;
  format: string;
  pgsizes: bigint;
  /** Address widths; narrowed when attached behind an IOMMU with fewer bits. */
  ias: number;
  oas: number;
  /** Page table of paging types; nested domains translate through their parent's. */
  mappings: MappingStore | null;
  groups: Set<GroupState>;
  pasidUses: number;
  parent: DomainState | null;
  children: number;
  /** Under domain_lifetime=last-detach: nothing attached, so the domain does not exist yet/any more. */
  dormant: boolean;
  /** Translations removed but possibly still cached (see iotlb.ts). */
  removed: RemovedTranslations;
  /** An sva domain made by a bind: the mm whose page table it shares. */
  mm: MmState | null;
  /** Page-table pages of the empty domain, as first observed (PT-LEAK). */
  ptBaseline?: number;
}

export interface GroupState {
  spec: GroupSpec;
  iommu: IommuSpec;
  devices: DeviceState[];
  /** The caller-attached domain, or null for the default domain. */
  current: DomainState | null;
  /** What each PASID of the group reaches: a paging domain (attach_pasid) or an SVA bond's domain. */
  pasids: Map<number, DomainState>;
}

export interface DeviceState {
  spec: DeviceSpec;
  group: GroupState;
}

/** A process address space shared with devices (SVA). Created at its first mention. */
export interface MmState {
  handle: Handle;
  table: MappingStore;
  exited: boolean;
  /** The PASID the mm holds, or null. */
  pasid: number | null;
  bonds: Set<Bond>;
}

/** One (group, mm) binding; every successful sva_bind handle holds one reference to it. */
export interface Bond {
  group: GroupState;
  mm: MmState;
  domain: DomainState;
  refs: number;
}

export function isPaging(d: DomainState): boolean {
  return PAGING_TYPES.has(d.type);
}

/** Types that occupy a hardware context while attached (identity and blocked need none). */
export function needsContext(d: DomainState): boolean {
  return isPaging(d) || d.type === 'nested';
}

/** The page table a domain translates through. */
export function tableOf(d: DomainState): MappingStore | null {
  if (d.type === 'nested') return d.parent?.mappings ?? null;
  if (d.type === 'sva') return d.mm?.table ?? null;
  return d.mappings;
}

export function highestMappedEnd(d: DomainState): bigint {
  const last = tableOf(d)?.last();
  return last ? endOf(last) : 0n;
}
