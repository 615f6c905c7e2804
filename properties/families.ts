// The property families. Each weights the op kinds toward one invariant family and names the
// rules it is there to check; together they cover every MUST and POLICY rule in scope. A
// family's run still judges every reply against every rule: the weights decide what is drawn,
// not what is checked.

import type { Weights } from './steps.ts';

export interface PropertyFamily {
  id: string;
  title: string;
  /** Where the invariant comes from. */
  sources: string[];
  rules: string[];
  weights: Weights;
}

export const FAMILIES_OF_PROPERTIES: readonly PropertyFamily[] = [
  {
    id: 'symmetric-unmap',
    title: 'Symmetric unmap removes exactly what was mapped',
    sources: ['seed:003_25f1d949be292248.txt'],
    rules: ['UNMAP-SYM', 'UNMAP-RET', 'UNMAP-PARTIAL', 'UNMAP-HOLE', 'UNMAP-ZERO', 'UNMAP-ALIGN', 'UNMAP-OVERFLOW', 'UNMAP-STRICT', 'MAP-XLATE', 'XLATE-I2P'],
    weights: { domain_alloc: 2, map: 10, unmap: 10, attach: 2, iova_to_phys: 1, dma: 1 },
  },
  {
    id: 'page-size-alignment',
    title: 'Page-size alignment and per-domain bitmaps',
    sources: ['seed:003_25f1d949be292248.txt', 'seed:000_80203a2a4a1d457c.txt'],
    rules: ['MAP-ALIGN', 'MAP-ZERO', 'MAP-PROT', 'MAP-RANGE', 'MAP-OVERFLOW', 'MAP-OVERLAP', 'MAP-ATOMIC', 'MAP-OK', 'MAP-PGSIZE', 'MAP-PGSIZE-GREEDY', 'DOM-PGSIZE'],
    weights: { domain_alloc: 3, map: 12, unmap: 4, attach: 1, iova_to_phys: 1 },
  },
  {
    id: 'domain-types',
    title: 'Each domain type supports only its operations',
    sources: ['seed:002_b3cb825c86431b4e.txt'],
    rules: ['DOM-ALLOC', 'DOM-OPS', 'MAP-DOMTYPE', 'UNMAP-DOMTYPE', 'DOM-FREE', 'DOM-STALE', 'DOM-LIFETIME', 'XLATE-I2P'],
    weights: { domain_alloc: 8, domain_free: 4, map: 4, unmap: 3, attach: 3, detach: 3, iova_to_phys: 3, dma: 1 },
  },
  {
    id: 'attach',
    title: 'Attach, groups, default domains, contexts and isolation',
    sources: ['seed:000_80203a2a4a1d457c.txt', 'seed:001_a04be2a55e3bff25.txt', 'seed:002_b3cb825c86431b4e.txt'],
    rules: ['ATT-DEFAULT', 'ATT-GROUP', 'ATT-ONE', 'ATT-COMPAT', 'ATT-SPACE', 'ATT-DETACH', 'ATT-PASID', 'ISOLATION', 'XLATE-DMA', 'XLATE-PERM', 'DOM-LIFETIME', 'DOM-FREE'],
    weights: { domain_alloc: 5, domain_free: 2, attach: 8, detach: 5, attach_pasid: 3, detach_pasid: 2, map: 6, unmap: 2, dma: 5 },
  },
];

export function familyById(id: string): PropertyFamily | undefined {
  return FAMILIES_OF_PROPERTIES.find((f) => f.id === id);
}
