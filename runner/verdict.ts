// From what a run saw to what it says: a status per rule, with the reason wherever the status is
// not a plain verdict, and the family table. A rule nothing exercised is never a PASS: it is
// UNCHECKED (or INTERRUPTED, or NOT_SUPPORTED) and says why. The table gives every rule one row,
// so its rows add up to the summary line.

import {
  type Capabilities, FAILING, type KitInfo, type Policies, type Rule, RULES, type Status, policyDef, worst,
} from '../spec/index.ts';
import type { PropertyFamily } from '../properties/families.ts';
import type { FamilyResult } from '../properties/property.ts';

export type Counts = Record<Status, number>;

export const emptyCounts = (): Counts => ({ PASS: 0, FAIL: 0, NOT_SUPPORTED: 0, QUALITY_WARNING: 0, ADAPTER_ERROR: 0, TIMEOUT: 0, CRASH: 0, INTERRUPTED: 0, UNCHECKED: 0 });

export interface RuleRow {
  id: string;
  family: string;
  level: string;
  title: string;
  status: Status;
  /** How often the run exercised the rule (a reply judged by it, a look at the state agreeing). */
  checks: number;
  /** Why a rule is not a plain PASS or FAIL: not supported, unchecked, interrupted. */
  reason?: string;
}

export interface FamilyLine {
  id: string;
  title: string;
  runs: number;
  ms: number;
  ops: number;
  /** The rules this row counts: each rule is counted in exactly one row. */
  rules: string[];
  counts: Counts;
}

/** The row that counts the rules no chosen family lists (the adapter's protocol rules, mostly). */
export const OTHER_ROW = { id: 'other-rules', title: 'Rules no chosen family lists: the adapter protocol, and families not run' } as const;

export interface VerdictInput {
  families: readonly PropertyFamily[];
  /** The families that could run (their capabilities declared). */
  runnable: readonly PropertyFamily[];
  results: ReadonlyMap<string, FamilyResult>;
  findings: readonly { rule: string; status: Status }[];
  quality: readonly { rule: string }[];
  ruleChecks: ReadonlyMap<string, number>;
  /** Checks made only on a guest-driver kit's own replies (AdapterInfo.kit), never the model's. */
  kitChecks?: ReadonlyMap<string, number>;
  kit?: KitInfo;
  /** Steps and sequences the adapter answered: what the adapter rules are exercised by. */
  steps: number;
  sequences: number;
  capabilities: Capabilities;
  policies: Policies;
  /** The adapter runs under supervision (a process): crashes and hangs can be seen at all. */
  supervised: boolean;
  /** A signal stopped the run. */
  stopped: boolean;
  /** One case was replayed (`--path`), not a search. */
  replay: boolean;
}

/** Rules a run cannot judge for this adapter, with the reason. */
export function notSupported(rule: Rule, caps: Capabilities, policies: Policies, supervised: boolean): string | null {
  const missing = rule.capabilities.filter((c) => !caps[c]);
  if (missing.length > 0) return `capability ${missing.join(', ')} not declared`;
  for (const key of rule.policies) {
    const why = policyDef(key)?.inapplicable?.[policies[key]];
    if (why) return `${key}=${policies[key]}: ${why}`;
  }
  const only = rule.onlyUnder;
  if (only && !only.values.includes(policies[only.policy])) return `${only.policy}=${policies[only.policy]}: ${only.why}`;
  if (!supervised && (rule.id === 'ADAPTER-CRASH' || rule.id === 'ADAPTER-TIMEOUT')) return 'an adapter object run in the caller\'s process is not supervised: nothing can see it crash or hang (the command line and loadAdapter run it in a process of its own)';
  return null;
}

/** Why a rule that nothing exercised says nothing: the most specific cause the run knows. */
function uncheckedReason(rule: Rule, v: VerdictInput): string {
  if (v.replay) return 'the replayed case does not reach it';
  const listing = v.families.filter((f) => f.rules.includes(rule.id));
  const ran = listing.map((f) => v.results.get(f.id)).filter((r): r is FamilyResult => r !== undefined);
  const gaveUp = ran.find((r) => r.stopped);
  if (gaveUp) return `family ${gaveUp.family} stopped running cases: ${gaveUp.stopped}`;
  const cut = new Map<string, number>();
  for (const r of v.results.values()) for (const [id, n] of Object.entries(r.cutShort)) cut.set(id, (cut.get(id) ?? 0) + n);
  if (cut.size > 0) {
    const which = [...cut].sort((a, b) => b[1] - a[1]).map(([id, n]) => `${id} in ${n}`).join(', ');
    return `set aside after an earlier finding: sequences ended at rules already reported (${which} sequences) before reaching it`;
  }
  if (ran.some((r) => r.interrupted)) return 'the budget ended (time or signal) before any case reached it';
  if (listing.length > 0 && ran.length === 0) return `its famil${listing.length === 1 ? 'y' : 'ies'} (${listing.map((f) => f.id).join(', ')}) did not run`;
  return `no generated case reached it in ${v.sequences} sequence${v.sequences === 1 ? '' : 's'}`;
}

export function ruleVerdicts(v: VerdictInput): RuleRow[] {
  return RULES.map((rule) => {
    let status: Status = 'PASS';
    let reason: string | undefined;
    for (const f of v.findings) if (f.rule === rule.id) status = worst(status, f.status);
    if (status === 'PASS' && v.quality.some((q) => q.rule === rule.id)) status = 'QUALITY_WARNING';
    // Every reply checks its shape; every test case a supervised process survives checks the other two.
    const checks = v.ruleChecks.get(rule.id) ?? (rule.id === 'ADAPTER-REPLY' ? v.steps : rule.family === 'adapter' && v.supervised ? v.sequences : 0);
    if (status === 'PASS') {
      const ns = notSupported(rule, v.capabilities, v.policies, v.supervised);
      if (ns) {
        status = 'NOT_SUPPORTED';
        reason = ns;
      } else if (checks === 0 && (v.kitChecks?.get(rule.id) ?? 0) > 0) {
        // Held, but only by replies the kit's software gave: nothing about the model.
        status = 'NOT_SUPPORTED';
        reason = `exercised only through replies of ${v.kit?.name ?? 'the guest-driver kit'}'s own software (${v.kitChecks!.get(rule.id)} checks on ${v.kit?.ops.join(', ') ?? 'its ops'}), never through the device`;
      } else if (checks === 0) {
        // Never a pass: a rule nothing exercised says nothing.
        status = v.stopped ? 'INTERRUPTED' : 'UNCHECKED';
        reason = v.stopped ? 'the run was stopped before any case reached it' : uncheckedReason(rule, v);
      }
    }
    return { id: rule.id, family: rule.family, level: rule.level, title: rule.title, status, checks, ...(reason ? { reason } : {}) };
  });
}

/**
 * One row per chosen family, then one for the rest. A rule is counted in the first chosen family
 * (catalogue order) that lists it, with its final status, so the rows add up to the summary.
 */
export function familyRows(families: readonly PropertyFamily[], results: ReadonlyMap<string, FamilyResult>, rules: readonly RuleRow[]): FamilyLine[] {
  const status = new Map(rules.map((r) => [r.id, r.status]));
  const placed = new Set<string>();
  const row = (id: string, title: string, ids: string[], r?: FamilyResult): FamilyLine => {
    const counts = emptyCounts();
    for (const rule of ids) counts[status.get(rule)!]++;
    const ops = r ? [...r.coverage.ops.values()].reduce((s, o) => s + o.total, 0) : 0;
    return { id, title, runs: r?.runs ?? 0, ms: r?.ms ?? 0, ops, rules: ids, counts };
  };
  const lines = families.map((fam) => {
    const own = fam.rules.filter((id) => status.has(id) && !placed.has(id));
    for (const id of own) placed.add(id);
    return row(fam.id, fam.title, own, results.get(fam.id));
  });
  const rest = rules.map((r) => r.id).filter((id) => !placed.has(id));
  return rest.length > 0 ? [...lines, row(OTHER_ROW.id, OTHER_ROW.title, rest)] : lines;
}

export function summarize(rules: readonly RuleRow[], gateFailed: boolean): Counts & { exitCode: number } {
  const summary = { ...emptyCounts(), exitCode: 0 };
  for (const r of rules) summary[r.status]++;
  summary.exitCode = rules.some((r) => FAILING.has(r.status)) || gateFailed ? 1 : 0;
  return summary;
}
