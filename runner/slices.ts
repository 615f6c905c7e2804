// How a run is cut up: shards (separate machines or jobs, `--shard i/n`) and worker slices
// (threads of one run) each take their own deterministic seed, so the same command line gives
// the same sequences, and n shards of one seed never repeat each other's sequences.

import { ConfigError } from '../spec/index.ts';

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

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new ConfigError(`--shard must be i/n with 1 <= i <= n, got '${text}'`);
  // Users count shards from 1 (GitHub matrices, Kubernetes completion indexes + 1); inside, from 0.
  return { index: index - 1, count };
}
