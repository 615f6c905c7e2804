// The bundled adapters, by name: `builtin:reference`, `builtin:arm-smmu`, `builtin:amd-vi`, and
// `builtin:mutant/<id>` (one bug of a mutant catalogue switched on).

import { type Adapter, ConfigError } from '../spec/index.ts';
import { ReferenceAdapter } from '../impl/reference/adapter.ts';
import { ArmSmmuModel } from '../impl/models/arm-smmu/smmu.ts';
import type { PartialUnmap } from '../impl/models/arm-smmu/pgtable.ts';
import { mutantById } from '../impl/models/arm-smmu/mutants.ts';
import createAmdVi from '../impl/models/amd-vi/module.ts';
import type { AdapterOptions } from './adapters.ts';
import { MUTANT_ENTRIES } from './mutant-entries.ts';

/** `builtin:mutant/<id>`: a bundled model with one bug of the mutant catalogue switched on. */
export const MUTANT_PREFIX = 'mutant/';
export const MUTANT_SUMMARY = 'a bundled model with one bug of the mutant catalogue switched on (ids: iommu-conformance mutants)';

export interface BuiltinAdapter {
  name: string;
  summary: string;
  create(opts: AdapterOptions): Adapter;
}

export const BUILTINS: readonly BuiltinAdapter[] = [
  {
    name: 'reference',
    summary: 'the reference model itself, playing the canonical outcome under the given profile and --policy values',
    create: (opts) => new ReferenceAdapter({ profile: opts.profile, policies: opts.policies }),
  },
  {
    name: 'amd-vi',
    summary: 'an AMD-Vi-style model: v1 page tables (4K/2M/1G, 4 or 5 levels, --policy top=dynamic to grow), per-device GCR3 PASID tables, a domain-ID-tagged IOTLB, SVA',
    create: (opts) => createAmdVi({ policies: opts.policies }),
  },
  {
    name: 'arm-smmu',
    summary: 'an Arm SMMU-style model: LPAE page tables in simulated memory, a walk-caching TLB, context banks, CD tables per device, PASIDs and SVA (--policy partial_unmap=split|refuse|whole-leaf, pasid_lifetime=mm-exit|last-unbind)',
    create: (opts) => new ArmSmmuModel({
      partialUnmap: armPartial(opts.policies?.partial_unmap),
      pasidLifetime: armPasidLifetime(opts.policies?.pasid_lifetime),
      mutant: armMutant(opts.policies?.mutant),
    }),
  },
];

/** `--policy mutant=<id>[+<id>...]` switches on bugs of the catalogue (see `iommu-conformance mutants`). */
function armMutant(v: string | undefined): string | undefined {
  for (const id of v?.split('+') ?? []) if (!mutantById(id)) throw new ConfigError(`arm-smmu: no mutant '${id}' (see: iommu-conformance mutants)`);
  return v;
}

function armPasidLifetime(v: string | undefined): 'mm-exit' | 'last-unbind' | undefined {
  if (v === undefined || v === 'mm-exit' || v === 'last-unbind') return v;
  throw new ConfigError(`arm-smmu: pasid_lifetime=${v} is not one it implements (mm-exit, last-unbind)`);
}

function armPartial(v: string | undefined): PartialUnmap | undefined {
  if (v === undefined || v === 'split' || v === 'refuse' || v === 'whole-leaf') return v;
  throw new ConfigError(`arm-smmu: partial_unmap=${v} is not one it implements (split, refuse, whole-leaf)`);
}

/** A bundled adapter by name (the part after `builtin:`); bad names and options are a ConfigError. */
export function createBuiltin(name: string, opts: AdapterOptions): Adapter {
  if (name.startsWith(MUTANT_PREFIX)) {
    const id = name.slice(MUTANT_PREFIX.length);
    const m = MUTANT_ENTRIES.find((x) => x.id === id);
    if (!m) throw new ConfigError(`no mutant '${id}' (see: iommu-conformance mutants)`);
    return m.create();
  }
  const b = BUILTINS.find((x) => x.name === name);
  if (!b) throw new ConfigError(`unknown builtin adapter '${name}' (see: iommu-conformance adapters)`);
  return b.create(opts);
}
