// For the QEMU target tests: each Debian suite's QEMU fetched once per test file (the project's
// scripts/fetch-qemu-suite.sh), and a bounded run of a matrix target compared with its judged
// expectations through the targets runner itself, so the tests and `npm run targets` judge alike.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type DebianSuite, type QemuArch, type QemuInstall, findQemu } from '../impl/targets/qemu/common/machine.ts';
import { TARGETS, type Target, checkTarget, readExpectations } from '../runner/targets.ts';
import type { ReportFinding } from '../runner/suite.ts';
import { type Op, type Outcome, PROT, type Topology } from '../spec/index.ts';
import { expectCleanRun, runCli } from './cli-run.ts';
import { unavailableTarget } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');
/** Per suite: null once fetched, else why the fetch failed. */
const fetched = new Map<DebianSuite, string | null>();

/**
 * The suite's QEMU for `arch`, fetched on first use, or why it cannot be had. Every architecture
 * of the suite is fetched at once: adding one later re-unpacks the suite's tree, which would pull
 * it from under a QEMU another test file is starting from it.
 */
export function qemuOf(suite: DebianSuite, arch: QemuArch = 'x86_64'): QemuInstall | string {
  let failed = fetched.get(suite);
  if (failed === undefined) {
    const r = spawnSync('bash', [join(ROOT, 'scripts/fetch-qemu-suite.sh'), suite], { encoding: 'utf8', timeout: 900_000 });
    failed = r.status === 0 ? null : `scripts/fetch-qemu-suite.sh ${suite} failed: ${r.stderr.trim().split('\n').at(-1)}`;
    fetched.set(suite, failed);
  }
  return failed ?? findQemu(suite, arch);
}

/** The suite's QEMU, or a loud skip (a failure under CI=true) when the packages are out of reach. */
export function requireQemuOf(ctx: { skip: (note?: string) => never }, suite: DebianSuite, what: string, arch: QemuArch = 'x86_64'): QemuInstall {
  const q = qemuOf(suite, arch);
  return typeof q === 'string' ? unavailableTarget(ctx, `${what} on Debian ${suite}'s QEMU`, q) : q;
}

export function matrixTarget(matrix: string, suite: DebianSuite): Target {
  const t = TARGETS.find((x) => x.matrix === matrix && x.suite === suite);
  if (!t) throw new Error(`no target ${matrix}@${suite}`);
  return t;
}

/**
 * A run at the expectations' own budget finds exactly their required findings and nothing
 * unjudged; the kit or adapter itself is never at fault.
 */
export async function expectJudged(t: Target): Promise<void> {
  const known = readExpectations(t.expectations);
  const o = await checkTarget(t, { runs: known.run.runs, ...(known.run.maxSteps ? { maxSteps: known.run.maxSteps } : {}) });
  const r = o.report!;
  expect(r.rules.filter((x) => ['ADAPTER_ERROR', 'CRASH', 'TIMEOUT'].includes(x.status)).map((x) => `${x.id} ${x.status}`), 'the adapter itself failed').toEqual([]);
  const describe = (rule: string) => {
    const f = o.findings.find((x) => x.rule === rule)!;
    return `${rule} ${f.status}\n  ${f.trace.join('\n  ')}\n  expected: ${f.expected.join(' | ')}\n  observed: ${f.observed}`;
  };
  expect(o.unexpected.map(describe), `new divergences on ${t.id}: judge them and record them in ${t.expectations}`).toEqual([]);
  expect(o.vanished, `expected divergences that no longer show on ${t.id}`).toEqual([]);
}

/**
 * The suite catches a guest-driver kit run with kit_fault=skip-unmap-invalidation: some finding
 * is an access right after an unmap that went through where a fault was due. `ignore` sets aside
 * rules a version's known findings would end the family with first (which also ends such a
 * sequence early, so more `runs` may be needed); `maxSteps` bounds the sequences and the shrinking.
 */
export async function expectBrokenKitCaught(kit: string, suite: DebianSuite, opts: { ignore?: readonly string[]; runs?: number; maxSteps?: number } = {}): Promise<void> {
  const ignore = opts.ignore ?? [];
  const r = await runCli(['run', '--adapter', `impl/targets/qemu/${kit}/module.ts`, '--policy', 'kit_fault=skip-unmap-invalidation', '--family', 'iotlb',
    '--runs', String(opts.runs ?? 10), '--max-steps', String(opts.maxSteps ?? 60), '--workers', '1', '--no-corpus', '--quiet', '--min-ops', '0', ...(ignore.length ? ['--ignore', ignore.join(',')] : [])],
  { guardMs: 880_000, env: { IOMMU_CONFORMANCE_QEMU_SUITE: suite } });
  expectCleanRun(r);
  // A device access that went through after the drawn op before it, an unmap, succeeded.
  const lastDrawn = (f: ReportFinding) => f.ops.slice(0, -1).filter((e) => !e.probe).at(-1);
  const stale = r.report().findings.filter((f) => f.expected.includes('FAULT') && f.observed === 'ok' && f.ops.at(-1)?.probe
    && lastDrawn(f)?.op.op === 'unmap' && 'ok' in lastDrawn(f)!.outcome);
  expect(stale.map((f) => f.rule), JSON.stringify(r.report().findings.map((f) => [f.rule, f.trace]))).not.toEqual([]);
}

interface KitAdapter {
  reset(t: Topology): Promise<unknown>;
  exec(op: Op): Promise<Outcome>;
  close(): Promise<void>;
}

/**
 * A kit built with skipUnmapInvalidation keeps using what the unit cached: a write to `iova`
 * after its unmap still lands (the kit finds it where the page last went); with `remap`, the page
 * mapped again at `remap.paddr` is read through the old translation, which the kit reports as a
 * read that did not reach the new page (`remap.miss`, the kit's own words).
 */
export async function expectStaleWithoutInvalidation(broken: KitAdapter, topology: Topology, iova: bigint, paddr: bigint, remap?: { paddr: bigint; miss: RegExp }): Promise<void> {
  try {
    await broken.reset(topology);
    for (const op of [
      { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' },
      { op: 'map', domain: 'd1', iova, paddr, size: 0x1000n, prot: remap ? PROT.READ | PROT.WRITE : PROT.WRITE },
      { op: 'attach', dev: 'dev0', domain: 'd1' },
      { op: 'dma', dev: 'dev0', iova, access: 'w' },
      { op: 'unmap', domain: 'd1', iova, size: 0x1000n },
    ] as const) await broken.exec(op);
    expect(await broken.exec({ op: 'dma', dev: 'dev0', iova, access: 'w' })).toEqual({ ok: {} });
    if (!remap) return;
    expect(await broken.exec({ op: 'map', domain: 'd1', iova, paddr: remap.paddr, size: 0x1000n, prot: PROT.READ | PROT.WRITE })).toEqual({ ok: {} });
    expect(await broken.exec({ op: 'dma', dev: 'dev0', iova, access: 'r' })).toEqual({ err: 'EIO', msg: expect.stringMatching(remap.miss) });
  } finally {
    await broken.close();
  }
}
