// The per-target page of `npm run targets`: every finding against the versions it shows on, a
// cause gone in a later version read as fixed, one still in the newest as a candidate bug report.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { qemuHasDevice } from '../impl/targets/qemu/common/machine.ts';
import { writeMatrices } from '../runner/target-matrix.ts';
import { TARGETS, type Target, type TargetOutcome, reportName } from '../runner/targets.ts';

const versions = TARGETS.filter((t) => t.matrix === 'qemu-intel-iommu');

function outcome(t: Target, release: string | null, found: [rule: string, cause: string, fixed?: string][]): TargetOutcome {
  if (release === null) return { target: t.id, available: false, unavailable: 'no network', findings: [], unexpected: [], vanished: [], ok: true };
  return {
    target: t.id, available: true, unexpected: [], vanished: [], ok: true,
    report: { adapter: { version: `${release}.3 (Debian)` } } as TargetOutcome['report'],
    findings: found.map(([rule, id, fixed]) => ({
      rule, status: 'FAIL', title: rule, trace: [], expected: [], observed: '', replay: '', statement: '', sources: [],
      causes: [{ id, verdict: 'divergence', judgement: `${id} judged`, ...(fixed ? { fixed: { in: fixed, by: 'abc123 "a fix"' } } : {}) }],
    })),
  };
}

test('findings by version: fixed upstream, a candidate bug report, a version that did not run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'matrix-'));
  const outcomes: [Target, TargetOutcome][] = [
    [versions[0]!, outcome(versions[0]!, '7.2', [['XLATE-PERM', 'cached'], ['TLB-REMOVED', 'old-bug', '10.0']])],
    [versions[1]!, outcome(versions[1]!, '10.0', [['XLATE-PERM', 'cached']])],
    [versions[2]!, outcome(versions[2]!, null, [])],
  ];
  expect(outcomes.map(([t, o]) => reportName(t, o))).toEqual(['qemu-intel-iommu@7.2', 'qemu-intel-iommu@10.0', 'qemu-intel-iommu@sid']);
  const files = writeMatrices(outcomes, dir);
  expect(files.map((f) => f.slice(dir.length + 1))).toEqual(['qemu-intel-iommu.json', 'qemu-intel-iommu.md']);
  const md = readFileSync(join(dir, 'qemu-intel-iommu.md'), 'utf8');
  expect(md).toContain('| XLATE-PERM | cached | found | found | not run |');
  expect(md).toContain('| TLB-REMOVED | old-bug | found | — | not run |');
  expect(md).toMatch(/\*\*old-bug\*\* \(divergence; fixed in 10\.0 by abc123 "a fix"\)/);
  expect(md).toContain('qemu-intel-iommu@sid: not run (no network).');
  // The newest version did not run: nothing can be called a candidate bug report from it.
  expect(md).not.toContain('candidate bug report');
  const json = JSON.parse(readFileSync(join(dir, 'qemu-intel-iommu.json'), 'utf8')) as { rows: { rule: string; seen: string[] }[] };
  expect(json.rows.find((r) => r.rule === 'XLATE-PERM')!.seen).toEqual(['found', 'found', 'not run']);
});

test('a divergence still present in the newest version is a candidate bug report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'matrix-'));
  writeMatrices(versions.map((t, i) => [t, outcome(t, ['7.2', '10.0', '11.1'][i]!, [['MAP-RANGE', 'beyond-range']])] as [Target, TargetOutcome]), dir);
  expect(readFileSync(join(dir, 'qemu-intel-iommu.md'), 'utf8')).toMatch(/\*\*beyond-range\*\* \(divergence; present in the newest version: a candidate bug report\)/);
});

test('a version whose QEMU has no such device reads "no device", never a pass or a version that failed to run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'matrix-'));
  const absent: TargetOutcome = { target: versions[0]!.id, available: false, absent: "Debian bookworm's QEMU 7.2.22 has no riscv-iommu-pci device", findings: [], unexpected: [], vanished: [], ok: true };
  writeMatrices([[versions[0]!, absent], ...versions.slice(1).map((t, i) => [t, outcome(t, ['10.0', '11.1'][i]!, [['TLB-FLUSH', 'stale']])] as [Target, TargetOutcome])], dir);
  const md = readFileSync(join(dir, 'qemu-intel-iommu.md'), 'utf8');
  expect(md).toContain('| TLB-FLUSH | stale | no device | found | found |');
  expect(md).toContain("qemu-intel-iommu@bookworm: no device (Debian bookworm's QEMU 7.2.22 has no riscv-iommu-pci device).");
});

test("whether a version's QEMU has a device is read from the list the fetch script saved", () => {
  const cache = mkdtempSync(join(tmpdir(), 'qemu-cache-'));
  mkdirSync(join(cache, 'trixie', 'device-help'), { recursive: true });
  writeFileSync(join(cache, 'trixie', 'device-help', 'riscv64-devices.txt'), 'name "riscv-iommu-pci", bus PCI, desc "RISC-V IOMMU"\nname "edu", bus PCI\n');
  expect(qemuHasDevice({ suite: 'trixie', arch: 'riscv64' }, 'riscv-iommu-pci', cache)).toBe(true);
  expect(qemuHasDevice({ suite: 'trixie', arch: 'riscv64' }, 'riscv-iommu', cache)).toBe(false);
  expect(qemuHasDevice({ suite: 'sid', arch: 'riscv64' }, 'riscv-iommu-pci', cache)).toMatch(/missing \(run scripts\/fetch-qemu-suite\.sh sid riscv64\)/);
});
