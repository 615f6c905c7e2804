// Coverage accounting: how often each op kind ran and ended in each outcome, how often each
// rule was exercised, and how many drawn steps were skipped. fast-check's statistics only see
// generated values, so this counts inside the run, where the ops really execute.

import { type Op, type OpKind, type Outcome, isFailure } from '../spec/index.ts';

export interface CoverageReport {
  ops: Record<string, { total: number; probes: number; outcomes: Record<string, number> }>;
  rules: Record<string, number>;
  /** Checks made only on replies a guest-driver kit answered (AdapterInfo.kit): never the model's. */
  kitRules?: Record<string, number>;
  sequences: number;
  steps: number;
  skipped: number;
}

export class Coverage {
  readonly ops = new Map<OpKind, { total: number; probes: number; outcomes: Map<string, number> }>();
  readonly rules = new Map<string, number>();
  readonly kitRules = new Map<string, number>();
  sequences = 0;
  steps = 0;
  skipped = 0;

  op(op: Op, outcome: Outcome, probe: boolean): void {
    let c = this.ops.get(op.op);
    if (!c) this.ops.set(op.op, (c = { total: 0, probes: 0, outcomes: new Map() }));
    c.total++;
    if (probe) c.probes++;
    else this.steps++;
    const key = isFailure(outcome) ? outcome.err : 'ok';
    c.outcomes.set(key, (c.outcomes.get(key) ?? 0) + 1);
  }

  credit(rules: readonly string[]): void {
    for (const r of rules) this.rules.set(r, (this.rules.get(r) ?? 0) + 1);
  }

  /** Rules a reply of the kit's own software held to: counted apart, never as the model's checks. */
  creditKit(rules: readonly string[]): void {
    for (const r of rules) this.kitRules.set(r, (this.kitRules.get(r) ?? 0) + 1);
  }

  merge(other: Coverage): void {
    for (const [k, v] of other.ops) {
      let c = this.ops.get(k);
      if (!c) this.ops.set(k, (c = { total: 0, probes: 0, outcomes: new Map() }));
      c.total += v.total;
      c.probes += v.probes;
      for (const [o, n] of v.outcomes) c.outcomes.set(o, (c.outcomes.get(o) ?? 0) + n);
    }
    for (const [r, n] of other.rules) this.rules.set(r, (this.rules.get(r) ?? 0) + n);
    for (const [r, n] of other.kitRules) this.kitRules.set(r, (this.kitRules.get(r) ?? 0) + n);
    this.sequences += other.sequences;
    this.steps += other.steps;
    this.skipped += other.skipped;
  }

  /** Generated ops of a kind, probes excluded. */
  drawn(kind: OpKind): number {
    const c = this.ops.get(kind);
    return c ? c.total - c.probes : 0;
  }

  get skipRate(): number {
    const drawn = this.steps + this.skipped;
    return drawn === 0 ? 0 : this.skipped / drawn;
  }

  static fromJSON(r: CoverageReport): Coverage {
    const c = new Coverage();
    for (const [k, v] of Object.entries(r.ops)) c.ops.set(k as OpKind, { total: v.total, probes: v.probes, outcomes: new Map(Object.entries(v.outcomes)) });
    for (const [k, n] of Object.entries(r.rules)) c.rules.set(k, n);
    for (const [k, n] of Object.entries(r.kitRules ?? {})) c.kitRules.set(k, n);
    c.sequences = r.sequences;
    c.steps = r.steps;
    c.skipped = r.skipped;
    return c;
  }

  toJSON(): CoverageReport {
    const ops: CoverageReport['ops'] = {};
    for (const [k, v] of [...this.ops].sort(([a], [b]) => a.localeCompare(b))) {
      ops[k] = { total: v.total, probes: v.probes, outcomes: Object.fromEntries([...v.outcomes].sort(([a], [b]) => a.localeCompare(b))) };
    }
    const sorted = (m: Map<string, number>) => Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));
    return {
      ops, rules: sorted(this.rules), ...(this.kitRules.size > 0 ? { kitRules: sorted(this.kitRules) } : {}),
      sequences: this.sequences, steps: this.steps, skipped: this.skipped,
    };
  }
}
