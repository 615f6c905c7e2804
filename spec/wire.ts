// JSON forms of ops and outcomes: hex strings for 64-bit values, errno names for failures.
// Used by the stdio protocol, by stored findings and by replay files. Decoding validates
// against OP_FIELDS and reports the first problem in one line.

import { DOMAIN_TYPES } from './topology.ts';
import { isErrno } from './errno.ts';
import { type Capabilities, type FieldKind, OP_FIELDS, type Op, type OpKind, type Outcome, PROT_WIRE_MAX } from './ops.ts';
import { hex, parseHex } from './u64.ts';

export class WireError extends Error {
  override name = 'WireError';
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function encodeValue(kind: FieldKind, v: unknown): Json {
  switch (kind) {
    case 'u64':
      return hex(v as bigint);
    case 'leaves':
      return (v as { iova: bigint; pgsize: bigint; count: bigint }[]).map((r) => ({ iova: hex(r.iova), pgsize: hex(r.pgsize), count: hex(r.count) }));
    default:
      return v as Json;
  }
}

function decodeValue(kind: FieldKind, v: unknown, where: string): unknown {
  const bad = (want: string) => new WireError(`${where}: expected ${want}, got ${JSON.stringify(v)}`);
  switch (kind) {
    case 'u64':
      try {
        return parseHex(v, where);
      } catch (e) {
        throw new WireError((e as Error).message);
      }
    case 'int':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad('a non-negative integer');
      return v;
    case 'prot':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > PROT_WIRE_MAX) throw bad('a 32-bit prot bitmask');
      return v;
    case 'handle':
      if (typeof v !== 'string' || v.length === 0) throw bad('a handle string');
      return v;
    case 'domtype':
      if (typeof v !== 'string' || !(DOMAIN_TYPES as readonly string[]).includes(v)) throw bad(`one of ${DOMAIN_TYPES.join('|')}`);
      return v;
    case 'access':
      if (v !== 'r' && v !== 'w') throw bad('"r" or "w"');
      return v;
    case 'str':
      if (typeof v !== 'string' && v !== null) throw bad('a string or null');
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw bad('a boolean');
      return v;
    case 'leaves':
      if (!Array.isArray(v)) throw bad('an array of leaf runs');
      return v.map((r, i) => {
        if (typeof r !== 'object' || r === null) throw new WireError(`${where}[${i}]: expected {iova, pgsize, count}`);
        const o = r as Record<string, unknown>;
        return {
          iova: decodeValue('u64', o.iova, `${where}[${i}].iova`),
          pgsize: decodeValue('u64', o.pgsize, `${where}[${i}].pgsize`),
          count: decodeValue('u64', o.count, `${where}[${i}].count`),
        };
      });
  }
}

export function encodeOp(op: Op): Record<string, Json> {
  const out: Record<string, Json> = { op: op.op };
  const rec = op as unknown as Record<string, unknown>;
  for (const [name, kind] of OP_FIELDS[op.op].fields) {
    if (rec[name] !== undefined) out[name] = encodeValue(kind, rec[name]);
  }
  return out;
}

export function decodeOp(obj: unknown): Op {
  if (typeof obj !== 'object' || obj === null) throw new WireError('op: expected an object');
  const o = obj as Record<string, unknown>;
  const kind = o.op;
  if (typeof kind !== 'string' || !(kind in OP_FIELDS)) throw new WireError(`op: unknown operation ${JSON.stringify(kind)}`);
  const out: Record<string, unknown> = { op: kind };
  for (const [name, fk, optional] of OP_FIELDS[kind as OpKind].fields) {
    if (o[name] === undefined) {
      if (!optional) throw new WireError(`${kind}.${name}: missing`);
      continue;
    }
    out[name] = decodeValue(fk, o[name], `${kind}.${name}`);
  }
  return out as unknown as Op;
}

export function encodeOutcome(op: Op, outcome: Outcome): Record<string, Json> {
  if ('err' in outcome) return outcome.msg === undefined ? { err: outcome.err } : { err: outcome.err, msg: outcome.msg };
  const ok: Record<string, Json> = {};
  const rec = outcome.ok as Record<string, unknown>;
  for (const [name, kind] of OP_FIELDS[op.op].ok) {
    if (rec[name] !== undefined) ok[name] = encodeValue(kind, rec[name]);
  }
  return { ok };
}

/** Decodes a reply body (`{ok:{…}}` or `{err:"…"}`) for the op it answers. */
export function decodeOutcome(op: Op, obj: unknown): Outcome {
  if (typeof obj !== 'object' || obj === null) throw new WireError(`reply to ${op.op}: expected an object`);
  const o = obj as Record<string, unknown>;
  // Either answer, never both: a reader could take either, so the reply means nothing.
  if ('err' in o && 'ok' in o) throw new WireError(`reply to ${op.op}: both ok and err`);
  if ('err' in o) {
    if (!isErrno(o.err)) throw new WireError(`reply to ${op.op}: unknown errno ${JSON.stringify(o.err)}`);
    if (o.msg !== undefined && typeof o.msg !== 'string') throw new WireError(`reply to ${op.op}: msg must be a string`);
    return o.msg === undefined ? { err: o.err } : { err: o.err, msg: o.msg };
  }
  if (!('ok' in o) || typeof o.ok !== 'object' || o.ok === null) throw new WireError(`reply to ${op.op}: neither ok nor err`);
  const okIn = o.ok as Record<string, unknown>;
  const ok: Record<string, unknown> = {};
  for (const [name, kind, optional] of OP_FIELDS[op.op].ok) {
    if (okIn[name] === undefined) {
      if (!optional) throw new WireError(`reply to ${op.op}: ok.${name} missing`);
      continue;
    }
    ok[name] = decodeValue(kind, okIn[name], `reply to ${op.op}: ok.${name}`);
  }
  return { ok } as Outcome;
}

const IN_PROCESS_TYPES: Partial<Record<FieldKind, string>> = { u64: 'bigint', int: 'number', bool: 'boolean' };

/**
 * Checks an in-process adapter's outcome has the documented shape (bigint where the wire has
 * hex). Returns a one-line problem, or null when it is well formed.
 */
export function outcomeShapeProblem(op: Op, outcome: unknown, caps: Capabilities = {}): string | null {
  if (typeof outcome !== 'object' || outcome === null) return `reply to ${op.op} is ${String(outcome)}, not {ok} or {err}`;
  const o = outcome as Record<string, unknown>;
  if ('err' in o && 'ok' in o) return `reply to ${op.op}: both ok and err`;
  if ('err' in o) return isErrno(o.err) ? null : `reply to ${op.op}: unknown errno ${JSON.stringify(o.err)}`;
  if (typeof o.ok !== 'object' || o.ok === null) return `reply to ${op.op} has neither ok nor err`;
  const ok = o.ok as Record<string, unknown>;
  const schema = OP_FIELDS[op.op];
  for (const [name, kind, optional] of schema.ok) {
    const v = ok[name];
    if (v === undefined) {
      const requiredBy = schema.okRequiredWith?.[name];
      if (!optional) return `reply to ${op.op}: ok.${name} missing`;
      if (requiredBy && caps[requiredBy]) return `reply to ${op.op}: ok.${name} missing (capability ${requiredBy} is declared)`;
      continue;
    }
    const want = IN_PROCESS_TYPES[kind];
    if (want && typeof v !== want) return `reply to ${op.op}: ok.${name} is ${typeof v}, expected ${want}`;
    if (kind === 'u64' && ((v as bigint) < 0n || (v as bigint) >> 64n !== 0n)) return `reply to ${op.op}: ok.${name} outside 64 bits`;
    if (kind === 'str' && v !== null && typeof v !== 'string') return `reply to ${op.op}: ok.${name} is not a string`;
    if (kind === 'leaves' && !Array.isArray(v)) return `reply to ${op.op}: ok.${name} is not an array`;
  }
  return null;
}
