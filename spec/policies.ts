// Policies: the places where real implementations legitimately differ. An adapter declares
// one value per key (or takes its profile's default); the checker then requires exactly that
// behaviour. Each value names who does it, so a declaration reads like a claim about lineage.

export interface PolicyDef {
  key: string;
  values: readonly string[];
  /** What the choice is about. */
  summary: string;
  /** Who follows each value. */
  lineage: Readonly<Record<string, string>>;
  /** The rule whose outcome this policy selects. */
  rule: string;
  /** Values under which that rule has nothing to check (NOT_SUPPORTED, with this reason). */
  inapplicable?: Readonly<Record<string, string>>;
}

export const POLICY_DEFS = [
  {
    key: 'partial_unmap',
    values: ['split', 'refuse', 'whole-leaf', 'reject-range'],
    summary: 'an unmap that would split a page-table leaf (or, for reject-range, a mapping)',
    lineage: {
      split: 'io-pgtable-arm up to v6.12 (arm_lpae_split_blk_unmap): returns the requested size, the rest stays mapped',
      refuse: 'io-pgtable-arm since v6.13 (commit 33729a5fc0ca): stops at the leaf, nothing of it removed',
      'whole-leaf': 'AMD, VT-d, DART, iommupt: removes every touched leaf whole and reports their total',
      'reject-range': 'virtio-iommu (S_RANGE): the whole request fails, nothing removed',
    },
    rule: 'UNMAP-PARTIAL',
  },
  {
    key: 'unmap_hole',
    values: ['stop', 'skip'],
    summary: 'an unmap whose range starts in or crosses unmapped space',
    lineage: {
      stop: 'Linux core + io-pgtable-arm + iommupt: returns the mapped prefix',
      skip: 'virtio-iommu, iommufd between areas: removes everything covered, holes ignored',
    },
    rule: 'UNMAP-HOLE',
  },
  {
    key: 'overmap_errno',
    values: ['EEXIST', 'EADDRINUSE', 'EINVAL'],
    summary: 'the errno of a map over an existing mapping',
    lineage: { EEXIST: 'io-pgtable-arm, iommufd areas', EADDRINUSE: 'iommupt (generic_pt)', EINVAL: 'virtio-iommu S_INVAL' },
    rule: 'MAP-OVERLAP',
  },
  {
    key: 'zero_size_map',
    values: ['ok', 'EINVAL'],
    summary: 'a map of size 0',
    lineage: { ok: 'Linux core iommu_map (the loop never runs)', EINVAL: 'iommupt, iommufd, virtio (virt_end > virt_start)' },
    rule: 'MAP-ZERO',
  },
  {
    key: 'range_errno',
    values: ['ERANGE', 'EFAULT', 'EINVAL'],
    summary: 'the errno of a map beyond the input or output address width',
    lineage: { ERANGE: 'io-pgtable-arm, iommupt', EFAULT: 'Intel VT-d', EINVAL: 'drivers that fold it into argument checks' },
    rule: 'MAP-RANGE',
  },
  {
    key: 'misaligned_unmap',
    values: ['zero', 'EINVAL'],
    summary: 'an unmap whose iova or size is not a multiple of the smallest page size',
    lineage: { zero: 'Linux since the gather rework (~v5.4): returns 0 bytes', EINVAL: 'Linux up to v4.x; virtio-iommu' },
    rule: 'UNMAP-ALIGN',
  },
  {
    key: 'domain_lifetime',
    values: ['persist', 'last-detach'],
    summary: 'whether a domain exists while nothing is attached to it',
    lineage: {
      persist: 'Linux iommu_domain: from domain_alloc until iommu_domain_free',
      'last-detach': 'virtio-iommu: created by the first ATTACH, ceases to exist (mappings and all) at the last DETACH',
    },
    rule: 'DOM-LIFETIME',
  },
  {
    key: 'write_only_read',
    values: ['fault', 'allow'],
    summary: 'a device read through a write-only mapping',
    lineage: { fault: 'formats with true write-only permissions', allow: 'Arm stage 1, x86 (no write-only encoding); virtio MAY' },
    rule: 'XLATE-PERM',
  },
  {
    key: 'pasid_lifetime',
    values: ['last-unbind', 'mm-exit'],
    summary: "when an mm's SVA PASID is released",
    lineage: { 'last-unbind': 'Linux v5.11 (ioasid_put per bind)', 'mm-exit': 'Linux since ~v5.18 (mm_pasid_drop)' },
    rule: 'SVA-PASID-LIFE',
  },
  {
    key: 'attach_busy',
    values: ['EBUSY', 'move'],
    summary: 'an attach to a group that already has a caller-attached domain',
    lineage: { EBUSY: 'Linux __iommu_attach_group(): detach first', move: 'virtio-iommu ATTACH: implicit detach from the previous domain' },
    rule: 'ATT-ONE',
  },
  {
    key: 'align_errno',
    values: ['EINVAL', 'ERANGE'],
    summary: 'the errno of a map not aligned to the smallest page size',
    lineage: { EINVAL: 'Linux iommu_map', ERANGE: 'virtio-iommu MAP (SHOULD S_RANGE)' },
    rule: 'MAP-ALIGN',
  },
  {
    key: 'unknown_flags',
    values: ['ignore', 'EINVAL'],
    summary: 'a map whose prot carries bits beyond the defined six',
    lineage: { ignore: 'Linux page-table code tests only the bits it knows', EINVAL: 'virtio-iommu MAP (MUST S_INVAL)' },
    rule: 'MAP-FLAGS',
  },
  {
    key: 'reserved_fields',
    values: ['absent', 'EINVAL'],
    summary: 'requests whose reserved field is non-zero',
    lineage: { absent: 'the Linux API: there are no reserved fields', EINVAL: 'virtio-iommu ATTACH/DETACH/MAP (S_INVAL; UNMAP MAY ignore them)' },
    rule: 'VIO-RESERVED',
    inapplicable: { absent: 'the profile has no reserved fields to check' },
  },
  {
    key: 'nonpaging_unmap',
    values: ['zero', 'EINVAL'],
    summary: 'an unmap on a domain without a page table',
    lineage: { zero: 'Linux __iommu_unmap(): returns 0', EINVAL: 'virtio-iommu UNMAP of a bypass domain (S_INVAL)' },
    rule: 'UNMAP-DOMTYPE',
  },
] as const satisfies readonly PolicyDef[];

export type PolicyKey = (typeof POLICY_DEFS)[number]['key'];
type ValuesOf<K extends PolicyKey> = Extract<(typeof POLICY_DEFS)[number], { key: K }>['values'][number];
export type Policies = { readonly [K in PolicyKey]: ValuesOf<K> };

export const POLICY_KEYS = POLICY_DEFS.map((d) => d.key) as PolicyKey[];

export function policyDef(key: string): PolicyDef | undefined {
  return POLICY_DEFS.find((d) => d.key === key);
}

/** Every complete assignment of policy values, for exhaustive self-tests. */
export function* allPolicyCombinations(base: Policies, keys: readonly PolicyKey[] = POLICY_KEYS): Generator<Policies> {
  if (keys.length === 0) {
    yield base;
    return;
  }
  const [first, ...rest] = keys as [PolicyKey, ...PolicyKey[]];
  for (const v of policyDef(first)!.values) {
    yield* allPolicyCombinations({ ...base, [first]: v } as Policies, rest);
  }
}
