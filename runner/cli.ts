// The command line: `run`, `replay`, `reproduce`, `targets`, `rules`, `adapters`, … Bad input gets
// one line on stderr and exit 2; a run exits 1 on any finding or coverage-gate failure, 0 when
// everything passes.

import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { makeDir } from './make-dir.ts';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import ms from 'ms';
import { ConfigError, RULES, rulesMarkdown } from '../spec/index.ts';
import { FAMILIES_OF_PROPERTIES } from '../properties/families.ts';
import { PROCESS_PREFIX, loadAdapter, loadInProcessAdapter } from './adapters.ts';
import { BUILTINS, MUTANT_PREFIX, MUTANT_SUMMARY } from './builtins.ts';
import { DEFAULT_TIMEOUTS } from './stdio/adapter.ts';
import { RUN_TAG, reapTagged } from './stdio/reap.ts';
import { serve } from './stdio/serve.ts';
import { MUTANT_ENTRIES } from './mutant-entries.ts';
import { KILL_DEFAULTS, writeKillReport } from './kill-matrix.ts';
import { conformanceCell, kernelCatalogue, kernelTestsCell, selectCells, writeKernelMutantReport } from './kernel-mutants.ts';
import { runTargets } from './targets.ts';
import { Corpus, DEFAULT_CORPUS_DIR } from './corpus.ts';
import { startProgress } from './progress.ts';
import { parseShard } from './slices.ts';
import { reportHtml } from './report-html.ts';
import { type RunContext, reportJunit } from './report-junit.ts';
import { reportMarkdown } from './report-md.ts';
import { findingText } from './report-text.ts';
import { mergeReports } from './merge.ts';
import { emitTest, replayFinding } from './replay.ts';
import { replayScript } from './replay-script.ts';
import { reproduce } from './reproduce.ts';
import { SCRIPT_FILE } from '../impl/targets/qemu/common/reproducer/export.ts';
import { type FamilyLine, type Report, type ReportFinding, SUITE_VERSION, runSuite, shellWord } from './suite.ts';

const int = (what: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${what} must be an integer >= ${min}`);
  return n;
};

function policyPair(v: string, acc: Record<string, string>): Record<string, string> {
  const m = /^([a-z_]+)=(.+)$/.exec(v);
  if (!m) throw new InvalidArgumentError(`expected key=value, got '${v}'`);
  return { ...acc, [m[1]!]: m[2]! };
}

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

function duration(v: string): number {
  const n = ms(v as ms.StringValue);
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a duration such as 90s, 30m or 2h, got '${v}'`);
  return n;
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

const FORMATS = ['json', 'junit', 'md', 'html'] as const;
type Format = (typeof FORMATS)[number];

function formats(v: string): Format[] {
  const asked = list(v);
  const unknown = asked.filter((f) => !(FORMATS as readonly string[]).includes(f));
  if (unknown.length > 0 || asked.length === 0) throw new InvalidArgumentError(`formats are ${FORMATS.join(', ')}; got '${v}'`);
  return asked as Format[];
}

/** A finding by id (report, findings.jsonl, corpus) or from a JSON file; ConfigError if none. */
function findFinding(which: string, reportDir: string, corpusDir: string): ReportFinding {
  const isFinding = (x: unknown): x is ReportFinding => !!x && typeof x === 'object' && 'rule' in x && 'ops' in x && 'adapter' in x;
  if (existsSync(which)) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(which, 'utf8'));
    } catch (e) {
      throw new ConfigError(`${which}: not JSON (${(e as Error).message})`);
    }
    if (isFinding(data)) return data;
    const inReport = (data as { findings?: unknown[] }).findings;
    if (Array.isArray(inReport) && inReport.length === 1 && isFinding(inReport[0])) return inReport[0];
    throw new ConfigError(`${which} holds no single finding (give the finding's id with --report-dir instead)`);
  }
  const candidates: unknown[] = [];
  const report = join(reportDir, 'report.json');
  if (existsSync(report)) candidates.push(...((JSON.parse(readFileSync(report, 'utf8')) as { findings?: unknown[] }).findings ?? []));
  const jsonl = join(reportDir, 'findings.jsonl');
  if (existsSync(jsonl)) candidates.push(...readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown));
  candidates.push(...new Corpus(corpusDir).load().map((e) => e.finding));
  const hit = candidates.find((c) => isFinding(c) && c.id === which);
  if (!hit) throw new ConfigError(`no finding '${which}' in ${report}, ${jsonl} or ${corpusDir}`);
  return hit as ReportFinding;
}

/** Writes the chosen formats; returns the paths. */
function writeReports(report: Report, dir: string, chosen: readonly Format[], ctx: RunContext): string[] {
  const out: string[] = [];
  const put = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    out.push(join(dir, name));
  };
  if (chosen.includes('json')) put('report.json', JSON.stringify(report, null, 2) + '\n');
  if (chosen.includes('md')) put('report.md', reportMarkdown(report));
  if (chosen.includes('junit')) put('junit.xml', reportJunit(report, ctx));
  if (chosen.includes('html')) put('report.html', reportHtml(report, ctx));
  return out;
}

/** Report files a run writes: removed when a run starts, so none can be mistaken for this run's. */
const REPORT_FILES = ['report.json', 'report.md', 'junit.xml', 'report.html', 'findings.jsonl'];

/**
 * The report directory, made ready before anything else happens: created, cleared of the last
 * run's reports, findings.jsonl started empty. One that cannot be written is bad input, found
 * before an adapter starts.
 */
function prepareReportDir(dir: string): string {
  try {
    makeDir(dir);
    for (const f of REPORT_FILES) rmSync(join(dir, f), { force: true });
    const jsonl = join(dir, 'findings.jsonl');
    writeFileSync(jsonl, '');
    return jsonl;
  } catch (e) {
    throw new ConfigError(`cannot write reports to ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

const TABLE_COLUMNS = [['PASS', 'PASS'], ['FAIL', 'FAIL'], ['ERR', 'ADAPTER_ERROR'], ['CRASH', 'CRASH'], ['TMOUT', 'TIMEOUT'], ['QW', 'QUALITY_WARNING'], ['N/S', 'NOT_SUPPORTED'], ['UNCHK', 'UNCHECKED'], ['INT', 'INTERRUPTED']] as const;

/** The family table: each rule counted in one row, so the columns add up to the summary line. */
function printFamilies(families: readonly FamilyLine[], summary: Report['summary']): void {
  const row = (id: string, runs: string, ops: string, ms: string, cells: (string | number)[]) =>
    console.log(`${id.padEnd(22)} ${runs.padStart(6)} ${ops.padStart(9)} ${ms.padStart(7)}  ${cells.map((n) => String(n).padStart(5)).join(' ')}`);
  row('family', 'seqs', 'ops', 'ms', TABLE_COLUMNS.map(([h]) => h));
  for (const f of families) row(f.id, String(f.runs), String(f.ops), String(f.ms), TABLE_COLUMNS.map(([, k]) => f.counts[k]));
  row('all rules', '', '', '', TABLE_COLUMNS.map(([, k]) => summary[k]));
}

/** The summary line: every status, zero counts left out but PASS and FAIL. */
function summaryLine(r: Report): string {
  const s = r.summary;
  const parts = TABLE_COLUMNS.map(([, k]) => k).filter((k) => k === 'PASS' || k === 'FAIL' || s[k] > 0).map((k) => `${s[k]} ${k}`);
  return `${r.adapter.name} ${r.adapter.version}: ${parts.join(', ')} (${r.rules.length} rules)`;
}

/** `--adapter` or `--adapter-cmd`, exactly one; a process adapter's spec is `cmd:<command line>`. */
function chooseAdapter(spec: string | undefined, command: string | undefined): string {
  if ((spec === undefined) === (command === undefined)) throw new ConfigError('give exactly one of --adapter <spec> and --adapter-cmd <command>');
  if (command !== undefined && command.trim() === '') throw new ConfigError('--adapter-cmd: empty command');
  return command !== undefined ? `${PROCESS_PREFIX}${command}` : spec!;
}

/** `mutants --kernel`: the catalogue, or with --run the kill matrix (exit 3 when the kernel source cannot be fetched here). */
async function kernelMutantsCommand(o: { run?: boolean; json?: boolean; family?: string[]; suite?: string[]; only?: string[]; seed: number; runs?: number; swarm?: boolean; reportDir: string }): Promise<number> {
  if (o.seed !== KILL_DEFAULTS.seed || o.swarm) throw new ConfigError('--kernel runs each target with its expectations\' seed and generation: --seed and --swarm do not apply');
  const cells = selectCells({ families: o.family, suites: o.suite, only: o.only });
  if (!o.run) {
    const rows = cells.map((c) => ({ ...c, description: kernelCatalogue(c.family).find((m) => m.id === c.mutant)?.description ?? '' }));
    if (o.json) console.log(JSON.stringify(rows, null, 2));
    else for (const c of rows) console.log(`${c.family.padEnd(15)} ${c.mutant.padEnd(34)} ${c.suite.padEnd(9)} ${(c.format ?? '').padEnd(8)} ${c.description}`);
    return 0;
  }
  const result = await writeKernelMutantReport(cells, {
    runs: o.runs, reportDir: o.reportDir,
    onBaseline: (t, s) => console.error(`baseline ${t}: ${s} s`),
    onCell: (r) => console.error(`${r.family} ${r.mutant} ${r.suite}${r.format ? ` ${r.format}` : ''}: kernel tests ${kernelTestsCell(r.kernelTests)}; suite ${conformanceCell(r.conformance).replace(/\*/g, '')} (${r.kernelTests.seconds} + ${r.conformance.seconds} s)`),
  });
  if ('unavailable' in result) {
    console.error(`iommu-conformance: the kernel source cannot be fetched here: ${result.unavailable}`);
    return 3;
  }
  const s = result.summary;
  console.log(`kernel tests killed ${s.kernelTests.killed}/${s.kernelTests.of}, the suite ${s.conformance.killed}/${s.conformance.of}${s.buildFailed ? `; ${s.buildFailed} cell(s) did not build` : ''}; ${s.seconds} s; ${join(o.reportDir, 'kernel-mutants.json')}, ${join(o.reportDir, 'kernel-mutants.md')}`);
  // Every mutant is written against sid's kernel; an older kernel's code may differ so that a patch does not apply there.
  return result.cells.some((c) => c.suite === 'sid' && (c.kernelTests.verdict === 'build-failed' || c.conformance.verdict === 'build-failed')) ? 1 : 0;
}

export function buildProgram(startup: Startup = {}): Command {
  const program = new Command('iommu-conformance')
    .description('Property-based conformance suite for IOMMU models')
    .version(SUITE_VERSION)
    .exitOverride()
    .configureOutput({ writeErr: () => {} });

  program
    .command('run')
    .description('check an adapter against every rule; writes report.json and report.md (and --format others) to --report-dir')
    .option('--adapter <spec>', 'builtin:<name> or a path to an adapter module (run in a process of its own)')
    .option('--adapter-cmd <command>', 'an adapter in another process, spoken to over the stdio protocol (spec/protocol.md)')
    .addOption(new Option('--timeout <duration>', 'longest wait for one reply').argParser(duration).default(DEFAULT_TIMEOUTS.requestMs, '10s'))
    .addOption(new Option('--case-timeout <duration>', 'longest one test case may take').argParser(duration).default(DEFAULT_TIMEOUTS.caseMs, '2m'))
    .addOption(new Option('--hello-timeout <duration>', 'longest wait for the hello of a fresh adapter process (loading a model, booting an emulator)').argParser(duration).default(DEFAULT_TIMEOUTS.helloMs, '1m'))
    .option('--lockstep', 'one request at a time instead of pipelining')
    .option('--profile <name>', 'profile for builtin adapters (linux)')
    .addOption(new Option('--policy <key=value>', 'policy for builtin adapters, passed to a module\'s factory too (repeatable)').argParser(policyPair).default({}, 'none'))
    .option('--family <ids>', 'only these property families (comma-separated)', list)
    .option('--seed <n>', 'seed for every family', int('--seed', 0), 20261121)
    .option('--runs <n>', 'sequences per family (below ~300 the coverage gate may fail, see --min-ops)', int('--runs', 1), 15000)
    .option('--max-steps <n>', 'longest sequence, in generated steps', int('--max-steps', 1), 60)
    .option('--swarm', 'swarm generation: each sequence switches off some op kinds of its family (a path found with it replays only with it)')
    .option('--path <path>', 'replay one case (fast-check path from a finding)')
    .option('--ignore <rules>', 'rules set aside (a replay passes the finding\'s)', list)
    .addOption(new Option('--set-aside <by>', 'after a finding, set aside its whole rule, or only failures of its shape (rule, op, reply and expectation classes), so a second bug under one rule is still reported').choices(['rule', 'shape']).default('rule'))
    .option('--min-ops <n>', 'coverage gate: generated ops per op kind and family', int('--min-ops', 0), 20)
    .option('--report-dir <dir>', 'where the reports go (report.json, junit.xml, report.md, report.html, findings.jsonl)', 'reports')
    .addOption(new Option('--format <list>', 'report formats: json,junit,md,html').argParser(formats).default(['json', 'md'], 'json,md'))
    .addOption(new Option('--workers <n>', 'worker threads').argParser(int('--workers', 1)).default(availableParallelism(), `the cores, ${availableParallelism()} here`))
    .option('--shard <i/n>', 'run shard i of n (1-based); each shard draws its own sequences')
    .option('--time <duration>', 'run until this budget is spent (e.g. 30m) instead of --runs; bounds shrinking', duration)
    .option('--corpus <dir>', 'failure database: stored findings are replayed first, new ones added', DEFAULT_CORPUS_DIR)
    .option('--no-corpus', 'neither replay nor store findings')
    .addOption(new Option('--quiet', 'no per-family table'))
    .action(async (o) => {
      const stop = new AbortController();
      const hard = new AbortController();
      let caught: string | null = null;
      // First signal: stop, report what finished. Second: stop the workers now, still report.
      // Third: the user means it.
      const onSignal = (sig: string) => {
        if (caught === null) {
          caught = sig;
          stop.abort();
        } else if (!hard.signal.aborted) hard.abort();
        else process.exit(SIGNAL_EXIT[sig] ?? 1);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const early = startup.takeEarlySignal?.() ?? null;
      if (early) onSignal(early);
      const adapterOptions = { profile: o.profile, policies: o.policy, requestTimeoutMs: o.timeout, caseTimeoutMs: o.caseTimeout, helloTimeoutMs: o.helloTimeout, lockstep: o.lockstep };
      const adapterSpec = chooseAdapter(o.adapter, o.adapterCmd);
      const shard = o.shard === undefined ? undefined : parseShard(o.shard);
      const corpus = o.corpus === false ? undefined : new Corpus(o.corpus);
      if (corpus) {
        try {
          makeDir(corpus.dir);
        } catch (e) {
          throw new ConfigError(`cannot use ${corpus.dir} as the failure database (--corpus): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      }
      // Appended as each finding is known: a run killed even by SIGKILL keeps them.
      const jsonl = prepareReportDir(o.reportDir);
      // Every adapter process of this run carries the tag: none outlives it (runner/stdio/reap.ts).
      const runTag = `${process.pid}-${Date.now()}`;
      process.env[RUN_TAG] = runTag;
      const adapter = await loadAdapter(adapterSpec, adapterOptions);
      const chosen = FAMILIES_OF_PROPERTIES.filter((f) => !o.family?.length || o.family.includes(f.id));
      const planned = chosen.reduce((n, f) => n + Math.max(1, Math.round(o.runs * (f.budgetShare ?? 1))), 0);
      const progress = o.quiet || o.path ? null : startProgress(o.time ? { timeMs: o.time } : { sequences: planned });
      let report: Report;
      try {
        report = await runSuite(adapter, {
          adapterSpec, seed: o.seed, runs: o.runs, maxSteps: o.maxSteps, swarm: o.swarm === true, families: o.family, path: o.path,
          ignore: o.ignore, setAsideBy: o.setAside, minOpsPerKind: o.path ? 0 : o.minOps, maxSkipRate: 0.2,
          onProgress: progress ? (p) => progress.update(p) : undefined,
          onFinding: (f) => appendFileSync(jsonl, JSON.stringify(f) + '\n'),
          corpus, workers: o.workers, adapterOptions, shard, timeMs: o.time, signal: stop.signal, hardSignal: hard.signal,
        });
      } finally {
        progress?.stop();
        await adapter.close?.();
        reapTagged(RUN_TAG, runTag);
      }
      if (!o.quiet) printFamilies(report.families, report.summary);
      let written: string[];
      try {
        written = writeReports(report, o.reportDir, o.format as Format[], { path: o.path });
      } catch (e) {
        throw new ConfigError(`cannot write reports to ${o.reportDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      console.log(`\n${summaryLine(report)}`);
      for (const f of report.findings) console.log(`\n${findingText(f)}`);
      if (!report.gate.ok) console.log(`\ncoverage gate failed:\n  ${report.gate.problems.join('\n  ')}`);
      console.log(`\nreport: ${written.join(', ')}`);
      if (report.corpus && report.corpus.replayed > 0) console.log(`corpus ${report.corpus.dir}: ${report.corpus.replayed} stored finding(s) replayed, ${report.corpus.reproduced} still failing, ${report.corpus.fixed} now fixed-verified`);
      if (caught) console.log(`stopped by ${caught}: the report covers what finished; the rest is INTERRUPTED`);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.exitCode = caught ? SIGNAL_EXIT[caught]! : report.summary.exitCode;
    });

  program
    .command('targets')
    .description('fetch, build and check the real third-party models; writes reports/third-party/<target>[@<version>].{md,json}')
    .argument('[ids...]', 'only these targets: linux-io-pgtable-arm (every kernel version; linux-io-pgtable-arm-s2 at stage 2; linux-io-pgtable-v7s, linux-io-pgtable-dart), qemu-virtio-iommu, qemu-intel-iommu (every QEMU version), or one version as qemu-intel-iommu@trixie')
    .action(async (ids: string[]) => {
      // In CI a target that cannot be obtained is an error; elsewhere it is skipped, loudly.
      process.exitCode = await runTargets(ids, { required: process.env.CI === 'true' });
    });

  program
    .command('serve')
    .description('put an in-process adapter behind the stdio protocol (what --adapter-cmd speaks to)')
    .requiredOption('--adapter <spec>', 'builtin:<name> or a path to an adapter module')
    .option('--profile <name>', 'profile for builtin adapters (linux)')
    .addOption(new Option('--policy <key=value>', 'policy for builtin adapters (repeatable)').argParser(policyPair).default({}, 'none'))
    .action(async (o) => {
      const adapter = await loadInProcessAdapter(o.adapter, { profile: o.profile, policies: o.policy });
      await serve(adapter, process.stdin, process.stdout);
      await adapter.close?.();
    });

  program
    .command('replay')
    .description('re-run one finding exactly as found (its stored trace), without generating or shrinking')
    .argument('<finding>', 'a finding id (from a report, findings.jsonl or the corpus) or a JSON file holding one finding')
    .option('--report-dir <dir>', 'where to look for the id', 'reports')
    .option('--corpus <dir>', 'failure database to look in too', DEFAULT_CORPUS_DIR)
    .option('--adapter <spec>', 'replay against this adapter instead of the one that found it')
    .option('--emit-test <file>', 'write a test that fails until the bug is fixed: <file>.ts a vitest test, <file>.ndjson a script for the C SDK\'s iommu-replay (no Node needed)')
    .action(async (which: string, o) => {
      const f = findFinding(which, o.reportDir, o.corpus);
      if (o.emitTest) {
        const file = String(o.emitTest);
        if (file.endsWith('.ndjson')) {
          writeFileSync(file, replayScript(f));
          console.log(`wrote ${file}: run it with impl/sdk/c/build/iommu-replay ${shellWord(file)} '<adapter command>' (make -C impl/sdk/c builds it)`);
        } else if (/\.[cm]?[jt]s$/.test(file)) {
          writeFileSync(file, emitTest(f, file));
          console.log(`wrote ${file}`);
        } else throw new ConfigError(`--emit-test ${file}: name a .ts file (a vitest test) or a .ndjson file (a script for iommu-replay)`);
      }
      const adapter = await loadAdapter(o.adapter ?? f.adapter.spec, o.adapter ? {} : (f.adapter.options ?? { profile: f.adapter.profile, policies: f.adapter.policies }));
      const r = await replayFinding(adapter, f).finally(() => adapter.close?.());
      console.log(`${f.rule} (finding ${f.id}) against ${o.adapter ?? f.adapter.spec}:`);
      for (const l of r.lines) console.log(`  ${l}`);
      if (!r.failed) console.log('passes now: the bug no longer reproduces on this trace');
      else console.log(`${r.reproduced ? 'still fails' : `fails, now as ${r.rule}`}\n  expected: ${r.expected.join(' | ')}\n  observed: ${r.observed}`);
      process.exitCode = r.failed ? 1 : 0;
    });

  program
    .command('reproduce')
    .description('export a finding on a QEMU target as a standalone qtest script and python runner: on any QEMU build it exits 1 while the divergence is there, 0 once fixed')
    .requiredOption('--report <file>', 'reports/third-party/<target>@<release>.json, a run\'s report.json, one finding, or a reproducer\'s trace.json')
    .option('--finding <n|id>', 'which finding: its position in the report (1-based) or its id; the only one by default')
    .option('--suite <suite>', 'the Debian suite whose QEMU records it (default: the one of the release that found it)')
    .requiredOption('--out <dir>', 'the directory to write: reproducer.qtest, run-qtest.py, README.md, trace.json')
    .option('--seen-on <releases>', 'QEMU releases the divergence shows on, for the README (default: those of the targets reports beside --report)', list)
    .action(async (o) => {
      const r = await reproduce({ report: o.report, finding: o.finding, suite: o.suite, out: o.out, seenOn: o.seenOn });
      console.log(`${r.rule}: wrote ${r.dir} (recorded on QEMU ${r.recordedOn}: the last op ${r.diverged ? `gave ${r.observed}, expected ${r.expected.join(' | ')}` : `gave ${r.observed}, as expected`})`);
      console.log(`run it: python3 ${join(r.dir, 'run-qtest.py')} ${join(r.dir, SCRIPT_FILE)} <path to ${r.emulator}>`);
    });

  program
    .command('merge')
    .description('combine the reports of shards (report.json in each directory) into one')
    .argument('<dirs...>', 'report directories of the runs to merge')
    .requiredOption('--report-dir <dir>', 'where the merged reports go')
    .addOption(new Option('--format <list>', 'report formats: json,junit,md,html').argParser(formats).default(['json', 'md'], 'json,md'))
    .action((dirs: string[], o) => {
      const reports = dirs.map((d) => {
        const file = join(d, 'report.json');
        if (!existsSync(file)) throw new ConfigError(`${d}: no report.json (was it written with --format json?)`);
        try {
          return JSON.parse(readFileSync(file, 'utf8')) as Report;
        } catch (e) {
          throw new ConfigError(`${file}: not JSON (${(e as Error).message})`);
        }
      });
      const merged = mergeReports(reports, dirs);
      makeDir(o.reportDir);
      const written = writeReports(merged, o.reportDir, o.format as Format[], {});
      const s = merged.summary;
      console.log(`merged ${dirs.length} reports of ${merged.adapter.name} ${merged.adapter.version}: ${s.PASS} PASS, ${s.FAIL} FAIL, ${s.ADAPTER_ERROR} ADAPTER_ERROR, ${merged.findings.length} distinct finding(s), ${merged.coverage.sequences} sequences`);
      console.log(`report: ${written.join(', ')}`);
      process.exitCode = s.exitCode;
    });

  program
    .command('rules')
    .description('print the rule catalogue')
    .option('--json', 'as JSON: [{id, family, level, title, statement, sources, policies, capabilities}]')
    .option('--markdown', 'as the generated Markdown rule list')
    .action((o) => {
      if (o.json) console.log(JSON.stringify(RULES, null, 2));
      else if (o.markdown) process.stdout.write(rulesMarkdown(RULES));
      else for (const r of RULES) console.log(`${r.id.padEnd(20)} ${r.level.padEnd(7)} ${r.title}`);
    });

  program
    .command('mutants')
    .description('the mutant catalogue of the bundled models (one as an adapter: --adapter builtin:mutant/<id>), or with --kernel of the real kernel page-table code; --run kills them')
    .option('--json', 'as JSON')
    .option('--run', 'run the kill matrix: writes mutants.json and mutants.md (--kernel: kernel-mutants.json and kernel-mutants.md); exit 1 if any model mutant survives, or any kernel mutant does not build on sid')
    .option('--kernel', "our mutants of Linux's io-pgtable-arm.c, io-pgtable-arm-v7s.c, io-pgtable-dart.c and generic_pt (patches under impl/targets/linux/*/mutants*), each through the kernel's own tests and the suite")
    .option('--family <families>', 'with --kernel: io-pgtable-arm, io-pgtable-v7s, io-pgtable-dart, generic_pt (comma-separated; default all)', list)
    .option('--suite <suites>', 'with --kernel: the Debian suites whose kernels to patch, bookworm, trixie, sid (default sid; generic_pt is in sid only)', list)
    .option('--only <ids>', 'with --kernel: only these mutants (comma-separated ids, or <family>/<id>)', list)
    .option('--seed <n>', 'seed of every family', int('--seed', 0), KILL_DEFAULTS.seed)
    .option('--runs <n>', `sequences per family and mutant (default ${KILL_DEFAULTS.runs}; --kernel: each target's CI budget, its expectations' runs)`, int('--runs', 1))
    .option('--max-steps <n>', 'longest sequence, in generated steps', int('--max-steps', 1), KILL_DEFAULTS.maxSteps)
    .option('--swarm', 'swarm generation: each sequence switches off some op kinds of its family')
    .option('--report-dir <dir>', 'where the reports go', 'reports')
    .action(async (o) => {
      if (o.kernel) {
        process.exitCode = await kernelMutantsCommand(o);
        return;
      }
      for (const k of ['family', 'suite', 'only'] as const) if (o[k] !== undefined) throw new ConfigError(`--${k} is for --kernel`);
      const rows = MUTANT_ENTRIES.map(({ create: _create, ...m }) => m);
      if (!o.run) {
        if (o.json) console.log(JSON.stringify(rows, null, 2));
        else for (const m of rows) console.log(`${m.id.padEnd(28)} ${m.rules.join(',').padEnd(40)} ${m.description}`);
        return;
      }
      const report = await writeKillReport(MUTANT_ENTRIES, {
        seed: o.seed, runs: o.runs ?? KILL_DEFAULTS.runs, maxSteps: o.maxSteps, swarm: o.swarm === true, reportDir: o.reportDir,
        onMutant: (r) => console.error(`${r.killed ? 'killed  ' : 'SURVIVED'} ${r.id.padEnd(30)} ${r.killed ? `${r.reportedRule} after ${r.runsToFailure} sequence(s), ${r.traceLength} op(s), ${r.secondsToFailure?.toFixed(2)} s` : ''}`),
      });
      const s = report.summary;
      console.log(`${s.killed}/${s.total} mutants killed; median ${s.medianSecondsToKill} s, p95 ${s.p95SecondsToKill} s to kill; ${join(o.reportDir, 'mutants.json')}, ${join(o.reportDir, 'mutants.md')}`);
      process.exitCode = s.killed === s.total ? 0 : 1;
    });

  program
    .command('adapters')
    .description('list the bundled adapters')
    .option('--json', 'as JSON')
    .action((o) => {
      const rows = [...BUILTINS.map((b) => ({ name: `builtin:${b.name}`, summary: b.summary })), { name: `builtin:${MUTANT_PREFIX}<id>`, summary: MUTANT_SUMMARY }];
      if (o.json) console.log(JSON.stringify(rows, null, 2));
      else for (const r of rows) console.log(`${r.name.padEnd(28)} ${r.summary}`);
    });
  return program;
}

/** What the entry point hands over: a signal that came while the suite was loading. */
export interface Startup {
  takeEarlySignal?: () => string | null;
}

export async function main(argv: string[], startup: Startup = {}): Promise<number> {
  try {
    await buildProgram(startup).parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      console.error(`iommu-conformance: ${e.message.replace(/^error: /, '')}`);
      return 2;
    }
    if (e instanceof ConfigError) {
      console.error(`iommu-conformance: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
