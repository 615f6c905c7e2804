// A topology in one line, for the head of a printed trace: a finding such as
// `map(d1, iova=0x100000000) -> ok, expected ERANGE` reads at once when the line above says
// dev0's IOMMU has a 32-bit input.

import type { Topology } from './topology.ts';
import { pageSizes } from './u64.ts';

const UNITS: [bigint, string][] = [[1n << 60n, 'E'], [1n << 50n, 'P'], [1n << 40n, 'T'], [1n << 30n, 'G'], [1n << 20n, 'M'], [1n << 10n, 'K']];

/** 4096n → `4K`, 0x200000n → `2M`; sizes that are no whole unit print in hex. */
export function sizeText(size: bigint): string {
  for (const [unit, suffix] of UNITS) if (size >= unit && size % unit === 0n) return `${size / unit}${suffix}`;
  return `0x${size.toString(16)}`;
}

/**
 * `iommu0 (lpae, in 32/out 48 bits, 4K 2M 1G, 8 contexts, no PASID): g0 [dev0 dev1] default dma; …`,
 * IOMMUs separated by ` | `. A device's PASIDs follow its name (`dev1/16`).
 */
export function formatTopology(t: Topology): string {
  return t.iommus.map((m) => {
    const pasid = m.pasidBits === 0 ? 'no PASID' : `${m.pasidBits}-bit PASID`;
    const head = `${m.name} (${m.format}, in ${m.ias}/out ${m.oas} bits, ${pageSizes(m.pgsizes).map(sizeText).join(' ')}, ${m.contexts} context${m.contexts === 1 ? '' : 's'}, ${pasid})`;
    const groups = t.groups.filter((g) => g.iommu === m.name).map((g) => {
      const devices = t.devices.filter((d) => d.group === g.name).map((d) => (d.maxPasids > 0 ? `${d.name}/${d.maxPasids}` : d.name));
      return `${g.name} [${devices.join(' ')}] default ${g.defaultDomain}`;
    });
    return `${head}: ${groups.join('; ')}`;
  }).join(' | ');
}
