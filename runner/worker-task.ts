// One unit of parallel work: a slice of one property family against an adapter the worker
// loads itself (by the same spec the command line named). Results cross the thread boundary by
// structured clone, which keeps bigints; coverage travels as its JSON form.

import type { MessagePort } from 'node:worker_threads';
import type { Policies, Topology } from '../spec/index.ts';
import type { CoverageReport } from '../properties/coverage.ts';
import type { Violation } from '../properties/checker.ts';
import { familyById } from '../properties/families.ts';
import { type Finding, runFamily } from '../properties/property.ts';
import { type AdapterOptions, loadAdapter } from './adapters.ts';

export interface Unit {
  adapterSpec: string;
  adapterOptions: AdapterOptions;
  profile: string;
  policies: Policies;
  capabilities: Record<string, boolean>;
  topologies: 'any' | Topology[];
  family: string;
  slice: number;
  seed: number;
  runs: number;
  maxSteps: number;
  ignore: string[];
  deadline?: number;
  /** Where to post the number of sequences drawn so far (a MessagePort handed to the worker). */
  progress?: MessagePort;
}

export interface UnitResult {
  family: string;
  slice: number;
  findings: Finding[];
  quality: Violation[];
  coverage: CoverageReport;
  runs: number;
  ms: number;
  interrupted: boolean;
}

const adapters = new Map<string, ReturnType<typeof loadAdapter>>();

export default async function runUnit(u: Unit): Promise<UnitResult> {
  const key = JSON.stringify([u.adapterSpec, u.adapterOptions]);
  let pending = adapters.get(key);
  if (!pending) adapters.set(key, (pending = loadAdapter(u.adapterSpec, u.adapterOptions)));
  const adapter = await pending;
  const r = await runFamily(
    { adapter, profile: u.profile, policies: u.policies, capabilities: u.capabilities, topologies: u.topologies },
    familyById(u.family)!,
    { seed: u.seed, runs: u.runs, maxSteps: u.maxSteps, ignore: u.ignore, deadline: u.deadline, onProgress: (n) => u.progress?.postMessage(n) },
  );
  u.progress?.close();
  return { family: u.family, slice: u.slice, findings: r.findings, quality: r.quality, coverage: r.coverage.toJSON(), runs: r.runs, ms: r.ms, interrupted: r.interrupted };
}
