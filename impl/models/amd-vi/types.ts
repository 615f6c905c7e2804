// The state of the AMD-Vi model: IOMMUs with their domain IDs and IOTLB, devices with their
// device table entry and GCR3 table, groups, domains, and the process address spaces SVA binds.

import type { DomainType, IommuSpec } from '../../../spec/index.ts';
import type { DomainIds } from './domain-ids.ts';
import type { FlushQueue } from './flush-queue.ts';
import type { Gcr3Table } from './gcr3.ts';
import type { Iotlb } from './iotlb.ts';
import type { AmdV1Table } from './pgtable.ts';

export interface Iommu {
  spec: IommuSpec;
  ids: DomainIds;
  tlb: Iotlb;
}

export interface Device {
  name: string;
  group: Group;
  maxPasids: number;
  /** Its device table entry (dte.ts). */
  dte: BigUint64Array;
  /** Allocated at the device's first PASID attachment, kept for its lifetime. */
  gcr3: Gcr3Table | null;
}

export interface Group {
  name: string;
  iommu: Iommu;
  devices: Device[];
  /** The default domain: a driver-owned dma domain, or an identity or blocked one. */
  fallback: Domain;
  /** The caller-attached domain, or null. */
  current: Domain | null;
}

export interface Domain {
  handle: string;
  type: DomainType;
  /** The IOMMU it was allocated for. */
  iommu: Iommu;
  table: AmdV1Table | null;
  /** What GCR3 entries point at: the table root, or a token for an sva domain without one. */
  root: bigint;
  groups: Set<Group>;
  /** The domain ID it holds on each IOMMU it is attached behind, and how many groups use it. */
  ids: Map<Iommu, { id: number; users: number }>;
  /** Where it is attached at a PASID, keyed `dev/pasid`. */
  pasids: Map<string, { dev: Device; pasid: number }>;
  /** dma_fq domains only. */
  fq: FlushQueue | null;
}

/** A process address space: a 4 KiB page table the CPU side drives, and the PASID it holds. */
export interface Mm {
  handle: string;
  /** Its page-table root as GCR3 entries name it. */
  cr3: bigint;
  pages: Map<bigint, MmPage>;
  exited: boolean;
  pasid: number | null;
  bonds: Set<Bond>;
}

export interface MmPage {
  pa: bigint;
  read: boolean;
  write: boolean;
}

/** One (group, mm) binding; every sva_bind handle that shares it holds a reference. */
export interface Bond {
  group: Group;
  mm: Mm;
  pasid: number;
  refs: number;
}

/** What a GCR3 entry's root pointer leads to. */
export type Owner = { kind: 'domain'; domain: Domain } | { kind: 'mm'; mm: Mm };
