// The modelled system: IOMMU instances, groups (the unit of isolation) and devices.
// A topology is data the suite sends with `reset`; every name in it is a handle.

export const DOMAIN_TYPES = ['blocked', 'identity', 'paging', 'dma', 'dma_fq', 'sva', 'nested'] as const;
export type DomainType = (typeof DOMAIN_TYPES)[number];

/** Types that carry a page table the caller maps into (`__IOMMU_DOMAIN_PAGING`). */
export const PAGING_TYPES: ReadonlySet<DomainType> = new Set(['paging', 'dma', 'dma_fq']);

/** The domain a group falls back to when nothing else is attached. */
export type DefaultDomainType = 'dma' | 'identity' | 'blocked';

export interface IommuSpec {
  name: string;
  /** Page-table format; a domain of one format cannot be attached behind another (seed 000). */
  format: string;
  /** Supported page sizes, one bit per size. */
  pgsizes: bigint;
  /** Input (IOVA) and output (physical) address bits. */
  ias: number;
  oas: number;
  /** Hardware contexts / address spaces (seed 001: Tegra has 4, later 128). */
  contexts: number;
  /** PASID width; 0 means no PASID support. */
  pasidBits: number;
  /** Domain types this instance can allocate. */
  domainTypes: DomainType[];
}

export interface GroupSpec {
  name: string;
  iommu: string;
  defaultDomain: DefaultDomainType;
}

export interface DeviceSpec {
  name: string;
  group: string;
  /** PASIDs the device can issue: valid PASIDs are 1 .. maxPasids-1; 0 means none. */
  maxPasids: number;
}

export interface Topology {
  iommus: IommuSpec[];
  groups: GroupSpec[];
  devices: DeviceSpec[];
}

/** Returns a list of problems; empty when the topology is well formed. */
export function validateTopology(t: Topology): string[] {
  const problems: string[] = [];
  const iommus = new Set<string>();
  for (const m of t.iommus) {
    if (iommus.has(m.name)) problems.push(`duplicate IOMMU ${m.name}`);
    iommus.add(m.name);
    if (m.pgsizes === 0n) problems.push(`IOMMU ${m.name}: empty page-size bitmap`);
    if (m.ias < 12 || m.ias > 64) problems.push(`IOMMU ${m.name}: ias ${m.ias} outside 12..64`);
    if (m.oas < 12 || m.oas > 64) problems.push(`IOMMU ${m.name}: oas ${m.oas} outside 12..64`);
    if ((m.pgsizes >> BigInt(Math.min(m.ias, m.oas))) !== 0n) problems.push(`IOMMU ${m.name}: a page size exceeds the address width`);
    if (!Number.isInteger(m.contexts) || m.contexts < 1) problems.push(`IOMMU ${m.name}: contexts must be >= 1`);
    if (!Number.isInteger(m.pasidBits) || m.pasidBits < 0 || m.pasidBits > 20) problems.push(`IOMMU ${m.name}: pasidBits outside 0..20`);
  }
  const groups = new Map<string, GroupSpec>();
  for (const g of t.groups) {
    if (groups.has(g.name)) problems.push(`duplicate group ${g.name}`);
    groups.set(g.name, g);
    if (!iommus.has(g.iommu)) problems.push(`group ${g.name}: unknown IOMMU ${g.iommu}`);
  }
  const devices = new Set<string>();
  for (const d of t.devices) {
    if (devices.has(d.name)) problems.push(`duplicate device ${d.name}`);
    devices.add(d.name);
    const g = groups.get(d.group);
    if (!g) problems.push(`device ${d.name}: unknown group ${d.group}`);
    const m = g && t.iommus.find((x) => x.name === g.iommu);
    if (m && d.maxPasids > 2 ** m.pasidBits) problems.push(`device ${d.name}: maxPasids beyond its IOMMU's ${m.pasidBits} PASID bits`);
  }
  for (const g of t.groups) {
    if (!t.devices.some((d) => d.group === g.name)) problems.push(`group ${g.name} has no device`);
  }
  for (const m of t.iommus) {
    // A dma default domain holds its address space for good, so they must all fit.
    const held = t.groups.filter((g) => g.iommu === m.name && g.defaultDomain === 'dma').length;
    if (held > m.contexts) problems.push(`IOMMU ${m.name}: ${held} dma default domains need more than its ${m.contexts} contexts`);
  }
  return problems;
}
