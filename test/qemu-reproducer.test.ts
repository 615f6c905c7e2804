// Reproducers in the model's own world: a finding on a QEMU target exported as a qtest script
// with its python runner, run against each Debian QEMU with nothing of this suite. A real
// finding's script exits 1 on every version that has the divergence and 0 on one without it; a
// trace that does not diverge exits 0 everywhere, and the same script with an assertion flipped
// exits 1, so the assertions can fail.

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type DebianSuite, FIRMWARE, type QemuArch, type QemuInstall, SUITES, qemuRelease } from '../impl/targets/qemu/common/machine.ts';
import { RUNNER, SCRIPT_FILE, exportReproducer } from '../impl/targets/qemu/common/reproducer/export.ts';
import { INTEL_IOMMU_REPRODUCER } from '../impl/targets/qemu/intel-iommu/reproducer.ts';
import { TOPOLOGIES as VTD_TOPOLOGIES } from '../impl/targets/qemu/intel-iommu/topologies.ts';
import { SMMUV3_REPRODUCER } from '../impl/targets/qemu/smmuv3/reproducer.ts';
import { TOPOLOGIES as SMMU_TOPOLOGIES } from '../impl/targets/qemu/smmuv3/topologies.ts';
import { VIRTIO_IOMMU_REPRODUCER } from '../impl/targets/qemu/virtio-iommu/reproducer.ts';
import { topologiesFor } from '../impl/targets/qemu/virtio-iommu/topologies.ts';
import { kitFor } from '../runner/reproduce.ts';
import { type Op, PROT } from '../spec/index.ts';
import { ROOT } from './cli-run.ts';
import { qemuOf, requireQemuOf } from './qemu-matrix.ts';

/** docs/upstream/qemu-intel-iommu-cached-permission-no-fault.md: a read caches the read-only translation, then a write through it. */
const CACHED_PERMISSION: Op[] = [
  { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' },
  { op: 'attach', dev: 'dev0', domain: 'd1' },
  { op: 'map', domain: 'd1', iova: 0n, paddr: 0x8000_0000n, size: 0x1000n, prot: PROT.READ },
  { op: 'dma', dev: 'dev0', iova: 0n, access: 'r' },
  { op: 'dma', dev: 'dev0', iova: 0xfffn, access: 'w' },
];
/** The same write with nothing cached: every version walks the tables and records fault reason 5h. */
const UNCACHED_WRITE = CACHED_PERMISSION.filter((_, i) => i !== 3);

/** docs/upstream/qemu-virtio-iommu-map-beyond-input-range.md, on a device advertising 39 bits. */
const MAP_BEYOND_RANGE: Op[] = [
  { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' },
  { op: 'attach', dev: 'dev0', domain: 'd1' },
  { op: 'map', domain: 'd1', iova: 0x80_0000_0000n, paddr: 0x8000_0000n, size: 0x1000n, prot: PROT.READ | PROT.WRITE },
];

/** qemu-smmuv3 causes.json, iova-beyond-48-bits-unchecked: a write one past the 48-bit input range. */
const BEYOND_48_BITS: Op[] = [
  { op: 'domain_alloc', domain: 'd1', type: 'paging', dev: 'dev0' },
  { op: 'attach', dev: 'dev0', domain: 'd1' },
  { op: 'map', domain: 'd1', iova: 0xffff_ffff_f000n, paddr: 0xbfff_f000n, size: 0x1000n, prot: PROT.READ | PROT.WRITE },
  { op: 'dma', dev: 'dev0', iova: 0x1_0000_0000_0000n, access: 'w' },
];
/** A blocked device's write: an abort STE records nothing, so the assertion is where the write did not go. */
const BLOCKED_WRITE: Op[] = [{ op: 'dma', dev: 'dev0', iova: 0x4100_0000n, access: 'w' }];

/** The reproducers committed with the upstream write-ups (docs/upstream/*.md), one directory each. */
const COMMITTED = join(ROOT, 'docs/upstream/reproducers');
const COMMITTED_DIRS = readdirSync(COMMITTED, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

/**
 * The exit status a committed README claims for `release`: 1 when its "Seen on QEMU …" list
 * names the release, else 0; without that list, what it says of the release it was recorded on.
 */
function claimedExit(readme: string, release: string): number | undefined {
  const seen = /Seen on QEMU ([\d., ]+)\./.exec(readme)?.[1];
  if (seen !== undefined) return seen.split(',').map((s) => s.trim()).includes(release) ? 1 : 0;
  const recorded = new RegExp(`Recorded on QEMU ${release.replace('.', '\\.')}\\.\\d+\\b.*\\((the divergence|no divergence there)\\)`).exec(readme);
  return recorded ? (recorded[1] === 'the divergence' ? 1 : 0) : undefined;
}

/**
 * The exported script run as a QEMU developer would: python3, the runner beside it (an export
 * carries its copy; the committed directories share the project's one), their QEMU.
 */
function runScript(dir: string, q: QemuInstall, extra: string[] = []): { code: number | null; out: string } {
  const runner = existsSync(join(dir, 'run-qtest.py')) ? join(dir, 'run-qtest.py') : RUNNER;
  const r = spawnSync('python3', [runner, join(dir, SCRIPT_FILE), q.binary, ...(extra.length ? ['--', ...extra] : [])], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

function allQemus(ctx: { skip: (note?: string) => never }, what: string, arch: QemuArch = 'x86_64'): Record<DebianSuite, QemuInstall> {
  return Object.fromEntries(SUITES.map((s) => [s, requireQemuOf(ctx, s, what, arch)])) as Record<DebianSuite, QemuInstall>;
}

/** Exit status per release, e.g. {'7.2': 1, '10.0': 1, '11.1': 1}, with each run's output kept for messages. */
function exitsByRelease(dir: string, qemus: Record<DebianSuite, QemuInstall>): { codes: Record<string, number | null>; outs: string[] } {
  const codes: Record<string, number | null> = {};
  const outs: string[] = [];
  for (const q of Object.values(qemus)) {
    const r = runScript(dir, q);
    codes[qemuRelease(q)] = r.code;
    outs.push(`${qemuRelease(q)}: ${r.out}`);
  }
  return { codes, outs };
}

const made: string[] = [];
const tmp = (name: string) => {
  made.push(mkdtempSync(join(tmpdir(), `reproducer-${name}-`)));
  return made.at(-1)!;
};
// Every version's QEMU is fetched before the tests: on a fresh clone the fetch takes minutes, and
// a test's timeout guards a hang of the scripts it runs, not the download (qemuOf bounds that).
beforeAll(() => {
  for (const arch of ['x86_64', 'aarch64', 'riscv64'] as const) for (const s of SUITES) qemuOf(s, arch);
}, 3 * SUITES.length * 900_000);

afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

describe('intel-iommu: a denied access through a cached translation records no fault (XLATE-PERM)', () => {
  test('exported from 11.1, the script exits 1 on 7.2, 10.0 and 11.1: every version is affected', { timeout: 120_000 }, async (ctx) => {
    const qemus = allQemus(ctx, 'the intel-iommu reproducer');
    const dir = tmp('intel');
    const r = await exportReproducer(INTEL_IOMMU_REPRODUCER, qemus.sid, { rule: 'XLATE-PERM', topology: VTD_TOPOLOGIES[0]!, ops: CACHED_PERMISSION }, dir);
    expect(r).toMatchObject({ rule: 'XLATE-PERM', diverged: true, expected: ['FAULT'], observed: 'EIO' });
    const script = readFileSync(join(dir, SCRIPT_FILE), 'utf8');
    // Polls are one construct each, never this run's count; the assertion is the reference's FAULT.
    expect(script).toMatch(/^@poll 500 until \(r0 & 0x1\) == 0x0: readq 0xe0000098$/m);
    expect(script.split('\n').filter((l) => l.startsWith('@expect'))).toEqual(['@expect "the unit records a fault (fault record F, bit 63, set)" ((fault_hi >> 63) & 0x1) == 0x1']);
    const { codes, outs } = exitsByRelease(dir, qemus);
    expect(codes, outs.join('\n')).toEqual({ '7.2': 1, '10.0': 1, '11.1': 1 });
    for (const out of outs) expect(out).toMatch(/: REPRODUCED XLATE-PERM at op 5 dma\(dev0, iova=0xfff, w\), expected FAULT: the unit records a fault .* observed fault_hi=0x0$/);
  });

  test('control: with nothing cached the same write faults on every version (exit 0); with its assertion flipped the script exits 1', { timeout: 120_000 }, async (ctx) => {
    const qemus = allQemus(ctx, 'the intel-iommu control reproducer');
    const dir = tmp('control');
    const r = await exportReproducer(INTEL_IOMMU_REPRODUCER, qemus.bookworm, { topology: VTD_TOPOLOGIES[0]!, ops: UNCACHED_WRITE }, dir);
    expect(r).toMatchObject({ rule: 'XLATE-PERM', diverged: false, observed: 'FAULT' });
    const { codes, outs } = exitsByRelease(dir, qemus);
    expect(codes, outs.join('\n')).toEqual({ '7.2': 0, '10.0': 0, '11.1': 0 });
    const tampered = tmp('tampered');
    const script = readFileSync(join(dir, SCRIPT_FILE), 'utf8');
    const flipped = script.replace(/^(@expect .*) == 0x1$/m, '$1 == 0x0');
    expect(flipped).not.toBe(script);
    writeFileSync(join(tampered, SCRIPT_FILE), flipped);
    copyFileSync(join(dir, 'run-qtest.py'), join(tampered, 'run-qtest.py'));
    const t = runScript(tampered, qemus.sid);
    expect(t.code, t.out).toBe(1);
    expect(t.out).toMatch(/^REPRODUCED XLATE-PERM at op 4 .*observed fault_hi=0x8/);
    // A QEMU that cannot start is "cannot run", never a verdict.
    const broken = runScript(dir, qemus.sid, ['-device', 'no-such-device']);
    expect(broken.code, broken.out).toBe(2);
    expect(broken.out).toMatch(/^CANNOT RUN .*QEMU exited with code 1.*no-such-device/);
  });
});

describe('virtio-iommu: MAP beyond the advertised input range succeeds (MAP-RANGE)', () => {
  test('exported from 11.1, the script exits 1 on 10.0 and 11.1, and 0 on 7.2, whose device advertises all 64 bits', { timeout: 120_000 }, async (ctx) => {
    const qemus = allQemus(ctx, 'the virtio-iommu reproducer');
    const dir = tmp('virtio');
    const r = await exportReproducer(VIRTIO_IOMMU_REPRODUCER, qemus.sid, { topology: topologiesFor(39)[0]!, ops: MAP_BEYOND_RANGE }, dir);
    expect(r).toMatchObject({ rule: 'MAP-RANGE', diverged: true, expected: ['ERANGE'], observed: 'ok' });
    const { codes, outs } = exitsByRelease(dir, qemus);
    expect(codes, outs.join('\n')).toEqual({ '7.2': 0, '10.0': 1, '11.1': 1 });
    expect(outs.find((o) => o.startsWith('11.1'))).toMatch(/REPRODUCED MAP-RANGE at op 3 map\(d1, iova=0x8000000000, .*\), expected ERANGE: the device answers S_RANGE.*observed request_status=0x0, .*input_end_hi=0x7f, input_end_lo=0xffffffff$/);
  });
});

describe('SMMUv3: an access beyond the 48-bit input range is neither translated nor faulted on 7.2', () => {
  test('exported from 7.2, the script exits 1 there and 0 on 10.0 and 11.1, where the upstream fix records F_TRANSLATION', { timeout: 120_000 }, async (ctx) => {
    const qemus = allQemus(ctx, 'the SMMUv3 reproducer', 'aarch64');
    const dir = tmp('smmuv3');
    const r = await exportReproducer(SMMUV3_REPRODUCER, qemus.bookworm, { rule: 'MAP-XLATE', topology: SMMU_TOPOLOGIES[0]!, ops: BEYOND_48_BITS }, dir);
    expect(r).toMatchObject({ rule: 'MAP-XLATE', diverged: true, expected: ['FAULT'], observed: 'ok' });
    const script = readFileSync(join(dir, SCRIPT_FILE), 'utf8');
    expect(script).toContain(`# firmware: ${FIRMWARE.aarch64.name} 65536 0x0 ${FIRMWARE.aarch64.head}\n`);
    expect(script.split('\n').filter((l) => l.startsWith('@expect'))).toEqual(['@expect "the unit records an event (EVTQ_PROD moves)" (evtq_prod & 0xff) != 0x0']);
    const { codes, outs } = exitsByRelease(dir, qemus);
    expect(codes, outs.join('\n')).toEqual({ '7.2': 1, '10.0': 0, '11.1': 0 });
    expect(outs.find((o) => o.startsWith('7.2'))).toMatch(/REPRODUCED MAP-XLATE at op 4 dma\(dev0, iova=0x1000000000000, w\), expected FAULT: .* observed evtq_prod=0x0$/);
  });

  test('control: a blocked device\'s write is asserted by where it did not go (an abort STE records nothing); every version passes', { timeout: 120_000 }, async (ctx) => {
    const qemus = allQemus(ctx, 'the SMMUv3 control reproducer', 'aarch64');
    const dir = tmp('smmuv3-blocked');
    const r = await exportReproducer(SMMUV3_REPRODUCER, qemus.sid, { rule: 'XLATE-DMA', topology: SMMU_TOPOLOGIES[1]!, ops: BLOCKED_WRITE }, dir);
    expect(r).toMatchObject({ diverged: false, observed: 'FAULT' });
    const expects = readFileSync(join(dir, SCRIPT_FILE), 'utf8').split('\n').filter((l) => l.startsWith('@expect'));
    expect(expects).toEqual(['@expect "no event (an abort STE records none)" (evtq_prod & 0xff) == 0x0', '@expect "the write does not reach 0x41000000, where a bypass would send it" (reached_byte & 0xff) != 0xa5']);
    const { codes, outs } = exitsByRelease(dir, qemus);
    expect(codes, outs.join('\n')).toEqual({ '7.2': 0, '10.0': 0, '11.1': 0 });
  });

  test('the firmware a script names is, byte for byte, the image scripts/fetch-qemu-suite.sh writes', (ctx) => {
    for (const arch of ['x86_64', 'aarch64'] as const) {
      const q = requireQemuOf(ctx, 'sid', 'the cached firmware', arch);
      const fw = FIRMWARE[arch];
      const head = Buffer.from(fw.head, 'hex');
      expect(readFileSync(q.bios)).toEqual(Buffer.concat([head, Buffer.alloc(fw.size - head.length, fw.fill)]));
    }
  });
});

describe('the reproducers committed under docs/upstream/reproducers', () => {
  test('there is one per write-up that names a reproducer directory', () => {
    const named = readdirSync(join(ROOT, 'docs/upstream')).filter((f) => f.endsWith('.md') && f !== 'README.md')
      .flatMap((f) => [...readFileSync(join(ROOT, 'docs/upstream', f), 'utf8').matchAll(/\(reproducers\/([\w.-]+)\/\)/g)].map((m) => m[1]!));
    expect([...new Set(named)].sort()).toEqual(COMMITTED_DIRS);
  });

  for (const name of COMMITTED_DIRS) {
    test(`${name}: \`reproduce --suite sid\` writes it again from its trace.json, and it exits as its README claims for 11.1`, { timeout: 120_000 }, (ctx) => {
      const dir = join(COMMITTED, name);
      const trace = JSON.parse(readFileSync(join(dir, 'trace.json'), 'utf8')) as { rule: string; adapter: { name: string } };
      const rule = trace.rule;
      const sid = requireQemuOf(ctx, 'sid', `the committed reproducer ${name}`, kitFor(trace.adapter.name).arch);
      const out = tmp('cli');
      const r = spawnSync(process.execPath, [join(ROOT, 'bin/iommu-conformance.js'), 'reproduce', '--report', join(dir, 'trace.json'), '--suite', 'sid', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      const release = qemuRelease(sid);
      expect(r.stdout).toMatch(new RegExp(`^${rule}: wrote .* \\(recorded on QEMU ${release.replace('.', '\\.')}\\.\\d+ .*: the last op gave .*\\)$`, 'm'));
      expect(readFileSync(join(out, SCRIPT_FILE), 'utf8'), `${name}/${SCRIPT_FILE}`).toBe(readFileSync(join(dir, SCRIPT_FILE), 'utf8'));
      // An export carries the runner, byte for byte the project's; the committed directory does not repeat it.
      expect(readFileSync(join(out, 'run-qtest.py'), 'utf8')).toBe(readFileSync(RUNNER, 'utf8'));
      expect(existsSync(join(dir, 'run-qtest.py')), `${name}: run-qtest.py is the project's one, not a copy`).toBe(false);
      const claimed = claimedExit(readFileSync(join(dir, 'README.md'), 'utf8'), release);
      expect(claimed, `${name}/README.md says nothing of QEMU ${release}`).toBeDefined();
      const run = runScript(dir, sid);
      expect(run.code, run.out).toBe(claimed);
      if (claimed === 1) expect(run.out).toMatch(new RegExp(`^REPRODUCED ${rule} at op \\d+ `));
    });
  }
});
