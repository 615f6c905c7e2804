// Replaying one finding: the exact ops of its trace, probes included, sent again to the adapter
// and judged again by the reference, without generation or shrinking. The trace is data, so a
// replay does not depend on the generator of the suite version that found it.

import { relative, dirname, resolve } from 'node:path';
import {
  type Adapter, AdapterFault, type Op, type Outcome, type Topology, ConfigError, adapterText, decodeOp, formatCall, formatOp, isThenable, outcomeShapeProblem, parseHex, resolvePolicies,
} from '../spec/index.ts';
import { ReferenceModel } from '../impl/reference/model.ts';
import type { ReportFinding } from './suite.ts';

export interface ReplayResult {
  /** The adapter still breaks a rule on this trace. */
  failed: boolean;
  /** That rule, when it did. */
  rule: string | null;
  /** The same rule as the stored finding. */
  reproduced: boolean;
  /** The replayed calls, the last one the failing call when there is one. */
  lines: string[];
  expected: string[];
  observed: string;
}

/** A topology as reports store it (64-bit values as hex strings) back to the suite's types. */
export function decodeTopology(json: unknown): Topology {
  const t = json as Topology & { iommus: (Omit<Topology['iommus'][number], 'pgsizes'> & { pgsizes: string })[] };
  if (!t || !Array.isArray(t.iommus) || !Array.isArray(t.groups) || !Array.isArray(t.devices)) throw new ConfigError('the finding carries no topology');
  return { ...t, iommus: t.iommus.map((m) => ({ ...m, pgsizes: parseHex(m.pgsizes) })) };
}

/** An adapter's answer, whether it came at once or as a promise. */
export const settle = async <T>(v: T | Promise<T>): Promise<T> => (isThenable(v) ? await v : v);

export async function replayFinding(adapter: Adapter, f: Pick<ReportFinding, 'rule' | 'ops' | 'topology' | 'adapter' | 'earlierCases' | 'unanswered'>): Promise<ReplayResult> {
  const topology = decodeTopology(f.topology);
  const policies = resolvePolicies(f.adapter.profile, f.adapter.policies);
  const model = new ReferenceModel(topology, policies, f.adapter.capabilities);
  const lines: string[] = [];
  const fail = (rule: string, expected: string[], observed: string): ReplayResult => ({ failed: true, rule, reproduced: rule === f.rule, lines, expected, observed });
  // The cases the process ran first, as it was sent them; their replies were not what failed.
  const earlier = f.earlierCases ?? [];
  if (earlier.length > 0) adapter.restart?.();
  for (const [i, c] of earlier.entries()) {
    lines.push(`case ${i + 1} of ${earlier.length + 1}: reset`);
    let op: Op | null = null;
    try {
      await settle(adapter.reset(decodeTopology(c.topology)));
      for (const entry of c.ops) {
        op = decodeOp(entry.op);
        lines.push(`  ${formatCall(op, await settle(adapter.exec(op)))}`);
      }
    } catch (e) {
      if (!(e instanceof AdapterFault)) throw e;
      lines.push(`  ${op ? formatOp(op) : 'reset'} -> (${e.status})`);
      return fail(e.rule, ['a reply'], e.message);
    }
  }
  if (earlier.length > 0) lines.push(`case ${earlier.length + 1} of ${earlier.length + 1}:`);
  try {
    await settle(adapter.reset(topology));
  } catch (e) {
    if (!(e instanceof AdapterFault)) throw e;
    lines.push(`reset -> (${e.status})`);
    return fail(e.rule, ['a reply to reset'], e.message);
  }
  let post: string | undefined;
  // The ops the process never answered last: a fixed adapter answers them, and is judged on them.
  for (const entry of [...f.ops, ...(f.unanswered ?? []).map((op) => ({ op, probe: false }))]) {
    const op: Op = decodeOp(entry.op);
    let out: Outcome;
    try {
      out = await settle(adapter.exec(op));
    } catch (e) {
      // A transport names what the process did (hung, died, broke the protocol); anything else threw.
      if (e instanceof AdapterFault) {
        lines.push(`${formatOp(op)} -> (${e.status})`);
        return fail(e.rule, ['a reply'], e.message);
      }
      lines.push(`${formatOp(op)} -> threw`);
      return fail('ADAPTER-REPLY', ['a reply'], `threw: ${adapterText(e instanceof Error ? e.message : String(e))}`);
    }
    const shape = outcomeShapeProblem(op, out);
    if (shape) return fail('ADAPTER-REPLY', ['a well-formed reply'], shape);
    lines.push(formatCall(op, out));
    const j = model.judge(op, out);
    if (!j.ok) return fail(j.intrinsic || !entry.probe ? j.rule : (post ?? j.rule), j.expected, j.observed);
    if (!entry.probe) post = j.post;
  }
  return { failed: false, rule: null, reproduced: false, lines, expected: [], observed: '' };
}

/**
 * A standalone vitest file that replays the finding against the adapter module and fails while
 * the bug is there. It imports this suite by relative path, so keep it inside the checkout.
 */
export function emitTest(f: ReportFinding, outFile: string): string {
  const fromOut = (p: string) => {
    const rel = relative(dirname(resolve(outFile)), resolve(p)).split('\\').join('/');
    return rel.startsWith('.') ? rel : `./${rel}`;
  };
  const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
  const adapter = f.adapter.spec.startsWith('builtin:') ? null : fromOut(f.adapter.spec);
  const finding = JSON.stringify({ rule: f.rule, ops: f.ops, topology: f.topology, adapter: f.adapter, ...(f.earlierCases ? { earlierCases: f.earlierCases } : {}) }, null, 2);
  return `// Replays finding ${f.id} (${f.rule}: ${f.title}) found by iommu-conformance.
// It fails while the adapter still breaks the rule on this exact trace; delete it once fixed.
// Minimal trace:
${f.trace.map((l) => `//   ${l}`).join('\n')}

import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { loadAdapter } from '${fromOut(`${root}/runner/adapters.ts`)}';
import { replayFinding } from '${fromOut(`${root}/runner/replay.ts`)}';

const FINDING = ${finding} as const;

test(${JSON.stringify(`${f.rule} ${f.title} (finding ${f.id})`)}, async () => {
  const adapter = await loadAdapter(${adapter ? `fileURLToPath(new URL(${JSON.stringify(adapter)}, import.meta.url))` : JSON.stringify(f.adapter.spec)}, ${JSON.stringify(f.adapter.options ?? { profile: f.adapter.profile, policies: f.adapter.policies })});
  const r = await replayFinding(adapter, FINDING as never).finally(() => adapter.close?.());
  expect(r.failed, [...r.lines, \`expected: \${r.expected.join(' | ')}\`, \`observed: \${r.observed}\`].join('\\n')).toBe(false);
});
`;
}
