// One unit of parallel work: a slice of one property family against an adapter the worker
// loads itself (by the same spec the command line named; it runs in a process of its own).
// Results cross the thread boundary by structured clone, which keeps bigints; coverage travels
// as its JSON form. Findings and progress go back on the unit's port as they happen; a 'stop'
// on the port ends the family at once.

import type { MessagePort } from 'node:worker_threads';
import type { Adapter, OpKind, Policies, Topology } from '../spec/index.ts';
import type { CoverageReport } from '../properties/coverage.ts';
import type { Violation } from '../properties/checker.ts';
import { familyById } from '../properties/families.ts';
import { type Finding, runFamily } from '../properties/property.ts';
import type { SetAsideBy } from '../properties/shape.ts';
import { type AdapterOptions, loadAdapter } from './adapters.ts';

export interface Unit {
  adapterSpec: string;
  adapterOptions: AdapterOptions;
  profile: string;
  policies: Policies;
  capabilities: Record<string, boolean>;
  topologies: 'any' | Topology[];
  kitOps?: OpKind[];
  family: string;
  slice: number;
  seed: number;
  runs: number;
  maxSteps: number;
  swarm?: boolean;
  ignore: string[];
  setAsideBy?: SetAsideBy;
  deadline?: number;
  /** The unit's channel back to the main thread (progress, findings) and from it ('stop'). */
  port?: MessagePort;
}

export type UnitMessage = { kind: 'progress'; sequences: number } | { kind: 'finding'; finding: Finding };

export interface UnitResult {
  family: string;
  slice: number;
  findings: Finding[];
  quality: Violation[];
  coverage: CoverageReport;
  runs: number;
  ms: number;
  interrupted: boolean;
  stopped?: string;
  cutShort: Record<string, number>;
}

const adapters = new Map<string, Promise<Adapter>>();

export default async function runUnit(u: Unit): Promise<UnitResult> {
  const key = JSON.stringify([u.adapterSpec, u.adapterOptions]);
  let pending = adapters.get(key);
  if (!pending) adapters.set(key, (pending = loadAdapter(u.adapterSpec, u.adapterOptions)));
  const adapter = await pending;
  const stop = new AbortController();
  u.port?.on('message', (m: unknown) => m === 'stop' && stop.abort());
  const post = (m: UnitMessage) => u.port?.postMessage(m);
  try {
    const r = await runFamily(
      { adapter, profile: u.profile, policies: u.policies, capabilities: u.capabilities, topologies: u.topologies, kitOps: u.kitOps },
      familyById(u.family)!,
      {
        seed: u.seed, runs: u.runs, maxSteps: u.maxSteps, swarm: u.swarm, ignore: u.ignore, setAsideBy: u.setAsideBy, deadline: u.deadline, signal: stop.signal,
        onProgress: (n) => post({ kind: 'progress', sequences: n }),
        onFinding: (f) => post({ kind: 'finding', finding: f }),
      },
    );
    return {
      family: u.family, slice: u.slice, findings: r.findings, quality: r.quality, coverage: r.coverage.toJSON(), runs: r.runs, ms: r.ms,
      interrupted: r.interrupted, cutShort: r.cutShort, ...(r.stopped !== undefined ? { stopped: r.stopped } : {}),
    };
  } finally {
    u.port?.close();
  }
}

/** Run by the pool before a worker ends: every adapter process this worker started goes with it. */
export async function teardown(): Promise<void> {
  const all = [...adapters.values()];
  adapters.clear();
  await Promise.all(all.map(async (p) => (await p.catch(() => null))?.close?.()));
}
