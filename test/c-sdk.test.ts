// The C SDK and the example C model, built with the system's gcc and driven as the suite drives
// them: real child processes speaking the stdio protocol, requests encoded and replies decoded
// by the suite's own codec. Also the misbehaving fixtures the transport's tests start, so a
// fixture that stopped misbehaving would be noticed here.

import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type Op, type Outcome, PROTOCOL_VERSION, PROT, type Topology, decodeHello, decodeOutcome, encodeOp, encodeTopology,
} from '../spec/index.ts';
import { PG_4K_2M_1G, RW, SZ_1G, SZ_2M, SZ_4K, fixedTopology } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');
const BUILD = join(ROOT, 'impl', 'sdk', 'c', 'build');
const MODEL = join(BUILD, 'example-model');
const FAULTY = join(BUILD, 'fixtures', 'faulty-model');
const BROKEN = join(BUILD, 'fixtures', 'broken-stream');
const U64_MAX = (1n << 64n) - 1n;

/** One adapter process: lines in, reply lines out, stderr kept. */
class Child {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  stderr = '';
  private wake: (() => void) | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(cmd: string, args: string[] = [], env: Record<string, string> = {}) {
    this.proc = spawn(cmd, args, { env: { ...process.env, ...env } });
    createInterface({ input: this.proc.stdout }).on('line', (l) => {
      this.lines.push(l);
      this.wake?.();
    });
    this.proc.stderr.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
  }

  write(lines: readonly string[]): void {
    this.proc.stdin.write(lines.map((l) => l + '\n').join(''));
  }

  /** Waits until `n` reply lines have arrived; stdin stays open, so they came without EOF. */
  async replies(n: number, ms = 10_000): Promise<string[]> {
    const deadline = Date.now() + ms;
    while (this.lines.length < n) {
      if (Date.now() > deadline) throw new Error(`${this.lines.length} of ${n} replies after ${ms} ms; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.lines.slice(0, n);
  }

  async end() {
    this.proc.stdin.end();
    return this.exited;
  }
}

/** Feeds `input` whole and collects everything (stdin closed at the end, as the suite does). */
function runOnce(cmd: string, args: string[], input: string | Buffer, env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, lines: r.stdout.split('\n').filter((l) => l !== '') };
}

const hello = (id = 0) => JSON.stringify({ id, op: 'hello', protocol: PROTOCOL_VERSION });
const reset = (id: number, t: Topology) => JSON.stringify({ id, op: 'reset', topology: encodeTopology(t) });
const request = (id: number, op: Op) => JSON.stringify({ id, ...encodeOp(op) });

/** A reply line, checked for its id and decoded by the suite's codec. */
function decode(line: string, id: number, op: Op): Outcome {
  const o = JSON.parse(line) as { id: number };
  expect(o.id, line).toBe(id);
  return decodeOutcome(op, o);
}

/** Runs ops after hello and reset on a fresh process; returns their decoded outcomes. */
function exec(ops: Op[], t: Topology = fixedTopology()): Outcome[] {
  const lines = [hello(), reset(1, t), ...ops.map((op, i) => request(i + 2, op))];
  const r = runOnce(MODEL, [], lines.join('\n') + '\n');
  expect(r.code, r.stderr).toBe(0);
  expect(r.lines).toHaveLength(lines.length);
  expect(JSON.parse(r.lines[1]!)).toEqual({ id: 1, ok: {} });
  return ops.map((op, i) => decode(r.lines[i + 2]!, i + 2, op));
}

beforeAll(() => {
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'build-c.sh')], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
});

describe('the example model behind the SDK', () => {
  test('hello: what the suite needs to hear, in the suite\'s own decoder', () => {
    const r = runOnce(MODEL, [], hello(0) + '\n');
    expect(r.code).toBe(0);
    const reply = JSON.parse(r.lines[0]!) as { id: number; ok: unknown };
    expect(reply.id).toBe(0);
    const info = decodeHello(reply.ok);
    expect(info).toMatchObject({ name: 'example-c-model', profile: 'linux', topologies: 'any' });
    expect(info.policies).toEqual({ partial_unmap: 'whole-leaf', overmap_errno: 'EEXIST' });
    expect(info.capabilities).toMatchObject({ leaves: true, pt_pages: true, fail_nth: true, dma_phys: true });
  });

  test('a 2M+4K map takes two leaves; whole-leaf unmap removes the 2M leaf it cuts', () => {
    const d = 'd1';
    const [alloc, map, leaves, i2p, attach, read, write, unmap, after, pages] = exec([
      { op: 'domain_alloc', domain: d, type: 'paging', dev: 'dev1' },
      { op: 'map', domain: d, iova: SZ_2M, paddr: 0x80000000n, size: SZ_2M + SZ_4K, prot: PROT.READ },
      { op: 'leaves', domain: d, iova: SZ_2M, size: SZ_2M + SZ_4K },
      { op: 'iova_to_phys', domain: d, iova: 2n * SZ_2M + 0x123n },
      { op: 'attach', dev: 'dev1', domain: d, inval: 1 },
      { op: 'dma', dev: 'dev1', iova: SZ_2M + 0x10n, access: 'r' },
      { op: 'dma', dev: 'dev1', iova: SZ_2M + 0x10n, access: 'w' },
      // inval (capability invalidation_choice) decodes, on attach too; this model has no choice to make.
      { op: 'unmap', domain: d, iova: SZ_2M, size: SZ_4K, inval: 2 },
      { op: 'iova_to_phys', domain: d, iova: SZ_2M },
      { op: 'pt_pages', domain: d },
    ]);
    expect(alloc).toEqual({ ok: { pgsizes: PG_4K_2M_1G } });
    expect(map).toEqual({ ok: {} });
    expect(leaves).toEqual({ ok: { leaves: [{ iova: SZ_2M, pgsize: SZ_2M, count: 1n }, { iova: 2n * SZ_2M, pgsize: SZ_4K, count: 1n }] } });
    expect(i2p).toEqual({ ok: { phys: 0x80200123n } });
    expect(attach).toEqual({ ok: {} });
    expect(read).toEqual({ ok: { phys: 0x80000010n } });
    expect(write).toEqual({ err: 'FAULT' }); // read-only mapping
    expect(unmap).toEqual({ ok: { unmapped: SZ_2M } });
    expect(after).toEqual({ ok: { phys: 0n } });
    expect(pages).toEqual({ ok: { pages: 2 } }); // the root and the page holding the 4K run
  });

  test('attach rules: one domain per group, contexts run out, incompatible formats refused', () => {
    // m0 has 3 contexts and g0's dma default domain holds one for good.
    const out = exec([
      { op: 'domain_alloc', domain: 'a', type: 'paging', dev: 'dev1' },
      { op: 'domain_alloc', domain: 'b', type: 'paging', dev: 'dev1' },
      { op: 'domain_alloc', domain: 'c', type: 'paging', dev: 'dev1' },
      { op: 'attach', dev: 'dev1', domain: 'a' },
      { op: 'attach', dev: 'dev1', domain: 'b' }, // EBUSY: detach first
      { op: 'attach', dev: 'dev2', domain: 'b' }, // the third context
      { op: 'attach', dev: 'dev0', domain: 'c' }, // ENOSPC: there is no fourth
      { op: 'domain_free', domain: 'a' }, // EBUSY: attached
      { op: 'attach', dev: 'dev4', domain: 'c' }, // EINVAL: m2 walks amdv1 tables, c is lpae
      { op: 'detach', dev: 'dev2', domain: 'b' },
      { op: 'attach', dev: 'dev0', domain: 'c' },
      { op: 'domain_free', domain: 'b' },
      { op: 'domain_free', domain: 'b' },
    ]);
    expect(out.map((o) => ('err' in o ? o.err : 'ok'))).toEqual(['ok', 'ok', 'ok', 'ok', 'EBUSY', 'ok', 'ENOSPC', 'EBUSY', 'EINVAL', 'ok', 'ok', 'ok', 'ENOENT']);
  });

  test('fail_nth: the second chunk of a map fails and the first is unrolled', () => {
    const d = 'd1';
    const [, , map, i2p, again] = exec([
      { op: 'domain_alloc', domain: d, type: 'paging', dev: 'dev1' },
      { op: 'fail_nth', n: 2 },
      { op: 'map', domain: d, iova: 0n, paddr: 0n, size: SZ_1G + SZ_4K, prot: RW },
      { op: 'iova_to_phys', domain: d, iova: 0n },
      { op: 'map', domain: d, iova: 0n, paddr: 0n, size: SZ_1G + SZ_4K, prot: RW },
    ]);
    expect(map).toMatchObject({ err: 'ENOMEM' });
    expect(i2p).toEqual({ ok: { phys: 0n } });
    expect(again).toEqual({ ok: {} });
  });

  test('hex edges: 0, 2^64-1, the last page of a 64-bit space, and 2^64 refused', () => {
    const wide: Topology = {
      iommus: [{ name: 'm', format: 'f', pgsizes: SZ_4K, ias: 64, oas: 64, contexts: 2, pasidBits: 0, domainTypes: ['paging'] }],
      groups: [{ name: 'g', iommu: 'm', defaultDomain: 'identity' }],
      devices: [{ name: 'dev', group: 'g', maxPasids: 0 }],
    };
    const top = U64_MAX - SZ_4K + 1n;
    const ops: Op[] = [
      { op: 'domain_alloc', domain: 'd', type: 'paging', dev: 'dev' },
      { op: 'map', domain: 'd', iova: top, paddr: top, size: SZ_4K, prot: RW },
      { op: 'iova_to_phys', domain: 'd', iova: U64_MAX },
      { op: 'map', domain: 'd', iova: top, paddr: 0n, size: 2n * SZ_4K, prot: RW }, // wraps
      { op: 'unmap', domain: 'd', iova: top, size: SZ_4K },
      { op: 'iova_to_phys', domain: 'd', iova: 0n },
      { op: 'dma', dev: 'dev', iova: U64_MAX, access: 'r' }, // identity default: passes through
    ];
    const out = exec(ops, wide);
    expect(out[1]).toEqual({ ok: {} });
    expect(out[2]).toEqual({ ok: { phys: U64_MAX } });
    expect(out[3]).toMatchObject({ err: 'EOVERFLOW' });
    expect(out[4]).toEqual({ ok: { unmapped: SZ_4K } });
    expect(out[5]).toEqual({ ok: { phys: 0n } });
    expect(out[6]).toEqual({ ok: { phys: U64_MAX } });

    // Values no u64 holds, or not spelled as the wire spells them, never reach the model.
    const bad = ['0x10000000000000000', '0x', '4096', '0X1000', '0x00000000000000001', '-0x1', ' 0x1'];
    const lines = [hello(), ...bad.map((iova, i) => JSON.stringify({ id: i + 1, op: 'iova_to_phys', domain: 'd', iova }))];
    const r = runOnce(MODEL, [], lines.join('\n') + '\n');
    expect(r.code).toBe(0);
    bad.forEach((iova, i) => {
      const reply = JSON.parse(r.lines[i + 1]!) as { id: number; err: string; msg: string };
      expect(reply.id).toBe(i + 1);
      expect(reply.err).toBe('EINVAL');
      expect(reply.msg).toContain('iova_to_phys.iova: expected a hex string');
    });
    // Upper-case digits are hex too (spec/u64.ts parseHex accepts them).
    const upper = runOnce(MODEL, [], [hello(), '{"id":1,"op":"iova_to_phys","domain":"d","iova":"0xFFFFFFFFFFFFFFFF"}'].join('\n'));
    expect(JSON.parse(upper.lines[1]!)).toEqual({ id: 1, err: 'ENOENT' });
  });

  test('pipelined: 1000 requests written before any reply is read, answered while stdin stays open', async () => {
    const child = new Child(MODEL);
    const ops: Op[] = [{ op: 'domain_alloc', domain: 'd', type: 'paging', dev: 'dev1' }];
    for (let i = 0; ops.length < 998; i++) {
      const iova = BigInt(i) * SZ_4K;
      ops.push(i % 2 === 0 ? { op: 'map', domain: 'd', iova, paddr: iova + SZ_1G, size: SZ_4K, prot: RW } : { op: 'iova_to_phys', domain: 'd', iova: iova - SZ_4K });
    }
    child.write([hello(), reset(1, fixedTopology()), ...ops.map((op, i) => request(i + 2, op))]);
    const lines = await child.replies(1000);
    ops.forEach((op, i) => {
      const o = decode(lines[i + 2]!, i + 2, op);
      if (op.op === 'iova_to_phys') expect(o).toEqual({ ok: { phys: op.iova + SZ_1G } });
      else expect(o).toEqual({ ok: op.op === 'domain_alloc' ? { pgsizes: PG_4K_2M_1G } : {} });
    });
    expect(await child.end()).toEqual({ code: 0, signal: null });
  });

  test('both flush modes give the same bytes', () => {
    const lines = [hello(), reset(1, fixedTopology())];
    for (let i = 0; i < 200; i++) lines.push(request(i + 2, { op: 'map', domain: 'nope', iova: BigInt(i) << 12n, paddr: 0n, size: SZ_4K, prot: RW }));
    const input = lines.join('\n') + '\n';
    const idle = runOnce(MODEL, [], input);
    const every = runOnce(MODEL, [], input, { IOMMU_SDK_FLUSH: 'every' });
    expect(idle.lines).toHaveLength(202);
    expect(every.stdout).toBe(idle.stdout);
  });
});

describe('malformed input: an EINVAL reply when the id is recoverable, else one stderr line; never a crash', () => {
  const longHandle = 'd'.repeat(3 << 20); // far beyond any read chunk: lines may be any length
  const cases: [name: string, line: string | Buffer, reply: RegExp | null, stderr?: RegExp][] = [
    ['truncated JSON', '{"id":5,"op":"map","domain":', /^\{"id":5,"err":"EINVAL","msg":"invalid JSON at column \d+: .+"\}$/],
    ['not JSON at all', 'hello there', null, /line \d+: invalid JSON at column 1: unexpected character; no id to answer/],
    ['no id', '{"op":"hello","protocol":1}', null, /request without an id/],
    ['a negative id', '{"id":-3,"op":"hello"}', null, /id must be a non-negative integer/],
    ['an array', '[1,2]', null, /must be a JSON object/],
    ['a missing field', '{"id":6,"op":"map","domain":"d","iova":"0x0","size":"0x1000","prot":3}', /"err":"EINVAL","msg":"map.paddr: missing"/],
    ['an unknown op', '{"id":7,"op":"teleport"}', /^\{"id":7,"err":"ENOSYS","msg":"unknown op \\"teleport\\""\}$/],
    ['prot beyond 32 bits', '{"id":8,"op":"map","domain":"d","iova":"0x0","paddr":"0x0","size":"0x1000","prot":4294967296}', /"id":8,"err":"EINVAL","msg":"map.prot: expected a 32-bit prot bitmask/],
    ['a fractional int', '{"id":9,"op":"fail_nth","n":1.5}', /"id":9,"err":"EINVAL","msg":"fail_nth.n: expected a non-negative integer, got 1.5"/],
    ['a duplicate key', '{"id":10,"op":"map","op":"unmap"}', /"id":10,"err":"EINVAL","msg":"invalid JSON at column \d+: duplicate key"/],
    ['invalid UTF-8', Buffer.from('{"id":11,"op":"domain_free","domain":"\xff"}', 'latin1'), /"id":11,"err":"EINVAL","msg":"invalid JSON at column \d+: invalid UTF-8 in a string"/],
    ['a lone surrogate', '{"id":12,"op":"domain_free","domain":"\\ud800"}', /"id":12,"err":"EINVAL".*unpaired surrogate/],
    ['deep nesting', `{"id":13,"x":${'['.repeat(100000)}`, /"id":13,"err":"EINVAL","msg":"invalid JSON at column \d+: nested too deeply"/],
    ['an empty handle', '{"id":14,"op":"domain_free","domain":""}', /"id":14,"err":"EINVAL","msg":"domain_free.domain: expected a handle string, got \\"\\""/],
    ['a bad topology', '{"id":15,"op":"reset","topology":{"iommus":[],"groups":[{"name":"g","iommu":"m","defaultDomain":"dma"}],"devices":[]}}', /"id":15,"err":"EINVAL","msg":"reset.topology.groups\[0\]: unknown IOMMU m"/],
    ['a 3 MiB handle', `{"id":16,"op":"domain_free","domain":"${longHandle}"}`, /^\{"id":16,"err":"ENOENT"\}$/],
  ];

  test.each(cases)('%s', (_name, line, reply, stderr) => {
    const r = runOnce(MODEL, [], Buffer.concat([Buffer.from(hello() + '\n'), Buffer.from(line), Buffer.from('\n' + hello(99) + '\n')]));
    expect(r.code, r.stderr).toBe(0);
    expect(r.signal).toBeNull();
    expect(JSON.parse(r.lines[0]!)).toMatchObject({ id: 0 });
    expect(JSON.parse(r.lines.at(-1)!)).toMatchObject({ id: 99 }); // still serving afterwards
    if (reply) {
      expect(r.lines).toHaveLength(3);
      expect(r.lines[1]).toMatch(reply);
      expect(r.stderr).toBe('');
    } else {
      expect(r.lines).toHaveLength(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(stderr!);
    }
  });

  test('a last line without a newline is still answered; blank lines are ignored', () => {
    const r = runOnce(MODEL, [], `\n  \r\n${hello(3)}`);
    expect(r.lines).toHaveLength(1);
    expect(JSON.parse(r.lines[0]!)).toMatchObject({ id: 3 });
    expect(r.stderr).toBe('');
  });

  test('a hello asking for another protocol is answered with ours, and noted on stderr', () => {
    const r = runOnce(MODEL, [], '{"id":0,"op":"hello","protocol":2}\n');
    expect(JSON.parse(r.lines[0]!)).toMatchObject({ id: 0, ok: { protocol: PROTOCOL_VERSION } });
    expect(r.stderr).toMatch(/asks for protocol 2; this SDK speaks 1/);
  });
});

describe('the misbehaving fixtures misbehave as documented', () => {
  const reqs = [
    hello(),
    reset(1, fixedTopology()),
    request(2, { op: 'domain_alloc', domain: 'd', type: 'paging', dev: 'dev1' }),
    request(3, { op: 'map', domain: 'd', iova: 0n, paddr: 0n, size: SZ_4K, prot: RW }),
    request(4, { op: 'unmap', domain: 'd', iova: 0n, size: SZ_4K }),
  ];
  const input = reqs.join('\n') + '\n';
  let clean: ReturnType<typeof runOnce>;
  beforeAll(() => void (clean = runOnce(MODEL, [], input)));

  test.each([
    ['bad-json', (l: string[]) => expect(() => JSON.parse(l[2]!)).toThrow()],
    ['wrong-id', (l: string[]) => expect(JSON.parse(l[2]!)).toMatchObject({ id: 3 })],
    ['repeat-id', (l: string[]) => expect([l.length, l[2], l[3]]).toEqual([6, clean.lines[2], clean.lines[2]])],
    ['missing-ok', (l: string[]) => expect(JSON.parse(l[4]!)).toEqual({ id: 4, ok: {} })], // the unmap's
    ['extra-reply', (l: string[]) => expect(JSON.parse(l[3]!)).toEqual({ id: 1000002, ok: {} })],
    ['stray-stdout', (l: string[]) => expect(l[2]).toBe('debug: handling request 3')],
  ] as const)('broken-stream %s 3', (mode, check) => {
    const r = runOnce(BROKEN, [mode, '3'], input);
    expect(r.code, r.stderr).toBe(0);
    check(r.lines);
    // Everything else is the conforming model's own reply.
    const damaged = new Set(r.lines.filter((l) => !clean.lines.includes(l)));
    expect(damaged.size).toBeLessThanOrEqual(1);
  });

  test('broken-stream protocol 2 and flood', () => {
    const p = runOnce(BROKEN, ['protocol', '2'], input);
    expect(JSON.parse(p.lines[0]!)).toMatchObject({ ok: { protocol: 2 } });
    expect(p.lines.slice(1)).toEqual(clean.lines.slice(1));
    const f = spawnSync(BROKEN, ['flood', '3'], { input, timeout: 30_000, maxBuffer: 4 << 20 });
    expect((f.error as NodeJS.ErrnoException | undefined)?.code).toBe('ENOBUFS'); // past 4 MiB, no end of line
    expect(f.stdout.toString().split('\n')).toHaveLength(3);
  });

  test('faulty-model slow keeps replies correct', () => {
    const r = runOnce(FAULTY, ['slow', '20'], input);
    expect(r.stdout).toBe(clean.stdout.replace('example-c-model', 'faulty-model'));
  });

  test.each([['crash', 'SIGABRT'], ['hang', null]] as const)('faulty-model %s 4: replies up to 3, then nothing', async (mode, signal) => {
    const child = new Child(FAULTY, [mode, '4'], { IOMMU_SDK_FLUSH: 'every' });
    child.write(reqs);
    expect(await child.replies(3)).toEqual(clean.lines.slice(0, 3).map((l) => l.replace('example-c-model', 'faulty-model')));
    if (signal) {
      expect(await child.exited).toEqual({ code: null, signal });
    } else {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(child.proc.exitCode).toBeNull();
      child.proc.kill('SIGKILL');
      await child.exited;
    }
    expect(child.lines).toHaveLength(3);
    expect(child.stderr).toMatch(new RegExp(`faulty-model: ${mode === 'crash' ? 'crashing' : 'hanging'} on request 4 \\(map\\) as asked`));
  });

  test.each([['faulty-model', ['slow']], ['faulty-model', ['crash', '1']], ['broken-stream', ['teleport', '1']], ['broken-stream', ['flood', 'x']]])('%s %j: usage, exit 2', (name, args) => {
    const r = runOnce(join(BUILD, 'fixtures', name), args, '');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
  });
});

describe('the suite against the example model', () => {
  let dir: string;
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'c-sdk-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a short run over --adapter-cmd: nothing fails, what is not declared is NOT_SUPPORTED', () => {
    const r = spawnSync(process.execPath, [
      join(ROOT, 'bin', 'iommu-conformance.js'), 'run', '--adapter-cmd', MODEL,
      '--runs', '60', '--min-ops', '0', '--workers', '1', '--no-corpus', '--quiet', '--report-dir', dir,
    ], { encoding: 'utf8', timeout: 240_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as {
      summary: Record<string, number>;
      rules: { id: string; family: string; status: string }[];
    };
    expect(report.summary).toMatchObject({ FAIL: 0, ADAPTER_ERROR: 0, TIMEOUT: 0, CRASH: 0 });
    expect(report.summary.PASS).toBeGreaterThan(30);
    const unsupported = report.rules.filter((x) => x.status === 'NOT_SUPPORTED').map((x) => x.family);
    // No pasid allocator, no SVA, no flush queue, no virtio reserved fields: nothing else.
    expect(new Set(unsupported)).toEqual(new Set(['pasid', 'sva', 'iotlb', 'virtio']));
  });
});
