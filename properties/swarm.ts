// Swarm generation (Groce, Zhang, Eide, Chen, Regehr, "Swarm Testing", ISSTA 2012): each drawn
// sequence switches off a random subset of its family's op kinds. One sequence with every kind
// on spreads its steps thin; one with half of them off repeats the rest, so conjunctions that
// need several ops of a few kinds (map, map, unmap, dma on the same range) come far more often.
//
// The configuration is drawn by fast-check with the sequence, so it is deterministic per seed
// and shrinks like the steps: each switch shrinks toward "on", a minimal counterexample keeps
// off only what it needs off. A family's core kinds (PropertyFamily.core, the ops it exists
// for) are never switched off, so its rules stay reachable in every sequence; kinds switched
// off in one sequence run in the next, and coverage is counted where ops really run (a rule
// nothing exercised is UNCHECKED, never a PASS), so swarm can only move counts, not verdicts.

import fc from 'fast-check';
import type { OpKind } from '../spec/index.ts';
import type { PropertyFamily } from './families.ts';
import type { Weights } from './steps.ts';

/** What one sequence leaves out. */
export interface Swarm {
  /** Op kinds never drawn in this sequence (the interpreter's fallbacks may still send them). */
  off: readonly OpKind[];
}

/** Every kind on: the plain distribution, and what a swarm configuration shrinks to. */
export const FULL_SWARM: Swarm = { off: [] };

/** The family's weighted kinds swarm may switch off: all but its core. */
export function swarmableKinds(family: Pick<PropertyFamily, 'weights' | 'core'>): OpKind[] {
  const core = new Set(family.core ?? []);
  return (Object.entries(family.weights) as [OpKind, number][]).filter(([k, w]) => w > 0 && !core.has(k)).map(([k]) => k);
}

/**
 * One configuration per sequence. A quarter of the sequences keep every kind (the plain
 * distribution: what needs many kinds at once stays as likely as before swarm existed); the
 * others switch each swarmable kind off with probability 1/2, the paper's choice. Both draws
 * shrink toward every kind on.
 */
export function swarmArb(family: Pick<PropertyFamily, 'weights' | 'core'>): fc.Arbitrary<Swarm> {
  const kinds = swarmableKinds(family);
  if (kinds.length === 0) return fc.constant(FULL_SWARM);
  return fc.tuple(fc.nat({ max: 3 }), fc.tuple(...kinds.map(() => fc.boolean())))
    .map(([mode, off]) => (mode === 0 ? FULL_SWARM : { off: kinds.filter((_, i) => off[i]) }));
}

/** The family's weights with the switched-off kinds gone. */
export function swarmWeights(weights: Weights, swarm: Swarm): Weights {
  if (swarm.off.length === 0) return weights;
  const off = new Set(swarm.off);
  return Object.fromEntries(Object.entries(weights).filter(([k]) => !off.has(k as OpKind))) as Weights;
}
