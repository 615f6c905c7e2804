// How a run is cut up: shards (separate machines or jobs, `--shard i/n`) and worker slices
// (threads of one run) each take their own deterministic seed, so the same command line gives
// the same sequences, and n shards of one seed never repeat each other's sequences.

import { ConfigError } from '../spec/index.ts';
import type { PropertyFamily } from '../properties/families.ts';

/** Far apart so slices' fast-check seeds (and the per-round offsets runFamily adds) never meet. */
const SLICE_STRIDE = 1_000_003;

export interface Shard {
  index: number;
  count: number;
}

/** Slice 0 of shard 0 keeps the base seed: a plain one-worker run is unchanged by all this. */
export function sliceSeed(seed: number, shard: Shard, slice: number): number {
  const global = shard.index + shard.count * slice;
  return (seed + global * SLICE_STRIDE) % 0x7fffffff;
}

/** `runs` split into `parts` near-equal budgets, the larger ones first. */
export function splitRuns(runs: number, parts: number): number[] {
  const base = Math.floor(runs / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < runs % parts ? 1 : 0)).filter((n) => n > 0);
}

/**
 * Slices per family and worker in a run bounded by --runs. With one slice per worker the pool
 * ends on two halves of one family whose costs differ by their seeds; smaller slices, the
 * dearest first, leave only a small slice running while the other worker idles.
 */
export const SLICES_PER_WORKER = 2;

/**
 * Wall time per run of each family against the reference, relative to symmetric-unmap (one
 * worker, seed 1, 2000 runs; fault-injection's includes its budget share). Only the order in
 * which the pool takes slices depends on it, never what a slice draws; a family missing here
 * counts as the dearest, so it starts early.
 */
export const FAMILY_COST: Readonly<Record<string, number>> = {
  'symmetric-unmap': 1, 'page-size-alignment': 0.83, 'iotlb': 0.74, 'attach': 0.59,
  'domain-types': 0.48, 'sva': 0.43, 'pasid-lifetime': 0.27, 'fault-injection': 0.21,
};

export interface PlannedSlice {
  family: string;
  /** Index of the family in the run's list (for its share of a time budget). */
  familyIndex: number;
  slice: number;
  runs: number;
}

/**
 * The slices of a parallel run, in the order the pool takes them. Under --runs every family is
 * cut into SLICES_PER_WORKER × workers slices taken dearest first; under a time budget each
 * family has one slice per worker (each runs until its family's share of the clock is spent),
 * in family order. Which slices exist (and so their seeds and budgets) is a pure function of
 * the families, runs and workers; the order only decides which thread runs what, and when.
 */
export function planSlices(families: readonly PropertyFamily[], runs: number, workers: number, timed: boolean): PlannedSlice[] {
  const perSlice = timed ? Array.from({ length: workers }, () => runs) : splitRuns(runs, workers * SLICES_PER_WORKER);
  const planned = families.flatMap((fam, familyIndex) => perSlice.map((n, slice) => ({ family: fam.id, familyIndex, slice, runs: n })));
  if (timed) return planned;
  const cost = (p: PlannedSlice) => (FAMILY_COST[p.family] ?? Math.max(...Object.values(FAMILY_COST))) * p.runs;
  // Array.prototype.sort is stable: equal costs keep family, then slice, order.
  return planned.sort((a, b) => cost(b) - cost(a));
}

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new ConfigError(`--shard must be i/n with 1 <= i <= n, got '${text}'`);
  // Users count shards from 1 (GitHub matrices, Kubernetes completion indexes + 1); inside, from 0.
  return { index: index - 1, count };
}
