// Where adapters come from: bundled ones by name (`builtin:reference`), or a user's module by
// path, whose default export is a factory. Anything else is a configuration error.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Adapter, ConfigError } from '../spec/index.ts';
import { ReferenceAdapter } from '../impl/reference/adapter.ts';
import { ArmSmmuModel } from '../impl/arm-smmu/smmu.ts';
import type { PartialUnmap } from '../impl/arm-smmu/pgtable.ts';
import { mutantById } from '../impl/arm-smmu/mutants.ts';
import createAmdVi from '../impl/amd-vi/module.ts';
import { ProcessAdapter } from './stdio/adapter.ts';
import { MUTANT_ENTRIES } from './mutant-entries.ts';

export interface AdapterOptions {
  profile?: string;
  policies?: Record<string, string>;
  /** Process adapters: per-reply and per-test-case timeouts. */
  requestTimeoutMs?: number;
  caseTimeoutMs?: number;
  /** Process adapters: one request at a time (to tell a pipelining bug from a model bug). */
  lockstep?: boolean;
}

/** `builtin:mutant/<id>`: a bundled model with one bug of the mutant catalogue switched on. */
export const MUTANT_PREFIX = 'mutant/';
export const MUTANT_SUMMARY = 'a bundled model with one bug of the mutant catalogue switched on (ids: iommu-conformance mutants)';

/** The spec of a process adapter: this prefix, then the command line. */
export const PROCESS_PREFIX = 'cmd:';

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

/** `--policy mutant=<id>` switches on one bug of the catalogue (see `iommu-conformance mutants`). */
function armMutant(v: string | undefined): string | undefined {
  if (v !== undefined && !mutantById(v)) throw new ConfigError(`arm-smmu: no mutant '${v}' (see: iommu-conformance mutants)`);
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

/** The same adapter without `pipeline`: the checker then waits for each reply before the next op. */
export function lockstep(a: Adapter): Adapter {
  return { hello: () => a.hello(), reset: (t) => a.reset(t), exec: (op) => a.exec(op), close: () => a.close?.() };
}

function isAdapter(x: unknown): x is Adapter {
  const a = x as Record<string, unknown> | null;
  return !!a && typeof a.hello === 'function' && typeof a.reset === 'function' && typeof a.exec === 'function';
}

export async function loadAdapter(spec: string, opts: AdapterOptions): Promise<Adapter> {
  if (spec.startsWith(PROCESS_PREFIX)) {
    const p = new ProcessAdapter({ command: spec.slice(PROCESS_PREFIX.length), requestTimeoutMs: opts.requestTimeoutMs, caseTimeoutMs: opts.caseTimeoutMs });
    return opts.lockstep ? lockstep(p) : p;
  }
  if (spec.startsWith('builtin:')) {
    const name = spec.slice('builtin:'.length);
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
  const path = resolve(spec);
  if (!existsSync(path)) throw new ConfigError(`adapter module not found: ${spec}`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`cannot load adapter module ${spec}: ${(e as Error).message.split('\n')[0]}`);
  }
  const factory = mod.default ?? mod.createAdapter;
  if (typeof factory !== 'function') throw new ConfigError(`${spec} is not an adapter module: its default export must be a factory function returning an adapter`);
  const adapter: unknown = await (factory as (o: AdapterOptions) => unknown)(opts);
  if (!isAdapter(adapter)) throw new ConfigError(`${spec}: the factory did not return an adapter (an object with hello, reset and exec)`);
  return adapter;
}
