// Shared fixtures for the tests: a small fixed topology that reaches every attach rule, a
// reference model built on it, and helpers that read a reply without ceremony.

import { expect } from 'vitest';
import {
  type Capabilities, type DomainType, GiB, KiB, MiB, type Op, type Outcome, type Policies, PROT, type Topology,
  formatCall, isFailure, resolvePolicies,
} from '../spec/index.ts';
import { ReferenceModel } from '../impl/reference/model.ts';
import type { TraceEntry } from '../properties/checker.ts';
import { tagged } from '../runner/stdio/reap.ts';

export const SZ_4K = 4n * KiB;
export const SZ_2M = 2n * MiB;
export const SZ_1G = GiB;
/** The x86 / Arm 4K-granule bitmap of the iommupt KUnit tests. */
export const PG_4K_2M_1G = SZ_4K | SZ_2M | SZ_1G;
export const RW = PROT.READ | PROT.WRITE;

const ALL_TYPES: DomainType[] = ['blocked', 'identity', 'paging', 'dma', 'dma_fq', 'sva', 'nested'];

export interface FixedTopologyOptions {
  /** Address widths of m0 (the IOMMU behind dev0, dev1, dev2). */
  ias?: number;
  oas?: number;
}

/**
 * Three IOMMUs chosen so that every attach rule has a two-op witness:
 * - m0: lpae, 4K|2M|1G, 48/48 bits, 3 contexts (g0's dma default holds one), 20 PASID bits.
 *   g0 (dma default): dev0, dev0b (16 PASIDs each); g1, g2 (identity default): dev1, dev2.
 * - m1: lpae too, but only 4K|2M and 39/40 bits, no PASIDs (seed 000: same format, smaller bitmap).
 *   g3 (dma default): dev3.
 * - m2: amdv1, another page-table format. g4 (dma default): dev4.
 */
export function fixedTopology(opts: FixedTopologyOptions = {}): Topology {
  return {
    iommus: [
      { name: 'm0', format: 'lpae', pgsizes: PG_4K_2M_1G, ias: opts.ias ?? 48, oas: opts.oas ?? 48, contexts: 3, pasidBits: 20, domainTypes: ALL_TYPES },
      { name: 'm1', format: 'lpae', pgsizes: SZ_4K | SZ_2M, ias: 39, oas: 40, contexts: 8, pasidBits: 0, domainTypes: ALL_TYPES.filter((t) => t !== 'sva') },
      { name: 'm2', format: 'amdv1', pgsizes: PG_4K_2M_1G, ias: 48, oas: 48, contexts: 8, pasidBits: 20, domainTypes: ALL_TYPES },
    ],
    groups: [
      { name: 'g0', iommu: 'm0', defaultDomain: 'dma' },
      { name: 'g1', iommu: 'm0', defaultDomain: 'identity' },
      { name: 'g2', iommu: 'm0', defaultDomain: 'identity' },
      { name: 'g3', iommu: 'm1', defaultDomain: 'dma' },
      { name: 'g4', iommu: 'm2', defaultDomain: 'dma' },
    ],
    devices: [
      { name: 'dev0', group: 'g0', maxPasids: 16 },
      { name: 'dev0b', group: 'g0', maxPasids: 16 },
      { name: 'dev1', group: 'g1', maxPasids: 1024 },
      { name: 'dev2', group: 'g2', maxPasids: 1024 },
      { name: 'dev3', group: 'g3', maxPasids: 0 },
      { name: 'dev4', group: 'g4', maxPasids: 1024 },
    ],
  };
}

export const DEFAULT_CAPS: Capabilities = { leaves: true, dma_phys: true };

export function policies(declared: Partial<Record<string, string>> = {}): Policies {
  return resolvePolicies('linux', declared);
}

export function refModel(declared: Partial<Record<string, string>> = {}, topology: Topology = fixedTopology(), caps: Capabilities = DEFAULT_CAPS): ReferenceModel {
  return new ReferenceModel(topology, policies(declared), caps);
}

/** Plays `op` on the model and asserts it succeeded; returns the ok values. */
export function ok(m: ReferenceModel, op: Op): Record<string, unknown> {
  const o = m.act(op);
  if (isFailure(o)) expect.fail(`expected success: ${formatCall(op, o)}`);
  return o.ok as Record<string, unknown>;
}

/** Allocates a domain of `type` for `dev` (a paging domain unless told otherwise). */
export function alloc(m: ReferenceModel, domain: string, dev = 'dev0', type: DomainType = 'paging', extra: Partial<Op> = {}): void {
  ok(m, { op: 'domain_alloc', domain, type, dev, ...extra } as Op);
}

export function map(m: ReferenceModel, domain: string, iova: bigint, paddr: bigint, size: bigint, prot: number = RW): Outcome {
  return m.act({ op: 'map', domain, iova, paddr, size, prot });
}

export function unmap(m: ReferenceModel, domain: string, iova: bigint, size: bigint): Outcome {
  return m.act({ op: 'unmap', domain, iova, size });
}

/** iova_to_phys through the model (0 = unmapped). */
export function phys(m: ReferenceModel, domain: string, iova: bigint): bigint {
  return ok(m, { op: 'iova_to_phys', domain, iova }).phys as bigint;
}

/** A device read: the physical address reached, or 'FAULT'. */
export function dma(m: ReferenceModel, dev: string, iova: bigint, access: 'r' | 'w' = 'r', pasid?: number): bigint | 'FAULT' {
  const op: Op = pasid === undefined ? { op: 'dma', dev, iova, access } : { op: 'dma', dev, iova, access, pasid };
  const o = m.act(op);
  if (isFailure(o)) {
    expect(o.err).toBe('FAULT');
    return 'FAULT';
  }
  return (o.ok as { phys: bigint }).phys;
}

export function formatTrace(trace: readonly TraceEntry[]): string {
  return trace.map((e) => `${e.probe ? '    ' : '  '}${formatCall(e.op, e.outcome)}`).join('\n');
}

export function nonProbe(trace: readonly TraceEntry[]): number {
  return trace.filter((e) => !e.probe).length;
}

/**
 * A real third-party target that could not be obtained: a failure under CI=true, where it must
 * run; elsewhere a banner nobody can miss, then the test is skipped with the reason.
 */
export function unavailableTarget(ctx: { skip: (note?: string) => never }, what: string, why: string): never {
  return unavailable(ctx, what, `${what} cannot be fetched here: ${why}`);
}

/**
 * Something a test needs from the machine is missing: a failure under CI=true, where `.ci/run`
 * installs it; elsewhere a banner nobody can miss, then the test is skipped with the reason.
 */
export function unavailable(ctx: { skip: (note?: string) => never }, what: string, reason: string): never {
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: it must run)`);
  console.warn(`\n${'!'.repeat(78)}\n!! SKIPPING ${what}: ${reason}\n${'!'.repeat(78)}\n`);
  return ctx.skip(reason);
}

/**
 * A generous bound on how long a run of `sequences` test cases may take, for timeouts that only
 * guard against a hang: a case costs about a millisecond on a quiet machine; this allows 50, and
 * 5 s for each adapter process the run is expected to start (a crash or hang restarts it). A run
 * that finds something also shrinks it: add SHRINK_RUNS per finding to `sequences`.
 */
/** fast-check reruns the property while shrinking one finding: a few hundred times here, never seen above 2000. */
export const SHRINK_RUNS = 3000;

export function hangGuardMs(sequences: number, restarts = 0): number {
  return 60_000 + sequences * 50 + restarts * 5_000;
}

/** Processes (other than this one) whose environment carries `name=value`. */
export function processesTagged(name: string, value: string): number[] {
  return tagged(name, value);
}
