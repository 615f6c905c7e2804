// The failure database, after Hypothesis's example database: every distinct finding is kept
// under the corpus directory, and the next run replays each one first, so a bug found once is
// checked on every later run until it is fixed — and then it is marked fixed-verified, not
// forgotten. Findings are the same when rule, adapter, failing op kind and the shape of the
// minimal trace (op kinds and outcome kinds, not addresses) agree.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { makeDir } from './make-dir.ts';
import { join } from 'node:path';
import { type Adapter, ConfigError } from '../spec/index.ts';
import { familyById } from '../properties/families.ts';
import { type AdapterContext, type Finding, runFamily } from '../properties/property.ts';
import type { ReportFinding } from './suite.ts';
import { replayFinding } from './replay.ts';

export const CORPUS_SCHEMA = 1;
export const DEFAULT_CORPUS_DIR = '.iommu-conformance';

export type CorpusStatus = 'open' | 'fixed-verified';

export interface CorpusEntry {
  schema: number;
  key: string;
  rule: string;
  adapter: string;
  family: string;
  seed: number;
  path: string;
  ignored: string[];
  maxSteps: number;
  /** Found with swarm generation (its path replays only with it); entries from before swarm have none. */
  swarm?: boolean;
  trace: string[];
  firstSeen: string;
  lastSeen: string;
  status: CorpusStatus;
  /** The whole finding, so `replay <key>` can run it with nothing else at hand. */
  finding: ReportFinding;
}

/** Op kinds and outcome kinds of the generated (non-probe) ops, then the failing op's. */
export function traceShape(f: Pick<ReportFinding, 'ops' | 'op'>): string {
  const kinds = f.ops.filter((e) => !e.probe).map((e) => `${String(e.op.op)}:${'err' in e.outcome ? String(e.outcome.err) : 'ok'}`);
  const failing = f.ops.at(-1);
  return [...kinds, `!${failing ? String(failing.op.op) : 'reset'}`].join(' ');
}

/** Timeouts and crashes are one finding per rule and adapter, whatever the trace. */
export function findingKey(f: Pick<ReportFinding, 'rule' | 'status' | 'ops' | 'op'>, adapter: string): string {
  const whole = f.status === 'TIMEOUT' || f.status === 'CRASH';
  const parts = whole ? [f.rule, adapter] : [f.rule, adapter, traceShape(f)];
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

export class Corpus {
  constructor(readonly dir: string) {}

  private file(key: string, rule: string): string {
    return join(this.dir, `${rule}-${key}.json`);
  }

  /** One entry by its file; null when there is none. */
  private read(file: string): CorpusEntry | null {
    if (!existsSync(file)) return null;
    let e: CorpusEntry;
    try {
      e = JSON.parse(readFileSync(file, 'utf8')) as CorpusEntry;
    } catch (err) {
      // Entries are written whole (temp file, then rename), so a bad one was damaged by
      // something else: say which, rather than silently forgetting a bug.
      throw new ConfigError(`corpus ${file} is corrupt (${(err as Error).message}); move it away or delete it`);
    }
    if (e?.schema !== CORPUS_SCHEMA || typeof e.key !== 'string' || typeof e.rule !== 'string') {
      throw new ConfigError(`corpus ${file} is not a corpus entry of schema ${CORPUS_SCHEMA}`);
    }
    return e;
  }

  load(): CorpusEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith('.json')).sort();
    } catch {
      return [];
    }
    return names.flatMap((n) => this.read(join(this.dir, n)) ?? []);
  }

  private write(e: CorpusEntry): void {
    makeDir(this.dir);
    const file = this.file(e.key, e.rule);
    // Never a half-written entry, even if the run is killed mid-write.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(e, null, 2) + '\n');
    renameSync(tmp, file);
  }

  /** Stores a finding; returns true when it was not known before (or had been fixed). */
  record(f: ReportFinding, adapter: string, maxSteps: number, now = new Date(), swarm = false): boolean {
    const key = findingKey(f, adapter);
    const known = this.read(this.file(key, f.rule));
    const stamp = now.toISOString();
    this.write({
      schema: CORPUS_SCHEMA, key, rule: f.rule, adapter, family: f.family, seed: f.seed, path: f.path, ignored: f.ignored,
      maxSteps, swarm, trace: f.trace, firstSeen: known?.firstSeen ?? stamp, lastSeen: stamp, status: 'open', finding: f,
    });
    return !known || known.status !== 'open';
  }

  mark(e: CorpusEntry, status: CorpusStatus): void {
    this.write({ ...e, status });
  }
}

export interface ReplayOutcome {
  entry: CorpusEntry;
  reproduced: boolean;
  /** The replay's finding when it reproduced. */
  finding?: Finding;
  /** Or, for a finding that needs earlier cases (replayed as stored, not regenerated), the stored one. */
  stored?: ReportFinding;
}

/** Replays every open entry of this adapter once, without shrinking, and marks the fixed ones. */
export async function replayCorpus(corpus: Corpus, adapter: Adapter, ctx: Omit<AdapterContext, 'adapter'>, adapterName: string, signal?: AbortSignal): Promise<ReplayOutcome[]> {
  const out: ReplayOutcome[] = [];
  for (const e of corpus.load()) {
    if (signal?.aborted) break;
    if (e.adapter !== adapterName || e.status !== 'open') continue;
    // Earlier cases are data no seed regenerates: the stored trace is run as it is.
    if (e.finding.earlierCases?.length) {
      const r = await replayFinding(adapter, e.finding);
      if (!r.reproduced) corpus.mark(e, 'fixed-verified');
      out.push({ entry: e, reproduced: r.reproduced, ...(r.reproduced ? { stored: e.finding } : {}) });
      continue;
    }
    const family = familyById(e.family);
    if (!family) continue;
    const r = await runFamily({ ...ctx, adapter }, family, { seed: e.seed, runs: 1, maxSteps: e.maxSteps, swarm: e.swarm === true, path: e.path, ignore: e.ignored, maxFindings: 1, signal });
    // A replay cut short by a signal proves nothing either way: the entry stays open.
    if (r.interrupted) break;
    const hit = r.findings[0];
    const reproduced = hit?.rule === e.rule;
    if (!reproduced) corpus.mark(e, 'fixed-verified');
    out.push({ entry: e, reproduced, ...(reproduced ? { finding: hit } : {}) });
  }
  return out;
}
