// The rule catalogue: every rule the checker can name, in family order. IDs are stable and
// unique; a duplicate is a programming error and stops the suite at load time.

import { ADAPTER_RULES } from './adapter.ts';
import { ATTACH_RULES } from './attach.ts';
import { DOMAIN_RULES } from './domain.ts';
import { FAULT_RULES } from './fault.ts';
import { IOTLB_RULES } from './iotlb.ts';
import { MAP_RULES } from './map.ts';
import { PASID_RULES } from './pasid.ts';
import { SVA_RULES } from './sva.ts';
import { FAMILIES, type Family, type Rule } from './types.ts';
import { UNMAP_RULES } from './unmap.ts';
import { VIRTIO_RULES } from './virtio.ts';
import { XLATE_RULES } from './xlate.ts';

const BY_FAMILY: { readonly [F in Family]: readonly Rule[] } = {
  map: MAP_RULES,
  unmap: UNMAP_RULES,
  xlate: XLATE_RULES,
  iotlb: IOTLB_RULES,
  domain: DOMAIN_RULES,
  attach: ATTACH_RULES,
  pasid: PASID_RULES,
  sva: SVA_RULES,
  fault: FAULT_RULES,
  virtio: VIRTIO_RULES,
  adapter: ADAPTER_RULES,
};

/** All rules, in the order of FAMILIES, each family in its file's order. */
export const RULES: readonly Rule[] = FAMILIES.flatMap((f) => BY_FAMILY[f]);

const BY_ID: ReadonlyMap<string, Rule> = (() => {
  const m = new Map<string, Rule>();
  for (const r of RULES) {
    if (m.has(r.id)) throw new Error(`duplicate rule ID ${r.id}`);
    m.set(r.id, r);
  }
  return m;
})();

export function ruleById(id: string): Rule | undefined {
  return BY_ID.get(id);
}

export function rulesOfFamily(f: Family): readonly Rule[] {
  return BY_FAMILY[f];
}
