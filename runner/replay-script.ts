// A finding as a replay script for authors who live in C: plain NDJSON that the SDK's
// `iommu-replay` program (impl/sdk/c/replay/) runs against any stdio adapter without Node.
// Each line is one request and, where the reference's outcomes can be written down, the replies
// it accepts; the last line is the op the finding failed on. The format: spec/protocol.md,
// "Replay scripts".

import {
  ConfigError, type Op, type Outcome, PROTOCOL_VERSION, decodeOp, decodeOutcome, encodeOp, encodeOutcome, encodeTopology, formatCall, formatOp, resolvePolicies,
} from '../spec/index.ts';
import { ReferenceModel } from '../impl/reference/model.ts';
import type { Expect } from '../impl/reference/expect.ts';
import { decodeTopology } from './replay.ts';
import type { ReportFinding } from './suite.ts';

export const REPLAY_SCRIPT_VERSION = 1;

/** A reply pattern: an ok's fields must be equal (others may be present, `optional` ones absent); an err's errno. */
interface Accept {
  ok?: Record<string, unknown>;
  err?: string;
  optional?: string[];
}

interface ScriptLine {
  request: Record<string, unknown>;
  /** What the line is, for the runner's messages. */
  call: string;
  /** Replies the reference accepts; absent: any well-formed reply (not judged here). */
  expect?: Accept[];
  /** The op the finding failed on: a reply outside `expect` there is the divergence reproduced (without `expect`, on a crash or hang, any reply is the fix). */
  last?: true;
}

/** Every reply the reference accepts for `op` as patterns, or null when one of its expectations is a predicate no list states. */
function acceptsOf(op: Op, exps: readonly Expect[]): Accept[] | null {
  const out: Accept[] = [];
  for (const e of exps) {
    if (!e.accepts) return null;
    for (const o of e.accepts) {
      const wire = encodeOutcome(op, o);
      out.push('err' in wire ? { err: String(wire.err) } : { ok: wire.ok as Record<string, unknown>, ...(e.optionalFields?.length ? { optional: [...e.optionalFields] } : {}) });
    }
  }
  return out;
}

/** The script for `f`: one JSON object per line, a header first. Throws ConfigError when its last op cannot be judged from a list. */
export function replayScript(f: ReportFinding): string {
  const lines: (ScriptLine | Record<string, unknown>)[] = [];
  const header = {
    replay: REPLAY_SCRIPT_VERSION, finding: f.id, rule: f.rule, title: f.title, adapter: `${f.adapter.name} ${f.adapter.version}`,
    usage: 'iommu-replay <this file> <adapter command>: exit 0 every reply is one the reference accepts, 1 the divergence (or a crash, a hang) reproduced, 2 the script could not run',
  };
  lines.push(header, { request: { op: 'hello', protocol: PROTOCOL_VERSION }, call: 'hello' });
  const reset = (topology: unknown) => ({ request: { op: 'reset', topology: encodeTopology(decodeTopology(topology)) }, call: 'reset' });
  // The cases the process ran first (a crash that needs them): sent as they were, not judged.
  for (const c of f.earlierCases ?? []) {
    lines.push(reset(c.topology));
    for (const e of c.ops) lines.push({ request: e.op, call: formatOp(decodeOp(e.op)) });
  }
  lines.push(reset(f.topology));
  const model = new ReferenceModel(decodeTopology(f.topology), resolvePolicies(f.adapter.profile, f.adapter.policies), f.adapter.capabilities);
  const sent = [...f.ops.map((e) => ({ op: decodeOp(e.op), outcome: e.outcome as unknown })), ...(f.unanswered ?? []).map((o) => ({ op: decodeOp(o), outcome: undefined }))];
  sent.forEach(({ op, outcome }, i) => {
    const last = i === sent.length - 1;
    // What the reference accepts is fixed before the op runs; the recorded reply moves it on.
    const exps = model.expect(op);
    const accepts = acceptsOf(op, exps);
    // A crash, a hang, a broken reply is the finding itself: any reply there is the fix. A wrong
    // reply needs the list, or the script could not tell the fix from the bug.
    if (last && !accepts && f.status === 'FAIL') throw new ConfigError(`finding ${f.id}: the last op ${formatOp(op)} has an outcome the reference states only as a predicate (${exps.map((e) => e.describe).join(' | ')}); replay it with \`iommu-conformance replay ${f.id}\``);
    lines.push({ request: encodeOp(op), call: formatOp(op), ...(accepts ? { expect: accepts } : {}), ...(last ? { last: true } : {}) });
    if (!last && outcome !== undefined) {
      const recorded: Outcome = decodeOutcome(op, outcome);
      const j = model.judge(op, recorded);
      if (!j.ok) throw new ConfigError(`finding ${f.id}: op ${i + 1} (${formatCall(op, recorded)}) already diverges; the stored trace is not a finding's`);
    }
  });
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}
