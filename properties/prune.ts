// The post-shrink pass. fast-check shrinks the drawn raw steps, and removing one changes how
// every later step is interpreted (which handle it picks), so many removals fail to reproduce
// and noise survives: unused domain_allocs, maps into domains never used again, a failed
// attach, a repeated flush. Here the trace is pruned as concrete ops instead: drop every op of
// one handle, or one op, and keep the deletion when the same rule still fails (delta
// debugging, one element at a time, to a fixpoint within a budget of runs).

import { OP_FIELDS, type Op } from '../spec/index.ts';
import type { SequenceResult, Violation } from './checker.ts';

export interface Pruned {
  violation: Violation;
  /** Drawn ops deleted. */
  removed: number;
  /** Candidate sequences run. */
  runs: number;
}

/** The drawn ops of a failing trace, in order: what the pass deletes from (the last is kept). */
export function drawnOps(v: Violation): Op[] {
  return v.trace.filter((e) => !e.probe).map((e) => e.op);
}

function handles(op: Op): string[] {
  const rec = op as unknown as Record<string, unknown>;
  return OP_FIELDS[op.op].fields.filter(([, kind]) => kind === 'handle').map(([name]) => rec[name]).filter((h): h is string => typeof h === 'string');
}

/**
 * Candidates, most deleted first: every op naming one handle the last op does not name (a
 * domain never used again goes with its maps), then each single op but the last, latest first.
 */
function candidates(ops: readonly Op[]): Op[][] {
  const last = ops[ops.length - 1]!;
  const keep = new Set(handles(last));
  const out: Op[][] = [];
  const seen = new Set<string>();
  for (const h of new Set(ops.slice(0, -1).flatMap(handles))) {
    if (keep.has(h)) continue;
    const without = ops.filter((op) => !handles(op).includes(h));
    if (without.length < ops.length && without.length > 0) out.push(without);
  }
  for (let i = ops.length - 2; i >= 0; i--) out.push([...ops.slice(0, i), ...ops.slice(i + 1)]);
  return out.filter((c) => {
    const key = JSON.stringify(c, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Deletes drawn ops while `run` still fails the same way (by default the same rule and status;
 * a run that sets findings aside by shape asks for the same shape). `budget` bounds the
 * candidate runs; `stopped` ends the pass early (a deadline): what was kept so far stands.
 */
export async function pruneSteps(
  found: Violation,
  run: (ops: readonly Op[]) => SequenceResult | Promise<SequenceResult>,
  budget: number,
  stopped: () => boolean = () => false,
  same: (a: Violation, b: Violation) => boolean = (a, b) => a.rule === b.rule && a.status === b.status,
): Promise<Pruned> {
  let best = found;
  let runs = 0;
  const before = drawnOps(found).length;
  for (let progress = true; progress && runs < budget && !stopped();) {
    progress = false;
    for (const ops of candidates(drawnOps(best))) {
      if (runs >= budget || stopped()) break;
      runs++;
      const v = (await run(ops)).violation;
      if (v && same(v, best) && drawnOps(v).length < drawnOps(best).length) {
        best = v;
        progress = true;
        break;
      }
    }
  }
  return { violation: best, removed: before - drawnOps(best).length, runs };
}
