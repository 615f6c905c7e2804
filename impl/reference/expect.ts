// An expectation is one legal outcome of an op in a given state: how to recognise it, the
// rules it embodies, and the state it leads to. The reference model answers every op with a
// non-empty list of them; the first is the canonical one it picks when acting as a model.

import { type Errno, type OkValues, type Op, type OpKind, type Outcome, formatOutcome, isFailure } from '../../spec/index.ts';

export interface Expect {
  describe: string;
  matches(o: Outcome): boolean;
  /** The outcome a conforming model would give (absent for predicate-only expectations). */
  canonical?: Outcome;
  /**
   * Every outcome it matches, as patterns (an ok's listed fields equal, others free, those in
   * `optionalFields` may be absent; an err's errno): what a replay script checks without the
   * reference. Absent when `matches` is a predicate no list states.
   */
  accepts?: readonly Outcome[];
  optionalFields?: readonly string[];
  /** Rules this outcome embodies: credited when it matches; the first is named when none does. */
  rules: string[];
  /** Rule blamed when a probe right after this op disagrees with the reference. */
  post?: string;
  /** A legal but not preferred outcome: matching it raises a QUALITY_WARNING. */
  quality?: { rule: string; message: string };
  /** Moves the reference to the next state, given the observed outcome. */
  apply?(o: Outcome): void;
  /** Picks the rule to name when no expectation matched (defaults to rules[0] of the first). */
  blame?(o: Outcome): Blame;
}

/**
 * The rule an unexpected outcome breaks. `intrinsic` says the outcome alone shows which rule it
 * is (a write through a read-only page, another domain's page reached), so a probe's
 * disagreement names it rather than the rule of the op the probe followed.
 */
export interface Blame {
  rule: string;
  intrinsic?: boolean;
}

type OkFields = Record<string, unknown>;

function sameFields(want: OkFields, got: OkFields, optional: ReadonlySet<string>): boolean {
  for (const [k, v] of Object.entries(want)) {
    if (v === undefined) continue;
    if (got[k] === undefined && optional.has(k)) continue;
    if (got[k] !== v) return false;
  }
  return true;
}

const NONE: ReadonlySet<string> = new Set();

export function okExpect<K extends OpKind>(
  op: Op & { op: K },
  value: OkValues[K],
  rules: string[],
  more: Partial<Pick<Expect, 'post' | 'quality' | 'apply' | 'blame'>> & { optionalFields?: ReadonlySet<string> } = {},
): Expect {
  const canonical = { ok: value } as Outcome;
  const optional = more.optionalFields ?? NONE;
  return {
    describe: formatOutcome(op, canonical),
    canonical,
    accepts: [canonical],
    ...(optional.size > 0 ? { optionalFields: [...optional] } : {}),
    matches: (o) => !isFailure(o) && sameFields(value as OkFields, o.ok as OkFields, optional),
    rules,
    post: more.post,
    quality: more.quality,
    apply: more.apply,
    blame: more.blame,
  };
}

export function errExpect(errnos: readonly Errno[], rules: string[], more: Partial<Pick<Expect, 'post' | 'blame' | 'apply'>> = {}): Expect {
  return {
    describe: errnos.join('|'),
    canonical: { err: errnos[0]! },
    accepts: errnos.map((err) => ({ err })),
    matches: (o) => isFailure(o) && errnos.includes(o.err),
    rules,
    post: more.post,
    blame: more.blame,
    apply: more.apply,
  };
}

/** Accumulates the preconditions an op breaks; the union of their errnos is legal because
 * Linux's check order has moved between versions. */
export class Breaks {
  private readonly list: { errnos: Errno[]; rule: string }[] = [];
  add(cond: boolean, errnos: Errno[], rule: string): this {
    if (cond) this.list.push({ errnos, rule });
    return this;
  }
  get any(): boolean {
    return this.list.length > 0;
  }
  /** Probes after the failure blame `post`, by default the first broken rule: it says nothing changes. */
  expect(post?: string): Expect[] {
    const errnos = [...new Set(this.list.flatMap((b) => b.errnos))];
    const rule = this.list[0]!.rule;
    return [errExpect(errnos, [rule], { post: post ?? rule })];
  }
}
