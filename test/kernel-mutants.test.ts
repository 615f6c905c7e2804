// The kill matrix of our kernel mutants (runner/kernel-mutants.ts, `mutants --run --kernel`):
// the verdict diff against the unmodified kernel's findings, the catalogue and its choice of
// generic_pt format, bad input, and one mutant of io-pgtable-arm, -v7s and generic_pt built and run for real (the
// kernel's own tests and the suite at the CI budget). Without the kernel package (no apt, no
// network) the real run warns loudly and skips, except under CI=true.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { type FindingsDigest, KERNEL_FAMILIES, type KernelMutantReport, findingsDiff, genptFormatOf, kernelCatalogue, kernelMutantsMarkdown, kernelTestsCell, selectCells } from '../runner/kernel-mutants.ts';
import { unavailableTarget } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');
const UNAVAILABLE = 3;

const digest = (findings: [string, string[]][], rules: [string, string][] = []): FindingsDigest => ({
  findings: findings.map(([rule, trace]) => ({ rule, trace })),
  rules: rules.map(([id, status]) => ({ id, status })),
});

describe('findingsDiff: a mutant against the unmodified kernel', () => {
  const kernel = digest([['XLATE-I2P', ['map a', 'i2p b']], ['MAP-OVERLAP', ['map a', 'map a']]], [['ADAPTER-CRASH', 'CRASH'], ['XLATE-PERM', 'PASS']]);

  test('the same findings on the same traces: survived', () => {
    expect(findingsDiff(kernel, kernel)).toEqual([]);
  });

  test('a rule found only on the mutant, one no longer found, one on another trace', () => {
    const mutant = digest([['XLATE-I2P', ['map a', 'i2p c']], ['XLATE-PERM', ['map r', 'dma w']]], [['ADAPTER-CRASH', 'CRASH'], ['XLATE-PERM', 'FAIL']]);
    expect(findingsDiff(mutant, kernel)).toEqual(['+XLATE-PERM', '-MAP-OVERLAP', '~XLATE-I2P']);
  });

  test('the same ops with other answers are no evidence (the unmodified kernel answers uninitialised stack to one i2p)', () => {
    const ops = (answer: string) => ({ rule: 'XLATE-I2P', trace: ['map a', `i2p -> ${answer}`], ops: [{ op: { op: 'map' } }, { op: { op: 'iova_to_phys' } }] });
    const kernelRun = { findings: [ops('0x7ffc1000')], rules: [] };
    expect(findingsDiff({ findings: [ops('0x7ffd2000')], rules: [] }, kernelRun)).toEqual([]);
    expect(findingsDiff({ findings: [{ ...ops('0x0'), ops: [{ op: { op: 'iova_to_phys' } }] }], rules: [] }, kernelRun)).toEqual(['~XLATE-I2P']);
  });

  test('a crash or timeout counts only where the kernel did not already crash or time out', () => {
    const mutant = digest([['XLATE-I2P', ['map a', 'i2p b']], ['MAP-OVERLAP', ['map a', 'map a']]], [['ADAPTER-CRASH', 'CRASH'], ['XLATE-PERM', 'TIMEOUT']]);
    expect(findingsDiff(mutant, kernel)).toEqual(['XLATE-PERM:TIMEOUT']);
  });
});

describe('the catalogue', () => {
  test('at least 15 mutants per family, each with the one-line header the reports quote', () => {
    for (const family of KERNEL_FAMILIES) {
      const c = kernelCatalogue(family, ROOT);
      expect(c.length).toBeGreaterThanOrEqual(15);
      for (const m of c) {
        expect(m.description.length, m.id).toBeGreaterThan(40);
        expect(m.files.length, m.id).toBeGreaterThan(0);
      }
    }
  });

  test('io-pgtable-arm, -v7s and -dart share one tree and one build directory: their mutant ids are unique across the three', () => {
    const ids = (['io-pgtable-arm', 'io-pgtable-v7s', 'io-pgtable-dart'] as const).flatMap((f) => kernelCatalogue(f, ROOT).map((m) => m.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(kernelCatalogue('io-pgtable-v7s', ROOT).every((m) => m.files.includes('drivers/iommu/io-pgtable-arm-v7s.c'))).toBe(true);
    expect(kernelCatalogue('io-pgtable-dart', ROOT).every((m) => m.files.includes('drivers/iommu/io-pgtable-dart.c'))).toBe(true);
  });

  test("a generic_pt mutant runs against the format it patches, the common code's against amdv1", () => {
    expect(genptFormatOf({ files: ['drivers/iommu/generic_pt/fmt/vtdss.h'] })).toBe('vtdss');
    expect(genptFormatOf({ files: ['drivers/iommu/generic_pt/fmt/x86_64.h'] })).toBe('x86_64');
    expect(genptFormatOf({ files: ['drivers/iommu/generic_pt/fmt/riscv.h'] })).toBe('riscv64');
    expect(genptFormatOf({ files: ['drivers/iommu/generic_pt/iommu_pt.h'] })).toBe('amdv1');
  });

  test('cells: sid by default, generic_pt only in sid, unknown names refused', () => {
    const cells = selectCells({ only: ['ap-rdonly-inverted', 'vtdss-r-dropped'] }, ROOT);
    expect(cells).toEqual([
      { family: 'io-pgtable-arm', mutant: 'ap-rdonly-inverted', suite: 'sid' },
      { family: 'generic_pt', mutant: 'vtdss-r-dropped', suite: 'sid', format: 'vtdss' },
    ]);
    expect(selectCells({ only: ['vtdss-r-dropped'], suites: ['trixie', 'sid'] }, ROOT)).toHaveLength(1);
    expect(() => selectCells({ families: ['io-pgtable'] }, ROOT)).toThrow(/--family/);
    expect(() => selectCells({ suites: ['buster'] }, ROOT)).toThrow(/--suite/);
    expect(() => selectCells({ only: ['no-such-mutant'] }, ROOT)).toThrow(/--only/);
    expect(() => selectCells({ families: ['generic_pt'], suites: ['trixie'] }, ROOT)).toThrow(/sid/);
    expect(selectCells({ only: ['v7s-ap-rdonly-inverted', 'dart-i2p-no-offset'], suites: ['bookworm'] }, ROOT)).toEqual([
      { family: 'io-pgtable-v7s', mutant: 'v7s-ap-rdonly-inverted', suite: 'bookworm' },
      { family: 'io-pgtable-dart', mutant: 'dart-i2p-no-offset', suite: 'bookworm' },
    ]);
  });
});

test('the Markdown report: both kill rates first, a mutant that does not build said so', () => {
  const md = kernelMutantsMarkdown({
    budget: { seed: 1, runsPerFamily: 'expectations', workers: 1 },
    summary: { cells: 2, kernelTests: { killed: 1, of: 1 }, conformance: { killed: 0, of: 1 }, byFamily: { 'io-pgtable-arm': { kernelTests: { killed: 1, of: 1 }, conformance: { killed: 0, of: 1 } } }, buildFailed: 1, seconds: 50 },
    cells: [
      { family: 'io-pgtable-arm', mutant: 'a', suite: 'sid', description: 'bug a', kernelTests: { verdict: 'killed', passed: 0, failed: 63, seconds: 1 }, conformance: { verdict: 'survived', diff: [], seconds: 20 } },
      { family: 'io-pgtable-arm', mutant: 'b', suite: 'bookworm', description: 'bug b', kernelTests: { verdict: 'build-failed', passed: null, failed: null, detail: 'does not apply', seconds: 0 }, conformance: { verdict: 'build-failed', diff: [], detail: 'does not apply', seconds: 0 } },
    ],
  });
  const lines = md.split('\n');
  expect(lines.slice(2, 5)).toEqual([
    "- kernel's own tests (selftests, KUnit): **1 of 1 (100%)** killed",
    "- conformance suite (at each target's CI budget: its expectations' runs per family, seed 1, one worker): **0 of 1 (0%)** killed",
    '- 1 cell(s) did not build',
  ]);
  expect(md).toContain('| io-pgtable-arm | a | sid | — | killed (0 pass, 63 fail) | 1 | **survived** | 20 |');
  expect(md).toContain('| io-pgtable-arm | b | bookworm | — | does not build: does not apply | 0 | does not build: does not apply | 0 |');
});

test('io-pgtable-dart has no kernel test: said so per cell and in the summary, counted as not killed', () => {
  const cell = { family: 'io-pgtable-dart' as const, mutant: 'd', suite: 'sid' as const, description: 'bug d', kernelTests: { verdict: 'no-kernel-test' as const, passed: null, failed: null, seconds: 0 }, conformance: { verdict: 'killed' as const, diff: ['+XLATE-I2P'], seconds: 9 } };
  const md = kernelMutantsMarkdown({ budget: { seed: 1, runsPerFamily: 'expectations', workers: 1 }, summary: { cells: 1, kernelTests: { killed: 0, of: 1 }, conformance: { killed: 1, of: 1 }, byFamily: {}, buildFailed: 0, seconds: 9 }, cells: [cell] });
  expect(kernelTestsCell(cell.kernelTests)).toBe('no kernel test (not killed)');
  expect(md).toContain('- 1 cell(s) with no kernel test');
  expect(md).toContain('| io-pgtable-dart | d | sid | — | no kernel test (not killed) | 0 | killed (+XLATE-I2P) | 9 |');
});

test('bad input: one line on stderr, exit 2', () => {
  const r = spawnSync(process.execPath, ['bin/iommu-conformance.js', 'mutants', '--run', '--kernel', '--family', 'nope'], { cwd: ROOT, encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
});

test('one mutant of io-pgtable-arm, -v7s and generic_pt, built and run through both: killed by the suite', { timeout: 600_000 }, (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), 'kernel-mutants-'));
  try {
    const r = spawnSync(process.execPath, ['bin/iommu-conformance.js', 'mutants', '--run', '--kernel', '--only', 'ap-rdonly-inverted,v7s-ap-rdonly-inverted,x86_64-rw-always', '--report-dir', dir],
      { cwd: ROOT, encoding: 'utf8', timeout: 590_000 });
    if (r.status === UNAVAILABLE) unavailableTarget(ctx, 'the kernel mutants (linux-source-7.2, Debian sid)', r.stderr.trim());
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'kernel-mutants.json'), 'utf8')) as KernelMutantReport;
    const [arm, v7s, x86] = report.cells;
    // io-pgtable-arm's selftests never write through a read-only mapping; the suite's devices do.
    expect(arm!.kernelTests).toMatchObject({ verdict: 'survived', passed: 63, failed: 0 });
    expect(arm!.conformance.verdict).toBe('killed');
    expect(arm!.conformance.diff).toContain('+XLATE-PERM');
    // v7s's selftest is one test; it maps read-only but never writes through it either.
    expect(v7s).toMatchObject({ family: 'io-pgtable-v7s', kernelTests: { verdict: 'survived', passed: 1, failed: 0 } });
    // v7s runs by shape: the inverted bit may show as more than one shape of XLATE-PERM, each named.
    expect(v7s!.conformance.diff!.filter((d) => d.startsWith('+XLATE-PERM')).length, v7s!.conformance.diff!.join(' ')).toBeGreaterThan(0);
    expect(x86!.format).toBe('x86_64');
    expect(x86!.conformance).toMatchObject({ verdict: 'killed', diff: ['+XLATE-PERM'] });
    expect(report.summary.conformance).toEqual({ killed: 3, of: 3 });
    expect(readFileSync(join(dir, 'kernel-mutants.md'), 'utf8')).toContain('| io-pgtable-arm | ap-rdonly-inverted | sid |');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
