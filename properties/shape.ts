// A failure's shape: what a known cause is recognised by, coarser than a trace and finer than a
// rule. After a finding a run sets aside what it found so the budget goes to other bugs; set
// aside by rule, a second bug whose symptom falls under the same rule is never reported (on a
// real target with judged divergences, a new bug then shows only if its symptom wins a free
// rule). Set aside by shape, only failures that look like the one found are skipped: the rule,
// the op that failed and what it answered against what the reference wanted, as classes (ok or
// an errno; which fields of an ok were wrong), or, for a probe of the translation, the damage it
// saw (a page left mapped, lost, or translated elsewhere). Never addresses, sizes or the drawn
// op a probe followed (the rule already says which kind of op it blames, and one aliasing bug
// seen after a map, an unmap and a failed map would otherwise be three shapes), so the same bug
// met on other ranges has one shape.

import { type Op, formatOutcome } from '../spec/index.ts';
import type { Violation } from './checker.ts';

/** How a run sets aside what it has reported: by rule (one finding per rule) or by shape. */
export type SetAsideBy = 'rule' | 'shape';

/** Fields of an `ok ...` reply or expectation, by name: `ok size=0x1000 phys=0x0` -> {size, phys}. */
function okFields(text: string): Map<string, string> {
  return new Map(text.split(' ').slice(1).map((t) => t.split('=') as [string, string]).filter((kv) => kv.length === 2));
}

/** An expectation or an observation as a class: `ok`, an errno set, a predicate's words without numbers. */
function outcomeClass(text: string): string {
  if (text === 'ok' || text.startsWith('ok ')) return 'ok';
  return text.replace(/0x[0-9a-f]+|\b\d+\b/gi, '#').replace(/,/g, ';');
}

/** An op's kind as the shape names it. */
function kind(op: Op): string {
  return op.op;
}

type Look = 'unmapped' | 'mapped' | 'other';

/** What a translation probe saw or was to see: nothing there, a translation (at which address), or something else. */
function look(op: Op, text: string): { is: Look; at?: string } {
  const cls = outcomeClass(text);
  if (op.op === 'iova_to_phys' && cls === 'ok') {
    const phys = okFields(text).get('phys');
    return phys === undefined || BigInt(phys) === 0n ? { is: 'unmapped' } : { is: 'mapped', at: phys };
  }
  if (op.op === 'dma') {
    if (cls === 'FAULT') return { is: 'unmapped' };
    if (cls === 'ok') return { is: 'mapped', ...(okFields(text).has('phys') ? { at: okFields(text).get('phys') } : {}) };
  }
  return { is: 'other' };
}

/**
 * A translation probe's disagreement as the damage it shows, whichever probe saw it (an
 * iova_to_phys and a device access see one stale page alike): a page left mapped, a page lost,
 * a page translated elsewhere. Null when it is not one of these.
 */
function damage(op: Op, observed: string, expected: readonly string[]): string | null {
  if (op.op !== 'iova_to_phys' && op.op !== 'dma') return null;
  const got = look(op, observed);
  const wants = expected.map((e) => look(op, e));
  if (got.is === 'other' || wants.length === 0 || wants.some((w) => w.is === 'other')) return null;
  if (got.is === 'mapped' && wants.every((w) => w.is === 'unmapped')) return 'a page left mapped';
  if (got.is === 'unmapped' && wants.every((w) => w.is === 'mapped')) return 'a page lost';
  if (got.is === 'mapped' && wants.every((w) => w.is === 'mapped' && w.at !== undefined && got.at !== undefined && w.at !== got.at)) return 'a page translated elsewhere';
  return null;
}

export function failureShape(v: Pick<Violation, 'rule' | 'status' | 'op' | 'expected' | 'observed' | 'trace'>): string {
  const status = v.status === 'FAIL' ? '' : `${v.status} `;
  if (!v.op) return `${v.rule}: ${status}at reset`;
  const last = v.trace.at(-1);
  const probe = last !== undefined && last.op === v.op && last.probe;
  const observed = last && last.op === v.op ? formatOutcome(v.op, last.outcome) : v.observed;
  const seen = probe && v.status === 'FAIL' ? damage(v.op, observed, v.expected) : null;
  if (seen) return `${v.rule}: ${seen}`;
  const at = probe ? `${kind(v.op)} probe` : kind(v.op);
  // A quality warning is kept once per rule and judged by it: where it was seen is all there is to say.
  if (v.status === 'QUALITY_WARNING') return `${v.rule}: a quality warning at ${at}`;
  // A process that died or hung: the op it was sent is the whole shape.
  if (v.status === 'CRASH' || v.status === 'TIMEOUT') return `${v.rule}: ${status}at ${at}`;
  return `${v.rule}: ${status}${at} -> ${mismatch(observed, v.expected)}`;
}

/**
 * A reply against what the reference wanted, as a class: `EINVAL (a wrong errno)` (which errnos
 * were legal depends on how many preconditions the op broke at once, so they are not named),
 * `ok (an error wanted)`, `ENOMEM (ok wanted)`, `ok with size wrong`.
 */
function mismatch(observed: string, expected: readonly string[]): string {
  const got = outcomeClass(observed);
  const wants = expected.map(outcomeClass);
  const wantOk = expected.find((e) => outcomeClass(e) === 'ok');
  const isErrnos = (c: string) => /^[A-Z][A-Z0-9_]*(\|[A-Z][A-Z0-9_]*)*$/.test(c);
  if (got === 'ok' && wantOk !== undefined) {
    const [o, w] = [okFields(observed), okFields(wantOk)];
    const wrong = [...w.keys()].filter((k) => o.get(k) !== w.get(k));
    return wrong.length > 0 ? `ok with ${wrong.join('+')} wrong` : 'ok (another reply wanted)';
  }
  if (wants.length > 0 && wants.every(isErrnos)) return got === 'ok' ? 'ok (an error wanted)' : `${got} (a wrong errno)`;
  if (wantOk !== undefined && wants.every((w) => w === 'ok' || isErrnos(w))) return `${got} (ok wanted)`;
  return `${got} (want ${wants.length > 0 ? [...new Set(wants)].join(' or ') : 'nothing listed'})`;
}

/** What a failure is set aside by: its rule, or its shape. */
export function setAsideKey(v: Parameters<typeof failureShape>[0], by: SetAsideBy): string {
  return by === 'shape' ? failureShape(v) : v.rule;
}

/** The same for a finding as recorded (its shape stored); one stored before shapes existed goes by its rule. */
export function recordedKey(f: { rule: string; shape?: string }, by: SetAsideBy): string {
  return by === 'shape' && f.shape ? f.shape : f.rule;
}

/** Is this failure one already reported? A set holds rules (a rule's every failure) and shapes. */
export function isSetAside(known: ReadonlySet<string>, v: Parameters<typeof failureShape>[0]): boolean {
  return known.has(v.rule) || (known.size > 0 && known.has(failureShape(v)));
}
