// Profiles bundle the policy defaults of a family of implementations. A declared policy
// overrides its profile's default; an unknown key or value is a configuration error.

import { POLICY_DEFS, type Policies, policyDef } from './policies.ts';

export interface Profile {
  name: string;
  summary: string;
  defaults: Policies;
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
    },
  },
];

export function findProfile(name: string): Profile | undefined {
  return PROFILES.find((p) => p.name === name);
}

export class ConfigError extends Error {
  override name = 'ConfigError';
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
