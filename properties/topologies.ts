// Topologies to test on. Page-size sets are real ones (Arm 4K/16K/64K granules, x86), and the
// generator makes instances disagree on purpose: different formats, page sizes, widths, and so
// few contexts that ENOSPC is reachable (seed 001: Tegra's 4).

import fc from 'fast-check';
import { type DomainType, GiB, KiB, MiB, type ProfileTopology, type Topology } from '../spec/index.ts';

export const PGSIZE_SETS: readonly bigint[] = [
  4n * KiB | 2n * MiB | GiB, // Arm 4K granule, x86, AMD
  16n * KiB | 32n * MiB, // Arm 16K granule
  64n * KiB | 512n * MiB, // Arm 64K granule
  4n * KiB | 64n * KiB | 2n * MiB | 32n * MiB | GiB, // a mix with contiguous hints
  4n * KiB, // a model without large pages
];

const ALL_TYPES: DomainType[] = ['blocked', 'identity', 'paging', 'dma', 'dma_fq', 'sva', 'nested'];

const iommuArb = (i: number) =>
  fc.record({
    pg: fc.nat({ max: PGSIZE_SETS.length - 1 }),
    ias: fc.constantFrom(48, 39, 32, 57, 64),
    oas: fc.constantFrom(48, 40, 36, 52),
    spare: fc.constantFrom(0, 0, 1, 3),
    pasidBits: fc.constantFrom(20, 0, 5),
    format: fc.constantFrom('lpae', 'lpae', 'amdv1'),
    noNested: fc.boolean(),
  }).map((r) => ({ i, ...r }));

const groupArb = fc.record({ iommu: fc.nat({ max: 1 }), identity: fc.boolean(), devices: fc.integer({ min: 1, max: 2 }), pasids: fc.constantFrom(1024, 0, 16, 2) });

export const topologyArb: fc.Arbitrary<Topology> = fc
  .tuple(fc.array(iommuArb(0), { minLength: 1, maxLength: 2 }), fc.array(groupArb, { minLength: 1, maxLength: 3 }))
  .map(([iommus, groups]) => {
    const gs = groups.map((g, i) => ({ name: `g${i}`, iommu: `iommu${Math.min(g.iommu, iommus.length - 1)}`, defaultDomain: g.identity ? ('identity' as const) : ('dma' as const), devices: g.devices, pasids: g.pasids }));
    return {
      iommus: iommus.map((m, i) => {
        const name = `iommu${i}`;
        const held = gs.filter((g) => g.iommu === name && g.defaultDomain === 'dma').length;
        const pgsizes = PGSIZE_SETS[m.pg]!;
        return {
          name, format: m.format, pgsizes, ias: m.ias, oas: m.oas,
          contexts: held + 1 + m.spare, pasidBits: m.pasidBits,
          domainTypes: ALL_TYPES.filter((t) => !(t === 'nested' && m.noNested) && !(t === 'sva' && m.pasidBits === 0)),
        };
      }),
      groups: gs.map(({ name, iommu, defaultDomain }) => ({ name, iommu, defaultDomain })),
      devices: gs.flatMap((g, gi) => Array.from({ length: g.devices }, (_, k) => {
        const m = iommus[Math.min(groups[gi]!.iommu, iommus.length - 1)]!;
        return { name: `dev${gi}${k > 0 ? String.fromCharCode(97 + k) : ''}`, group: g.name, maxPasids: m.pasidBits === 0 ? 0 : Math.min(g.pasids, 2 ** m.pasidBits) };
      })),
    };
  });

/**
 * A virtio-iommu-like system: one IOMMU, every endpoint its own group, unattached endpoints
 * bypassing or blocked as configured, no PASIDs, plenty of domain IDs.
 */
function constrainedArb(p: ProfileTopology): fc.Arbitrary<Topology> {
  return fc.record({
    pg: fc.nat({ max: PGSIZE_SETS.length - 1 }),
    ias: fc.constantFrom(48, 39, 64),
    oas: fc.constantFrom(48, 40),
    defaults: fc.array(fc.constantFrom(...p.defaultDomains), { minLength: 1, maxLength: 3 }),
  }).map((r) => ({
    iommus: [{ name: 'iommu0', format: 'virtio', pgsizes: PGSIZE_SETS[r.pg]!, ias: r.ias, oas: r.oas, contexts: 64, pasidBits: 0, domainTypes: [...p.domainTypes] }],
    groups: r.defaults.map((defaultDomain, i) => ({ name: `g${i}`, iommu: 'iommu0', defaultDomain })),
    devices: r.defaults.map((_, i) => ({ name: `dev${i}`, group: `g${i}`, maxPasids: 0 })),
  }));
}

/** Topologies for a profile: its constraints where it has them, anything valid otherwise. */
export function topologyArbFor(p: ProfileTopology | undefined): fc.Arbitrary<Topology> {
  return p ? constrainedArb(p) : topologyArb;
}
