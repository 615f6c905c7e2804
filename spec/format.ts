// The trace printer: an op and its outcome as one readable call, e.g.
//   map(d1, iova=0x200000, paddr=0x80000000, size=0x201000, rw) -> EEXIST
// Driven by OP_FIELDS, so every op in the vocabulary prints the same way.

import { type FieldKind, OP_FIELDS, type LeafRun, type Op, type Outcome, PROT, PROT_ALL, isFailure } from './ops.ts';
import { hex } from './u64.ts';

const PROT_LETTERS: [number, string][] = [
  [PROT.READ, 'r'], [PROT.WRITE, 'w'], [PROT.CACHE, 'c'], [PROT.NOEXEC, 'x'], [PROT.MMIO, 'm'], [PROT.PRIV, 'p'],
];

/** `rw`, `r`, `w`, `rwc`…; `-` for no permission at all; unknown bits as `+0x40`. */
export function formatProt(prot: number): string {
  const s = PROT_LETTERS.filter(([bit]) => prot & bit).map(([, c]) => c).join('');
  const unknown = Math.floor(prot / (PROT_ALL + 1)) * (PROT_ALL + 1);
  return (s === '' ? '-' : s) + (unknown !== 0 ? `+0x${unknown.toString(16)}` : '');
}

export function parseProt(text: string): number {
  const [s, extra] = text.split('+') as [string, string | undefined];
  const prot = extra === undefined ? 0 : Number(extra);
  if (!Number.isInteger(prot) || prot % (PROT_ALL + 1) !== 0) throw new RangeError(`unknown permission bits '+${extra}' in '${text}'`);
  if (s === '-') return prot;
  let known = 0;
  for (const ch of s) {
    const hit = PROT_LETTERS.find(([, c]) => c === ch);
    if (!hit) throw new RangeError(`unknown permission letter '${ch}' in '${text}'`);
    known |= hit[0];
  }
  // Added, not or-ed: JavaScript's | works on 32-bit signed integers and bit 31 would turn negative.
  return prot + known;
}

function formatLeaves(runs: LeafRun[]): string {
  return '[' + runs.map((r) => `${hex(r.iova)}:${hex(r.pgsize)}x${r.count}`).join(' ') + ']';
}

function formatValue(kind: FieldKind, v: unknown): string {
  switch (kind) {
    case 'u64':
      return hex(v as bigint);
    case 'prot':
      return formatProt(v as number);
    case 'leaves':
      return formatLeaves(v as LeafRun[]);
    case 'str':
      return v === null ? 'null' : JSON.stringify(v);
    default:
      return String(v);
  }
}

/** Required fields of these kinds print bare; everything else as `name=value`. */
const POSITIONAL: ReadonlySet<FieldKind> = new Set(['handle', 'domtype', 'access', 'prot']);

export function formatOp(op: Op): string {
  const schema = OP_FIELDS[op.op];
  const rec = op as unknown as Record<string, unknown>;
  const parts: string[] = [];
  for (const [name, kind, optional] of schema.fields) {
    const v = rec[name];
    if (v === undefined) continue;
    const text = formatValue(kind, v);
    parts.push(POSITIONAL.has(kind) && !optional ? text : `${name}=${text}`);
  }
  return `${op.op}(${parts.join(', ')})`;
}

export function formatOutcome(op: Op, outcome: Outcome): string {
  if (isFailure(outcome)) return outcome.err;
  const schema = OP_FIELDS[op.op];
  const rec = outcome.ok as Record<string, unknown>;
  const parts: string[] = [];
  for (const [name, kind] of schema.ok) {
    if (rec[name] === undefined) continue;
    parts.push(`${name}=${formatValue(kind, rec[name])}`);
  }
  return parts.length === 0 ? 'ok' : `ok ${parts.join(' ')}`;
}

export function formatCall(op: Op, outcome: Outcome): string {
  return `${formatOp(op)} -> ${formatOutcome(op, outcome)}`;
}
