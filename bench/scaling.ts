// How the reference model scales with the number of live mappings: one paging domain filled
// with 4 KiB maps at distinct IOVAs (10^3 … 10^6 of them), then a fixed mix of map, unmap,
// iova_to_phys and dma at random places, timed per op in CPU time, and the heap each live
// mapping costs.
// Run with --expose-gc (npm run bench does). Merges `scaling: [{liveMappings, nsPerOp,
// bytesPerMapping}]` into reports/bench.json.

import { GiB, KiB, MiB, type Op, type Outcome, type Topology, isFailure } from '../spec/index.ts';
import { ReferenceAdapter } from '../impl/reference/adapter.ts';
import { mergeBench, table } from './bench-json.ts';
import { cpuMs } from './cpu-time.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('bench/scaling.ts: run node with --expose-gc (the heap per mapping needs a full collection)');
  process.exit(2);
}

const SIZES = (process.env.BENCH_SCALING_SIZES ?? '1000,10000,100000,1000000').split(',').map(Number);
const MIX_OPS = Number(process.env.BENCH_SCALING_OPS ?? 400_000);
/** The timed mix is cut into rounds that visit every size in turn, so a busy moment on a shared machine hits them all alike. */
const ROUNDS = 10;
/** Heap deltas of a few hundred KiB drown in noise: small sizes are built in several domains at once. */
const MIN_MEASURED_MAPPINGS = 200_000;
const PAGE = 4n * KiB;
/** Mappings sit every other page; the mix maps and unmaps the gaps, so the count stays put. */
const STRIDE = 2n * PAGE;
const PADDR = 0x1_0000_0000n;

const TOPOLOGY: Topology = {
  iommus: [{ name: 'iommu0', format: 'lpae', pgsizes: PAGE | 2n * MiB | GiB, ias: 48, oas: 48, contexts: 8, pasidBits: 0, domainTypes: ['paging', 'dma', 'identity', 'blocked'] }],
  groups: [{ name: 'g0', iommu: 'iommu0', defaultDomain: 'identity' }],
  devices: [{ name: 'dev0', group: 'g0', maxPasids: 0 }],
};

function must(model: ReferenceAdapter, op: Op): Outcome {
  const out = model.exec(op);
  if (isFailure(out)) throw new Error(`${op.op} failed with ${out.err}`);
  return out;
}

function emptyDomain(): ReferenceAdapter {
  const model = new ReferenceAdapter();
  model.reset(TOPOLOGY);
  must(model, { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' });
  must(model, { op: 'attach', dev: 'dev0', domain: 'd1' });
  return model;
}

function fill(model: ReferenceAdapter, n: number): void {
  // A fresh size each time, as a decoded request has: one shared bigint would hide its cost.
  for (let i = 0n; i < BigInt(n); i++) must(model, { op: 'map', domain: 'd1', iova: i * STRIDE, paddr: PADDR + i * STRIDE, size: BigInt(Number(PAGE)), prot: 3 });
}

/** The mix at live mapping i: map its gap, look it up both ways, unmap the gap again. */
function mixOps(i: bigint): Op[] {
  const gap = i * STRIDE + PAGE;
  return [
    { op: 'map', domain: 'd1', iova: gap, paddr: PADDR + gap, size: PAGE, prot: 3 },
    { op: 'iova_to_phys', domain: 'd1', iova: i * STRIDE + 0x10n },
    { op: 'dma', dev: 'dev0', iova: i * STRIDE + 0x20n, access: 'r' },
    { op: 'unmap', domain: 'd1', iova: gap, size: PAGE },
  ];
}

/** A fixed pseudo-random walk over the live mappings (the same for every run). */
function places(n: number, count: number, seed: number): bigint[] {
  let x = seed >>> 0;
  const out: bigint[] = [];
  for (let k = 0; k < count; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.push(BigInt(x % n));
  }
  return out;
}

/** Heap per live mapping, built in enough domains of n mappings each for the delta to stand out of the noise. */
function bytesPerMapping(n: number): number {
  const copies = Math.ceil(MIN_MEASURED_MAPPINGS / n);
  const models = Array.from({ length: copies }, emptyDomain);
  gc!();
  gc!();
  const before = process.memoryUsage().heapUsed;
  for (const m of models) fill(m, n);
  gc!();
  gc!();
  const bytes = process.memoryUsage().heapUsed - before;
  if (models.length !== copies) throw new Error('unreachable'); // keeps the models alive until measured
  return Math.round(bytes / (n * copies));
}

/** Untimed: every reply of the mix is what it must be (and the code is warm). */
function verify(model: ReferenceAdapter, n: number): void {
  for (const i of places(n, 2000, 1)) {
    const [map, i2p, dma, unmap] = mixOps(i).map((op) => must(model, op));
    const ok = (o: Outcome | undefined) => (o && !isFailure(o) ? (o.ok as Record<string, unknown>) : {});
    if (!map || ok(i2p).phys !== PADDR + i * STRIDE + 0x10n || ok(dma).phys !== PADDR + i * STRIDE + 0x20n || ok(unmap).unmapped !== PAGE) {
      throw new Error(`the reference answered wrongly at mapping ${i} of ${n}`);
    }
  }
}

function timeRound(model: ReferenceAdapter, n: number, round: number): number {
  const ops = places(n, MIX_OPS / ROUNDS / 4, 0x2545f491 + round).flatMap(mixOps);
  const started = cpuMs();
  for (const op of ops) model.exec(op);
  return ((cpuMs() - started) * 1e6) / ops.length;
}

const memory = SIZES.map(bytesPerMapping);
gc();
const models = SIZES.map((n) => {
  const m = emptyDomain();
  fill(m, n);
  verify(m, n);
  return m;
});
const perRound: number[][] = SIZES.map(() => []);
for (let round = 0; round < ROUNDS; round++) SIZES.forEach((n, i) => perRound[i]!.push(timeRound(models[i]!, n, round)));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rows = SIZES.map((n, i) => ({ liveMappings: n, nsPerOp: Math.round(median(perRound[i]!)), bytesPerMapping: memory[i]! }));

const first = rows[0]!;
const last = rows[rows.length - 1]!;
console.log(table([
  ['live mappings', 'CPU ns/op (median of rounds)', 'x smallest', 'bytes/mapping'],
  ...rows.map((r) => [r.liveMappings, r.nsPerOp, (r.nsPerOp / first.nsPerOp).toFixed(2), r.bytesPerMapping]),
]));
console.log(`targets: ns/op at ${last.liveMappings} <= 2x at ${first.liveMappings} (${(last.nsPerOp / first.nsPerOp).toFixed(2)}x); <= 256 bytes per mapping (max ${Math.max(...rows.map((r) => r.bytesPerMapping))})`);
mergeBench('scaling', rows);
