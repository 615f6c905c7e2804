// The 64-bit arithmetic, the wire codec and the trace printer, at their edges: 0, 2^64 - 1,
// one past the address space, and every operation of the vocabulary.

import fc from 'fast-check';
import { expect, test } from 'vitest';
import {
  type LeafRun, OP_FIELDS, OP_KINDS, type Op, type OpKind, type OpOf, type Outcome, PROT, PROT_ALL, U64_LIMIT, U64_MAX,
  WireError, alignDown, alignUp, decodeOp, decodeOutcome, encodeOp, encodeOutcome, ffs, fls, formatCall, formatOp, formatProt,
  genmask, hex, outcomeShapeProblem, isAligned, isU64, minPageSize, pageSizes, parseHex, parseProt,
} from '../spec/index.ts';

// ---- hex / parseHex ---------------------------------------------------------------------

test('hex prints lower-case 0x… without padding at both ends of the range', () => {
  expect(hex(0n)).toBe('0x0');
  expect(hex(0xabcdefn)).toBe('0xabcdef');
  expect(hex(U64_MAX)).toBe('0xffffffffffffffff');
});

test('parseHex accepts 0 and 2^64 - 1, upper-case digits included', () => {
  expect(parseHex('0x0')).toBe(0n);
  expect(parseHex('0xffffffffffffffff')).toBe(U64_MAX);
  expect(parseHex('0xFFFFFFFFFFFFFFFF')).toBe(U64_MAX);
  expect(parseHex('0x0000000000000001')).toBe(1n);
});

test('parseHex rejects 2^64, decimal, negative and other non-hex values', () => {
  const bad: unknown[] = [
    '0x10000000000000000', // 2^64: 17 digits
    '18446744073709551615', // 2^64 - 1 in decimal
    '4096',
    '-0x1',
    '0x-1',
    '0x',
    '0X10',
    ' 0x1',
    '0x1 ',
    '0xg',
    '',
    4096,
    null,
    undefined,
  ];
  for (const v of bad) expect(() => parseHex(v), JSON.stringify(String(v))).toThrow(RangeError);
  // A bigint is refused too, though as a TypeError: the message's JSON.stringify cannot print it.
  expect(() => parseHex(4096n)).toThrow();
});

test('parseHex(hex(v)) is the identity on [0, 2^64)', () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: U64_MAX }), (v) => parseHex(hex(v)) === v), { seed: 64, numRuns: 500 });
});

// ---- bit operations at 2^64 ---------------------------------------------------------------

test('ffs and fls: -1 for 0, exact at bit 0, bit 63 and 2^64', () => {
  expect(ffs(0n)).toBe(-1);
  expect(fls(0n)).toBe(-1);
  expect(ffs(1n)).toBe(0);
  expect(fls(1n)).toBe(0);
  expect(ffs(1n << 63n)).toBe(63);
  expect(fls(1n << 63n)).toBe(63);
  expect(ffs(U64_MAX)).toBe(0);
  expect(fls(U64_MAX)).toBe(63);
  // One past the address space is still a number the model computes with (an end address).
  expect(ffs(U64_LIMIT)).toBe(64);
  expect(fls(U64_LIMIT)).toBe(64);
  expect(ffs(0x3fe400000n)).toBe(22);
  expect(fls(0x3fe400000n)).toBe(33);
});

test('genmask, pageSizes and minPageSize', () => {
  expect(genmask(63, 0)).toBe(U64_MAX);
  expect(genmask(0, 0)).toBe(1n);
  expect(genmask(21, 12)).toBe(0x3ff000n);
  expect(genmask(3, 4)).toBe(0n);
  expect(pageSizes(0x40201000n)).toEqual([0x1000n, 0x200000n, 0x40000000n]);
  expect(minPageSize(0x40201000n)).toBe(0x1000n);
  expect(minPageSize(0n)).toBe(0n);
});

test('alignUp reaches 2^64 without wrapping; alignDown stays below it', () => {
  const pg = 0x1000n;
  expect(alignUp(0n, pg)).toBe(0n);
  expect(alignUp(U64_LIMIT - pg, pg)).toBe(U64_LIMIT - pg);
  expect(alignUp(U64_LIMIT - pg + 1n, pg)).toBe(U64_LIMIT);
  expect(alignUp(U64_MAX, pg)).toBe(U64_LIMIT);
  expect(alignUp(U64_MAX, 1n << 63n)).toBe(U64_LIMIT);
  expect(alignDown(U64_MAX, 1n << 30n)).toBe(U64_LIMIT - (1n << 30n));
  expect(alignDown(U64_MAX, 1n)).toBe(U64_MAX);
  expect(isAligned(U64_LIMIT, pg)).toBe(true);
  expect(isAligned(U64_MAX, pg)).toBe(false);
});

test('isU64 bounds', () => {
  expect(isU64(0n)).toBe(true);
  expect(isU64(U64_MAX)).toBe(true);
  expect(isU64(U64_LIMIT)).toBe(false);
  expect(isU64(-1n)).toBe(false);
});

// ---- the codec ----------------------------------------------------------------------------

/** One op of every kind, optional fields filled in where the op has them. */
const EXAMPLES: { [K in OpKind]: OpOf<K> } = {
  domain_alloc: { op: 'domain_alloc', domain: 'd2', type: 'nested', dev: 'dev0', pgsizes: 0x40201000n, parent: 'd1', mm: 'mm1' },
  domain_free: { op: 'domain_free', domain: 'd1' },
  attach: { op: 'attach', dev: 'dev0', domain: 'd1' },
  detach: { op: 'detach', dev: 'dev0', domain: 'd1' },
  attach_pasid: { op: 'attach_pasid', dev: 'dev0', domain: 'd1', pasid: 15 },
  detach_pasid: { op: 'detach_pasid', dev: 'dev0', pasid: 15 },
  map: { op: 'map', domain: 'd1', iova: U64_LIMIT - 0x1000n, paddr: 0x80000000n, size: 0x1000n, prot: PROT.READ | PROT.NOEXEC },
  unmap: { op: 'unmap', domain: 'd1', iova: 0n, size: U64_MAX },
  iova_to_phys: { op: 'iova_to_phys', domain: 'd1', iova: 0xfffn },
  dma: { op: 'dma', dev: 'dev0', iova: 0x1000n, access: 'w', pasid: 3, pasidOf: 'mm1' },
  flush: { op: 'flush', domain: 'd1' },
  pasid_alloc: { op: 'pasid_alloc', pasid: 'p1', min: 1, max: 1023, data: 'private "data"' },
  pasid_get: { op: 'pasid_get', pasid: 'p1' },
  pasid_put: { op: 'pasid_put', pasid: 'p1' },
  pasid_find: { op: 'pasid_find', pasid: 'p1' },
  sva_bind: { op: 'sva_bind', bond: 'b1', dev: 'dev0', mm: 'mm1' },
  sva_unbind: { op: 'sva_unbind', bond: 'b1' },
  mm_map: { op: 'mm_map', mm: 'mm1', va: 0x7fff0000n, pa: 0x100000000n, size: 0x10000n, prot: PROT.READ | PROT.WRITE },
  mm_unmap: { op: 'mm_unmap', mm: 'mm1', va: 0x7fff0000n, size: 0x10000n },
  mm_exit: { op: 'mm_exit', mm: 'mm1' },
  leaves: { op: 'leaves', domain: 'd1', iova: 0x3fe400000n, size: 0xc2200000n },
  pt_pages: { op: 'pt_pages', domain: 'd1' },
  fail_nth: { op: 'fail_nth', n: 0 },
};

/** A success reply of every kind, every optional field present. */
const OK_EXAMPLES: { [K in OpKind]: Outcome<K> } = {
  domain_alloc: { ok: { pgsizes: 0x40201000n } },
  domain_free: { ok: {} },
  attach: { ok: {} },
  detach: { ok: {} },
  attach_pasid: { ok: {} },
  detach_pasid: { ok: {} },
  map: { ok: {} },
  unmap: { ok: { unmapped: 0x200000n } },
  iova_to_phys: { ok: { phys: U64_MAX } },
  dma: { ok: { phys: 0x80000fffn } },
  flush: { ok: {} },
  pasid_alloc: { ok: { pasid: 1023 } },
  pasid_get: { ok: {} },
  pasid_put: { ok: { freed: true } },
  pasid_find: { ok: { data: null } },
  sva_bind: { ok: { pasid: 1 } },
  sva_unbind: { ok: {} },
  mm_map: { ok: {} },
  mm_unmap: { ok: {} },
  mm_exit: { ok: {} },
  leaves: { ok: { leaves: [{ iova: 0x3fe400000n, pgsize: 0x200000n, count: 14n }, { iova: 0x400000000n, pgsize: 0x40000000n, count: 3n }] } },
  pt_pages: { ok: { pages: 7 } },
  fail_nth: { ok: {} },
};

const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

test('the examples cover every op kind in OP_FIELDS', () => {
  expect(Object.keys(EXAMPLES).sort()).toEqual([...OP_KINDS].sort());
  expect(Object.keys(OK_EXAMPLES).sort()).toEqual(Object.keys(OP_FIELDS).sort());
});

test.each(OP_KINDS)('encodeOp/decodeOp round-trips %s through JSON', (kind) => {
  const op = EXAMPLES[kind] as Op;
  const wire = encodeOp(op);
  // 64-bit values travel as hex strings, never as JSON numbers.
  for (const [name, fk] of OP_FIELDS[kind].fields) {
    if (fk === 'u64') expect(wire[name]).toMatch(/^0x[0-9a-f]+$/);
  }
  expect(decodeOp(viaJson(wire))).toEqual(op);
});

test.each(OP_KINDS)('encodeOutcome/decodeOutcome round-trips a %s reply, success and failure', (kind) => {
  const op = EXAMPLES[kind] as Op;
  const good = OK_EXAMPLES[kind] as Outcome;
  expect(decodeOutcome(op, viaJson(encodeOutcome(op, good)))).toEqual(good);
  const bad: Outcome = { err: 'EINVAL', msg: 'because' };
  expect(decodeOutcome(op, viaJson(encodeOutcome(op, bad)))).toEqual(bad);
});

test('decodeOp rejects malformed requests with a one-line WireError', () => {
  const cases: [unknown, RegExp][] = [
    [null, /expected an object/],
    [{ op: 'remap', domain: 'd1' }, /unknown operation/],
    [{ op: 'map', domain: 'd1', iova: '0x0', paddr: '0x0', prot: 3 }, /map\.size: missing/],
    [{ op: 'map', domain: 'd1', iova: 4096, paddr: '0x0', size: '0x1000', prot: 3 }, /map\.iova/],
    [{ op: 'map', domain: 'd1', iova: '0x0', paddr: '0x0', size: '0x1000', prot: 2 ** 32 }, /prot bitmask/],
    [{ op: 'map', domain: 'd1', iova: '0x0', paddr: '0x0', size: '0x1000', prot: 1.5 }, /prot bitmask/],
    [{ op: 'map', domain: '', iova: '0x0', paddr: '0x0', size: '0x1000', prot: 3 }, /handle string/],
    [{ op: 'domain_alloc', domain: 'd1', type: 'unmanaged', dev: 'dev0' }, /one of blocked/],
    [{ op: 'attach_pasid', dev: 'dev0', domain: 'd1', pasid: -1 }, /non-negative integer/],
    [{ op: 'dma', dev: 'dev0', iova: '0x0', access: 'x' }, /"r" or "w"/],
  ];
  for (const [obj, msg] of cases) {
    expect(() => decodeOp(obj), JSON.stringify(obj)).toThrow(WireError);
    expect(() => decodeOp(obj)).toThrow(msg);
  }
});

test('decodeOutcome rejects malformed replies: missing field, bad errno, non-hex, neither ok nor err', () => {
  const unmapOp = EXAMPLES.unmap;
  const cases: [unknown, RegExp][] = [
    [{ err: 'EWHATEVER' }, /unknown errno/],
    [{ err: 22 }, /unknown errno/],
    [{ err: 'EINVAL', msg: 5 }, /msg must be a string/],
    [{ ok: { unmapped: 4096 } }, /hex string/],
    [{ ok: { unmapped: '4096' } }, /hex string/],
    [{ ok: { unmapped: '0x10000000000000000' } }, /hex string/],
    [{ ok: null }, /neither ok nor err/],
    [{}, /neither ok nor err/],
    ['ok', /expected an object/],
  ];
  for (const [obj, msg] of cases) {
    expect(() => decodeOutcome(unmapOp, obj), JSON.stringify(obj)).toThrow(WireError);
    expect(() => decodeOutcome(unmapOp, obj)).toThrow(msg);
  }
  // A required ok field; unmap's byte count is optional on the wire (see unmap_size below).
  expect(() => decodeOutcome(EXAMPLES.iova_to_phys, { ok: {} })).toThrow(/ok\.phys missing/);
  const leavesOp = EXAMPLES.leaves;
  expect(() => decodeOutcome(leavesOp, { ok: { leaves: {} } })).toThrow(/array of leaf runs/);
  expect(() => decodeOutcome(leavesOp, { ok: { leaves: [{ iova: '0x0', pgsize: '0x1000' }] } })).toThrow(/leaves\[0\]\.count/);
  expect(() => decodeOutcome(EXAMPLES.pasid_put, { ok: { freed: 'yes' } })).toThrow(/a boolean/);
  // An optional field may be absent; an absent required one may not.
  expect(decodeOutcome(EXAMPLES.dma, { ok: {} })).toEqual({ ok: {} });
  expect(() => decodeOutcome(EXAMPLES.iova_to_phys, { ok: {} })).toThrow(/ok\.phys missing/);
});

// ---- the printer --------------------------------------------------------------------------

test('formatCall prints the canonical one-line trace entry', () => {
  const op: Op = { op: 'map', domain: 'd1', iova: 0x200000n, paddr: 0x80000000n, size: 0x201000n, prot: PROT.READ | PROT.WRITE };
  expect(formatCall(op, { err: 'EEXIST' })).toBe('map(d1, iova=0x200000, paddr=0x80000000, size=0x201000, rw) -> EEXIST');
  expect(formatCall(EXAMPLES.unmap, OK_EXAMPLES.unmap)).toBe('unmap(d1, iova=0x0, size=0xffffffffffffffff) -> ok unmapped=0x200000');
  expect(formatCall(EXAMPLES.attach, { ok: {} })).toBe('attach(dev0, d1) -> ok');
  expect(formatCall(EXAMPLES.leaves, OK_EXAMPLES.leaves)).toBe(
    'leaves(d1, iova=0x3fe400000, size=0xc2200000) -> ok leaves=[0x3fe400000:0x200000x14 0x400000000:0x40000000x3]',
  );
  expect(formatOp(EXAMPLES.dma)).toBe('dma(dev0, iova=0x1000, w, pasid=3, pasidOf=mm1)');
  expect(formatOp(EXAMPLES.pasid_alloc)).toBe('pasid_alloc(p1, min=1, max=1023, data="private \\"data\\"")');
});

test('every op kind prints as kind(...) with its handles first', () => {
  for (const kind of OP_KINDS) {
    const text = formatOp(EXAMPLES[kind] as Op);
    expect(text.startsWith(`${kind}(`)).toBe(true);
    expect(text.endsWith(')')).toBe(true);
  }
});

test('formatProt and parseProt are inverse on every prot value', () => {
  expect(formatProt(0)).toBe('-');
  expect(formatProt(PROT.READ | PROT.WRITE)).toBe('rw');
  expect(formatProt(PROT_ALL)).toBe('rwcxmp');
  for (let p = 0; p <= PROT_ALL; p++) expect(parseProt(formatProt(p))).toBe(p);
  // Bits the vocabulary does not define print as a hex suffix and read back exactly.
  expect(formatProt(PROT.READ | 0x40)).toBe('r+0x40');
  expect(formatProt(0x100)).toBe('-+0x100');
  for (const p of [0x40, PROT.READ | 0x40, 0xffffffc3, 2 ** 31]) expect(parseProt(formatProt(p))).toBe(p);
  expect(() => parseProt('rz')).toThrow(RangeError);
  expect(() => parseProt('r+0x41')).toThrow(RangeError);
});

test('a leaf run list round-trips with its 64-bit counts', () => {
  const runs: LeafRun[] = [{ iova: U64_LIMIT - (1n << 30n), pgsize: 1n << 30n, count: 1n }];
  const op = EXAMPLES.leaves;
  expect(decodeOutcome(op, viaJson(encodeOutcome(op, { ok: { leaves: runs } })))).toEqual({ ok: { leaves: runs } });
});

test('unmap_size: the byte count may be left out only when the capability is not declared', () => {
  const op = EXAMPLES.unmap;
  expect(decodeOutcome(op, { ok: {} })).toEqual({ ok: {} });
  expect(outcomeShapeProblem(op, { ok: {} }, { unmap_size: false })).toBeNull();
  expect(outcomeShapeProblem(op, { ok: {} }, { unmap_size: true })).toMatch(/ok\.unmapped missing \(capability unmap_size is declared\)/);
  expect(outcomeShapeProblem(op, { ok: { unmapped: 0x1000n } }, { unmap_size: true })).toBeNull();
});
