// One bug, many rules. After a finding the run sets its rule aside and keeps looking, so one
// root cause comes back under other rules (a map that fails part way and keeps its pieces shows
// as MAP-ATOMIC, then MAP-RANGE, then UNMAP-SYM when a later unmap meets the pieces). The
// checker sees a table only at the edges of what an op touched; a finding's trace, replayed
// with the table read at every page an op of the trace touched (first, middle, last) after
// every op, shows where the adapter first went wrong. Findings that first go wrong at the same
// kind of op, failing or not, and wrong in the same way (its reply, or the table it left) share
// their cause: the one that reports it at that op (the most specific) comes first, the others
// are listed under it. Coarse on purpose: two bugs of one op kind may be listed together, each
// still shown with its own trace; state only an allocator holds (PASIDs) is not read.

import { type Adapter, AdapterFault, ConfigError, type Op, type Outcome, RunInterrupted, type Topology, decodeOp, formatCall, isFailure, resolvePolicies } from '../spec/index.ts';
import { ReferenceModel } from '../impl/reference/model.ts';
import { decodeTopology, settle } from './replay.ts';
import type { ReportFinding } from './suite.ts';

/** Why a finding is listed under another. */
export interface SameCause {
  id: string;
  rule: string;
  why: string;
}

/** Where a trace first goes wrong: its signature, the index of the op and the call. */
interface Divergence {
  signature: string;
  index: number;
  call: string;
}

/** Reads per range at most: every page of a small range, evenly spaced pages of a large one. */
const READS_PER_RANGE = 64n;

/** Page addresses a map or unmap touched: all of a small range, READS_PER_RANGE spread over a large one, its last page always. */
function touched(op: Op, granule: bigint): bigint[] {
  if ((op.op !== 'map' && op.op !== 'unmap') || op.size === 0n || granule === 0n) return [];
  const pages = (op.size + granule - 1n) / granule;
  const step = pages <= READS_PER_RANGE ? 1n : pages / READS_PER_RANGE;
  const out: bigint[] = [];
  for (let i = 0n; i < pages; i += step) out.push(op.iova + i * granule);
  const last = op.iova + op.size - 1n;
  out.push(last - (last % granule));
  return out;
}

/** Replays `f`'s trace reading the table after every op; null when it never goes wrong (or cannot be replayed). */
async function firstDivergence(adapter: Adapter, f: ReportFinding): Promise<Divergence | null> {
  const topology: Topology = decodeTopology(f.topology);
  const model = new ReferenceModel(topology, resolvePolicies(f.adapter.profile, f.adapter.policies), f.adapter.capabilities);
  const readable = f.adapter.capabilities.iova_to_phys !== false;
  const points = new Map<string, Set<bigint>>();
  // Normalised: the drawn op whose effect is wrong (a failing probe names the op it followed),
  // whether it failed or not, and whether its reply or the table it left is wrong.
  const at = (op: Op, out: Outcome, index: number, what: 'reply' | 'table'): Divergence => ({ signature: `${op.op} -> ${isFailure(out) ? 'err' : 'ok'}, its ${what} wrong`, index, call: formatCall(op, out) });
  let drawn: { op: Op; out: Outcome; index: number } | null = null;
  await settle(adapter.reset(topology));
  for (const [index, entry] of f.ops.entries()) {
    const op = decodeOp(entry.op);
    const out: Outcome = await settle(adapter.exec(op));
    const j = model.judge(op, out);
    if (!j.ok) return entry.probe && drawn ? at(drawn.op, drawn.out, drawn.index, 'table') : at(op, out, index, 'reply');
    if (entry.probe) continue;
    drawn = { op, out, index };
    if (!readable || (op.op !== 'map' && op.op !== 'unmap')) continue;
    const d = model.domain(op.domain);
    if (!d) continue;
    const granule = d.pgsizes & -d.pgsizes;
    const set = points.get(op.domain) ?? new Set<bigint>();
    for (const p of touched(op, granule)) set.add(p);
    points.set(op.domain, set);
    for (const [domain, pages] of points) {
      if (!model.domain(domain)) continue;
      for (const iova of pages) {
        const look: Op = { op: 'iova_to_phys', domain, iova };
        const seen = model.judge(look, await settle(adapter.exec(look)));
        if (!seen.ok) return at(op, out, index, 'table');
      }
    }
  }
  return null;
}

/** Index of the op a finding failed at: its last trace entry. */
const failingIndex = (f: ReportFinding) => f.ops.length - 1;

/**
 * Marks each FAIL finding whose trace first goes wrong as another's does (`sameCauseAs`) and
 * orders the list roots first, each followed by the findings under it. A finding whose trace
 * cannot be replayed here (a process that dies, a trace that no longer fails) stays as it is.
 */
export async function groupByCause(adapter: Adapter, findings: ReportFinding[], stopping: () => boolean): Promise<ReportFinding[]> {
  const firstWrong = new Map<string, Divergence>();
  for (const f of findings) {
    if (stopping()) break;
    if (f.status !== 'FAIL' || f.earlierCases || f.ops.length === 0) continue;
    try {
      adapter.restart?.();
      const d = await firstDivergence(adapter, f);
      if (d) firstWrong.set(f.id, d);
    } catch (e) {
      if (e instanceof ConfigError || e instanceof AdapterFault || e instanceof RunInterrupted) continue;
      throw e;
    }
  }
  const under = new Map<string, SameCause>();
  const groups = new Map<string, ReportFinding[]>();
  for (const f of findings) {
    const d = firstWrong.get(f.id);
    if (d) groups.set(d.signature, [...(groups.get(d.signature) ?? []), f]);
  }
  for (const [signature, members] of groups) {
    if (members.length < 2) continue;
    // The most specific: the finding that reports the bug at the op where the trace first goes wrong.
    const root = members.find((f) => firstWrong.get(f.id)!.index === failingIndex(f)) ?? members[0]!;
    for (const f of members) {
      if (f === root) continue;
      const d = firstWrong.get(f.id)!;
      under.set(f.id, { id: root.id, rule: root.rule, why: `its trace first goes wrong at ${d.call} (op ${d.index + 1}), read through iova_to_phys at every page an op touched, as ${root.rule}'s does (${signature}): the same cause` });
    }
  }
  const marked = findings.map((f) => (under.has(f.id) ? { ...f, sameCauseAs: under.get(f.id)! } : f));
  return marked.filter((f) => !under.has(f.id)).flatMap((r) => [r, ...marked.filter((f) => under.get(f.id)?.id === r.id)]);
}
