// Profiles bundle the policy defaults of a family of implementations. A declared policy
// overrides its profile's default; an unknown key or value is a configuration error.

import type { Errno } from './errno.ts';
import type { Capabilities } from './ops.ts';
import { POLICY_DEFS, type Policies, policyDef } from './policies.ts';
import type { DefaultDomainType, DomainType } from './topology.ts';

export interface Profile {
  name: string;
  summary: string;
  defaults: Policies;
  /** What topologies look like under this profile; absent: anything validateTopology accepts. */
  topology?: ProfileTopology;
  /** Capabilities the interface itself has; an adapter's declaration overrides them. */
  capabilities: Capabilities;
  /** How the device's status codes map onto the vocabulary's errno names (adapters translate). */
  statuses?: Readonly<Record<string, 'ok' | Errno>>;
}

export interface ProfileTopology {
  /** Every device is its own group (virtio endpoints are isolated one by one). */
  singletonGroups: boolean;
  /** What an unattached device gets (virtio: bypass or no access, as configured). */
  defaultDomains: readonly DefaultDomainType[];
  domainTypes: readonly DomainType[];
  pasid: boolean;
}

export const PROFILES: readonly Profile[] = [
  {
    name: 'linux',
    summary: 'the Linux IOMMU core API (iommu_map/iommu_unmap/iommu_attach_group), with a modern driver',
    defaults: {
      partial_unmap: 'whole-leaf',
      unmap_hole: 'stop',
      overmap_errno: 'EADDRINUSE',
      zero_size_map: 'ok',
      range_errno: 'ERANGE',
      misaligned_unmap: 'zero',
      domain_lifetime: 'persist',
      write_only_read: 'allow',
      pasid_lifetime: 'mm-exit',
      attach_busy: 'EBUSY',
      align_errno: 'EINVAL',
      unknown_flags: 'ignore',
      reserved_fields: 'absent',
      nonpaging_unmap: 'zero',
    },
    // iommu_iova_to_phys() exists and iommu_unmap() returns the bytes it removed.
    capabilities: { iova_to_phys: true, unmap_size: true },
  },
  {
    name: 'virtio-iommu',
    summary: 'the OASIS virtio IOMMU device (ATTACH/DETACH/MAP/UNMAP requests), statuses mapped as the Linux driver maps them',
    defaults: {
      partial_unmap: 'reject-range',
      unmap_hole: 'skip',
      overmap_errno: 'EINVAL',
      // virt_end > virt_start: an empty range cannot be expressed, so it is an invalid request.
      zero_size_map: 'EINVAL',
      range_errno: 'ERANGE',
      misaligned_unmap: 'EINVAL',
      domain_lifetime: 'last-detach',
      write_only_read: 'allow',
      pasid_lifetime: 'mm-exit',
      attach_busy: 'move',
      align_errno: 'ERANGE',
      unknown_flags: 'EINVAL',
      reserved_fields: 'EINVAL',
      nonpaging_unmap: 'EINVAL',
    },
    // The device has no translation query, and UNMAP answers with a status only.
    capabilities: { iova_to_phys: false, unmap_size: false },
    topology: { singletonGroups: true, defaultDomains: ['identity', 'blocked'], domainTypes: ['paging', 'identity'], pasid: false },
    statuses: {
      OK: 'ok', INVAL: 'EINVAL', RANGE: 'ERANGE', NOENT: 'ENOENT', UNSUPP: 'ENOSYS', NOMEM: 'ENOMEM', FAULT: 'EFAULT', IOERR: 'EIO', DEVERR: 'EIO',
    },
  },
];

export function findProfile(name: string): Profile | undefined {
  return PROFILES.find((p) => p.name === name);
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The profile's capabilities overlaid with what the adapter declared. */
export function resolveCapabilities(profileName: string, declared: Capabilities = {}): Capabilities {
  return { ...findProfile(profileName)?.capabilities, ...declared };
}

/** Resolves a declaration against its profile; throws ConfigError on an unknown key or value. */
export function resolvePolicies(profileName: string, declared: Partial<Record<string, string>> = {}): Policies {
  const profile = findProfile(profileName);
  if (!profile) throw new ConfigError(`unknown profile '${profileName}' (known: ${PROFILES.map((p) => p.name).join(', ')})`);
  const out: Record<string, string> = { ...profile.defaults };
  for (const [key, value] of Object.entries(declared)) {
    if (value === undefined) continue;
    const def = policyDef(key);
    if (!def) throw new ConfigError(`unknown policy '${key}' (known: ${POLICY_DEFS.map((d) => d.key).join(', ')})`);
    if (!def.values.includes(value)) throw new ConfigError(`policy ${key}=${value} is not one of ${def.values.join(', ')}`);
    out[key] = value;
  }
  return out as Policies;
}
