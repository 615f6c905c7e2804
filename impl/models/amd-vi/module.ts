// The AMD-Vi model as an adapter module: `run --adapter impl/models/amd-vi/module.ts`, with
// `--policy top=dynamic` for tables that grow, `--policy mutant=<id>` switching one bug of its
// catalogue on.

import { ConfigError } from '../../../spec/index.ts';
import { AmdViModel } from './model.ts';
import { amdMutantById } from './mutants.ts';

export default function createAmdVi(opts: { policies?: Record<string, string> } = {}): AmdViModel {
  const { mutant, top } = opts.policies ?? {};
  const m = mutant === undefined ? undefined : amdMutantById(mutant);
  if (mutant !== undefined && !m) throw new ConfigError(`amd-vi: no mutant '${mutant}'`);
  if (top !== undefined && top !== 'fixed' && top !== 'dynamic') throw new ConfigError(`amd-vi: top=${top} is not one it implements (fixed, dynamic)`);
  return new AmdViModel({ mutant, top: top ?? m?.top });
}
