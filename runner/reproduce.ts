// `reproduce`: a finding on a QEMU target, taken from a report (a targets report, a run's
// report.json, one finding, or a reproducer's trace.json), exported as a standalone qtest
// reproducer (impl/targets/qemu/common/reproducer/). Also what `npm run targets` calls to write
// one reproducer per finding. Bad input is a ConfigError: one line, exit 2.

import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError, type Op, type Topology, WireError, decodeOp } from '../spec/index.ts';
import { type DebianSuite, SUITES, findQemu, qemuRelease } from '../impl/targets/qemu/common/machine.ts';
import { type ExportResult, type ReproducerKit, exportReproducer } from '../impl/targets/qemu/common/reproducer/export.ts';
import { AMD_IOMMU_REPRODUCER } from '../impl/targets/qemu/amd-iommu/reproducer.ts';
import { INTEL_IOMMU_REPRODUCER } from '../impl/targets/qemu/intel-iommu/reproducer.ts';
import { RISCV_IOMMU_REPRODUCER } from '../impl/targets/qemu/riscv-iommu/reproducer.ts';
import { SMMUV3_REPRODUCER } from '../impl/targets/qemu/smmuv3/reproducer.ts';
import { VIRTIO_IOMMU_REPRODUCER } from '../impl/targets/qemu/virtio-iommu/reproducer.ts';
import { makeDir } from './make-dir.ts';
import { decodeTopology } from './replay.ts';

export const REPRODUCER_KITS: readonly ReproducerKit[] = [INTEL_IOMMU_REPRODUCER, SMMUV3_REPRODUCER, VIRTIO_IOMMU_REPRODUCER, AMD_IOMMU_REPRODUCER, RISCV_IOMMU_REPRODUCER];

/** A finding as a reproducer needs it. */
export interface FindingToReproduce {
  rule: string;
  adapter: { name: string; version: string };
  topology: Topology;
  ops: Op[];
}

interface RawFinding {
  id?: string;
  rule?: unknown;
  ops?: unknown;
  topology?: unknown;
  adapter?: { name?: string; version?: string };
}

interface RawReport {
  findings?: RawFinding[];
  adapter?: { name?: string; version?: string };
  run?: { adapter?: { name?: string; version?: string } } | null;
}

/** The finding `which` (1-based position or id; the only one when absent) of a report file. */
export function loadFinding(file: string, which?: string): FindingToReproduce {
  if (!existsSync(file)) throw new ConfigError(`${file}: no such file`);
  let data: RawReport & RawFinding;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as RawReport & RawFinding;
  } catch (e) {
    throw new ConfigError(`${file}: not JSON (${(e as Error).message})`);
  }
  if (typeof data !== 'object' || data === null) throw new ConfigError(`${file}: not a report`);
  const single = Array.isArray(data.ops) && typeof data.rule === 'string';
  const all = single ? [data] : Array.isArray(data.findings) ? data.findings : null;
  if (!all) throw new ConfigError(`${file} holds no finding (a targets report, a run's report.json, one finding or a trace.json)`);
  const usable = all.filter((f) => typeof f?.rule === 'string');
  const listing = usable.map((f, i) => `${i + 1}: ${String(f.rule)}${f.id ? ` (${f.id})` : ''}`).join(', ');
  let f: RawFinding | undefined;
  if (which === undefined) {
    if (usable.length !== 1) throw new ConfigError(`${file} holds ${usable.length} findings: choose one with --finding (${listing || 'none'})`);
    f = usable[0];
  } else {
    f = /^\d+$/.test(which) ? usable[Number(which) - 1] : usable.find((x) => x.id === which);
    if (!f) throw new ConfigError(`${file} has no finding '${which}' (${listing || 'none'})`);
  }
  const adapter = f!.adapter ?? data.adapter ?? data.run?.adapter;
  if (!adapter?.name || !adapter.version) throw new ConfigError(`${file}: the finding does not say which adapter and version found it`);
  if (!Array.isArray(f!.ops) || f!.ops.length === 0) throw new ConfigError(`${file}: the finding carries no ops (reports written before reproducers existed hold only the readable trace; run the target again)`);
  try {
    return {
      rule: f!.rule as string, adapter: { name: adapter.name, version: adapter.version },
      topology: decodeTopology(f!.topology), ops: (f!.ops as { op: unknown }[]).map((e) => decodeOp(e.op)),
    };
  } catch (e) {
    if (e instanceof WireError || e instanceof ConfigError) throw new ConfigError(`${file}: ${e.message}`);
    throw e;
  }
}

/** The suite asked for, or the one whose cached QEMU is the release the finding was found on. */
export function chooseSuite(version: string, asked?: string): DebianSuite {
  if (asked !== undefined) {
    if (!(SUITES as readonly string[]).includes(asked)) throw new ConfigError(`--suite ${asked}: expected one of ${SUITES.join(', ')}`);
    return asked as DebianSuite;
  }
  const release = /^(\d+\.\d+)/.exec(version)?.[1];
  const hit = SUITES.find((s) => {
    const q = findQemu(s);
    return typeof q !== 'string' && qemuRelease(q) === release;
  });
  if (!hit) throw new ConfigError(`no cached QEMU of release ${release ?? version} (the finding's): give --suite ${SUITES.join('|')}`);
  return hit;
}

export function kitFor(adapterName: string): ReproducerKit {
  const kit = REPRODUCER_KITS.find((k) => k.target === adapterName);
  if (!kit) throw new ConfigError(`no reproducer for findings of '${adapterName}' (only ${REPRODUCER_KITS.map((k) => k.target).join(', ')})`);
  return kit;
}

/** Releases whose targets reports beside `file` (`<target>@<release>.json`) hold the rule. */
export function releasesWithRule(file: string, target: string, rule: string): string[] {
  const dir = dirname(file);
  const pattern = new RegExp(`^${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}@(\\d+\\.\\d+)\\.json$`);
  const releases: string[] = [];
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const m = pattern.exec(name);
    if (!m) continue;
    try {
      const r = JSON.parse(readFileSync(join(dir, name), 'utf8')) as RawReport;
      if (r.findings?.some((f) => f.rule === rule)) releases.push(m[1]!);
    } catch {
      // not a report: not evidence either way
    }
  }
  return releases.sort(byRelease);
}

export function byRelease(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am! - bm! || an! - bn!;
}

export async function reproduce(o: { report: string; finding?: string; suite?: string; out: string; seenOn?: string[] }): Promise<ExportResult & { recordedOn: string; emulator: string }> {
  const f = loadFinding(o.report, o.finding);
  const kit = kitFor(f.adapter.name);
  const suite = chooseSuite(f.adapter.version, o.suite);
  const install = findQemu(suite, kit.arch);
  if (typeof install === 'string') throw new ConfigError(install);
  try {
    makeDir(o.out);
  } catch (e) {
    throw new ConfigError(`cannot write ${o.out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const seenOn = o.seenOn ?? (basename(o.report).startsWith(`${f.adapter.name}@`) ? releasesWithRule(o.report, f.adapter.name, f.rule) : []);
  const r = await exportReproducer(kit, install, { rule: f.rule, topology: f.topology, ops: f.ops }, o.out, seenOn);
  return { ...r, recordedOn: install.version, emulator: `qemu-system-${kit.arch}` };
}

/** One matrix version's findings, as `npm run targets` hands them over. */
export interface VersionFindings {
  /** `qemu-intel-iommu@11.1`: the report's name, and the reproducers' directory. */
  name: string;
  matrix: string;
  suite: DebianSuite;
  release: string;
  findings: { rule: string; ops?: unknown; topology?: unknown }[];
}

/**
 * One reproducer per finding under `<root>/<name>/<rule>/`, each recorded on its own version
 * (one replay each); the directory is emptied first so none is mistaken for this run's.
 * Returns a line per finding: the directory, or why there is none.
 */
export async function writeReproducers(versions: readonly VersionFindings[], root = 'reports/third-party/reproducers'): Promise<string[]> {
  const lines: string[] = [];
  for (const v of versions) {
    const kit = REPRODUCER_KITS.find((k) => k.target === v.matrix);
    const install = findQemu(v.suite, kit?.arch);
    if (!kit || typeof install === 'string') continue;
    const base = join(root, v.name);
    rmSync(base, { recursive: true, force: true });
    const used = new Set<string>();
    for (const f of v.findings) {
      let dir = f.rule;
      for (let n = 2; used.has(dir); n++) dir = `${f.rule}-${n}`;
      used.add(dir);
      const seenOn = versions.filter((x) => x.matrix === v.matrix && x.findings.some((y) => y.rule === f.rule)).map((x) => x.release).sort(byRelease);
      try {
        const ops = (f.ops as { op: unknown }[] | undefined)?.map((e) => decodeOp(e.op)) ?? [];
        const r = await exportReproducer(kit, install, { rule: f.rule, topology: decodeTopology(f.topology), ops }, join(base, dir), seenOn);
        lines.push(`${r.dir}${r.diverged ? '' : ' (the last op did not diverge when recorded)'}`);
      } catch (e) {
        if (!(e instanceof ConfigError || e instanceof WireError)) throw e;
        lines.push(`${v.name} ${f.rule}: no reproducer (${e.message})`);
      }
    }
  }
  return lines;
}
