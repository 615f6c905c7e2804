// The reference model's state: the topology as given, and what the ops have made of it.

import { type DefaultDomainType, type DeviceSpec, type DomainType, type GroupSpec, type Handle, type IommuSpec, PAGING_TYPES } from '../../spec/index.ts';
import { MappingStore, endOf } from './mappings.ts';

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
}

export interface GroupState {
  spec: GroupSpec;
  iommu: IommuSpec;
  devices: DeviceState[];
  /** The caller-attached domain, or null for the default domain. */
  current: DomainState | null;
  pasids: Map<number, DomainState>;
}

export interface DeviceState {
  spec: DeviceSpec;
  group: GroupState;
}

export function defaultType(g: GroupState): DefaultDomainType {
  return g.spec.defaultDomain;
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
  return d.type === 'nested' ? (d.parent?.mappings ?? null) : d.mappings;
}

export function highestMappedEnd(d: DomainState): bigint {
  const last = tableOf(d)?.last();
  return last ? endOf(last) : 0n;
}
