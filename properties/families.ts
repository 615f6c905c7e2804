// The property families. Each weights the op kinds toward one invariant family and names the
// rules it is there to check; together they cover every MUST and POLICY rule in scope. A
// family's run still judges every reply against every rule: the weights decide what is drawn,
// not what is checked.

import type { CapabilityName, OpKind } from '../spec/index.ts';
import type { Bias, Weights } from './steps.ts';

export interface PropertyFamily {
  id: string;
  title: string;
  /** Where the invariant comes from. */
  sources: string[];
  rules: string[];
  weights: Weights;
  /**
   * The ops the family exists for and those its rules need to be reachable at all (an unmap is
   * checked through a device only where a domain was attached): swarm generation (swarm.ts)
   * never switches them off.
   */
  core: OpKind[];
  bias?: Bias;
  /** Capabilities without which the family has nothing to check (its rules are NOT_SUPPORTED). */
  requires?: CapabilityName[];
  /**
   * fail_nth: each drawn sequence is run again with the n-th allocation failing, n = 1, 2, …
   * until a run sees no injected failure (the iommufd fail_nth sweep).
   */
  sweep?: 'fail_nth';
  /** Share of the run budget (sweeps cost a run per injection point). */
  budgetShare?: number;
  /** Longest sequence, when shorter than the run's. */
  maxSteps?: number;
}

export const FAMILIES_OF_PROPERTIES: readonly PropertyFamily[] = [
  {
    id: 'symmetric-unmap',
    title: 'Symmetric unmap removes exactly what was mapped',
    sources: ['seed:003_25f1d949be292248.txt'],
    rules: ['UNMAP-SYM', 'UNMAP-RET', 'UNMAP-PARTIAL', 'UNMAP-HOLE', 'UNMAP-ZERO', 'UNMAP-ALIGN', 'UNMAP-OVERFLOW', 'UNMAP-STRICT', 'MAP-XLATE', 'XLATE-I2P', 'PT-LEAK'],
    weights: { domain_alloc: 2, map: 10, unmap: 10, attach: 2, iova_to_phys: 1, dma: 1 },
    core: ['map', 'unmap', 'attach'],
  },
  {
    id: 'page-size-alignment',
    title: 'Page-size alignment and per-domain bitmaps',
    sources: ['seed:003_25f1d949be292248.txt', 'seed:000_80203a2a4a1d457c.txt'],
    rules: ['MAP-ALIGN', 'MAP-ZERO', 'MAP-PROT', 'MAP-FLAGS', 'MAP-RANGE', 'MAP-OVERFLOW', 'MAP-OVERLAP', 'MAP-ATOMIC', 'MAP-OK', 'MAP-PGSIZE', 'MAP-PGSIZE-GREEDY', 'DOM-PGSIZE'],
    weights: { domain_alloc: 3, map: 12, unmap: 4, attach: 1, iova_to_phys: 1 },
    core: ['domain_alloc', 'map'],
  },
  {
    id: 'domain-types',
    title: 'Each domain type supports only its operations',
    sources: ['seed:002_b3cb825c86431b4e.txt'],
    rules: ['DOM-ALLOC', 'DOM-OPS', 'MAP-DOMTYPE', 'UNMAP-DOMTYPE', 'DOM-FREE', 'DOM-STALE', 'DOM-LIFETIME', 'XLATE-I2P'],
    weights: { domain_alloc: 8, domain_free: 4, map: 4, unmap: 3, attach: 3, detach: 3, iova_to_phys: 3, dma: 1 },
    core: ['domain_alloc'],
  },
  {
    id: 'attach',
    title: 'Attach, groups, default domains, contexts and isolation',
    sources: ['seed:000_80203a2a4a1d457c.txt', 'seed:001_a04be2a55e3bff25.txt', 'seed:002_b3cb825c86431b4e.txt'],
    rules: ['ATT-DEFAULT', 'ATT-GROUP', 'ATT-ONE', 'ATT-COMPAT', 'ATT-SPACE', 'ATT-DETACH', 'ATT-PASID', 'ISOLATION', 'XLATE-DMA', 'XLATE-PERM', 'DOM-LIFETIME', 'DOM-FREE', 'VIO-RESERVED'],
    weights: { domain_alloc: 5, domain_free: 2, attach: 8, detach: 5, attach_pasid: 3, detach_pasid: 2, map: 6, unmap: 2, dma: 5 },
    core: ['domain_alloc', 'attach'],
  },
  {
    id: 'iotlb',
    title: 'No device uses a translation it should no longer have',
    sources: ['seed:003_25f1d949be292248.txt'],
    rules: ['UNMAP-STRICT', 'TLB-LAZY', 'TLB-FLUSH', 'TLB-REMOVED'],
    weights: { domain_alloc: 3, attach: 4, detach: 1, map: 8, unmap: 8, dma: 6, flush: 3 },
    core: ['attach', 'map', 'unmap', 'dma', 'flush'],
    bias: { domainTypes: ['dma_fq', 'dma_fq', 'paging'] },
  },
  {
    id: 'pasid-lifetime',
    title: 'Refcounted PASID lifetime',
    sources: ['seed:004_d19fc3283ac683e5.txt'],
    rules: ['PASID-RANGE', 'PASID-UNIQUE', 'PASID-REF', 'PASID-STALE', 'PASID-DATA'],
    weights: { pasid_alloc: 6, pasid_get: 4, pasid_put: 6, pasid_find: 3, sva_bind: 1, sva_unbind: 1 },
    core: ['pasid_alloc', 'pasid_put'],
    requires: ['pasid'],
  },
  {
    id: 'sva',
    title: 'Shared virtual addressing: binds, the shared PASID, coherence with the mm',
    sources: ['seed:004_d19fc3283ac683e5.txt', 'seed:002_b3cb825c86431b4e.txt'],
    rules: ['SVA-BIND', 'SVA-SHARE', 'SVA-LIMIT', 'SVA-UNBIND', 'SVA-PASID-LIFE', 'SVA-COHERENT', 'SVA-MM'],
    weights: { sva_bind: 6, sva_unbind: 4, mm_map: 6, mm_unmap: 3, mm_exit: 1, dma: 6, pasid_alloc: 3, pasid_put: 1 },
    core: ['sva_bind', 'mm_map', 'dma'],
    requires: ['sva'],
  },
  {
    id: 'fault-injection',
    title: 'An op that fails for want of memory changes nothing',
    sources: ['seed:001_a04be2a55e3bff25.txt'],
    rules: ['FAIL-ATOMIC'],
    weights: { domain_alloc: 4, attach: 4, map: 8, unmap: 4, attach_pasid: 2, pasid_alloc: 2, sva_bind: 2, mm_map: 2 },
    core: ['domain_alloc', 'map'],
    requires: ['fail_nth'],
    sweep: 'fail_nth',
    budgetShare: 0.1,
    maxSteps: 16,
  },
];

export function familyById(id: string): PropertyFamily | undefined {
  return FAMILIES_OF_PROPERTIES.find((f) => f.id === id);
}
