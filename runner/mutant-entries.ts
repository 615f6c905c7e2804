// The mutants a kill run goes through: each catalogue entry with a way to make its model. One
// list per bundled model; the kill run takes any list, so new catalogues are appended here.

import type { Adapter } from '../spec/index.ts';
import { ARM_MUTANTS, type Mutant } from '../impl/models/arm-smmu/mutants.ts';
import { ArmSmmuModel } from '../impl/models/arm-smmu/smmu.ts';
import { AMD_MUTANTS } from '../impl/models/amd-vi/mutants.ts';
import { AmdViModel } from '../impl/models/amd-vi/model.ts';

export interface MutantEntry {
  id: string;
  description: string;
  /** Rules a finding may name for the mutant to count as killed. */
  rules: readonly string[];
  /** The property family aimed at it; the others are tried only if it survives this one. */
  family: string;
  bugClass: string;
  source?: string;
  /** A fresh model with the bug switched on. */
  create(): Adapter;
}

/** A catalogue's entries, each with the way its model is made with that one bug on. */
function entries<M extends Mutant>(catalogue: readonly M[], make: (m: M) => Adapter): MutantEntry[] {
  return catalogue.map((m) => ({
    id: m.id,
    description: m.description,
    rules: m.rules,
    family: m.family,
    bugClass: m.bugClass,
    ...(m.source !== undefined ? { source: m.source } : {}),
    create: () => make(m),
  }));
}

export const ARM_MUTANT_ENTRIES = entries(ARM_MUTANTS, (m) => new ArmSmmuModel({ mutant: m.id, partialUnmap: m.partialUnmap }));
export const AMD_MUTANT_ENTRIES = entries(AMD_MUTANTS, (m) => new AmdViModel({ mutant: m.id, top: m.top }));

/** Every bundled model's catalogue. */
export const MUTANT_ENTRIES: readonly MutantEntry[] = [...ARM_MUTANT_ENTRIES, ...AMD_MUTANT_ENTRIES];
