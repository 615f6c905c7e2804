// The failure database: findings are stored once per (rule, adapter, trace shape), replayed
// first on the next run, and marked fixed-verified when they no longer reproduce.

import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ConfigError, type Policies } from '../spec/index.ts';
import { ReferenceAdapter } from '../impl/reference/adapter.ts';
import { Corpus, findingKey, replayCorpus, traceShape } from '../runner/corpus.ts';
import { runSuite } from '../runner/suite.ts';
import createOvermapReplaces from './fixtures/overmap-replaces.ts';


const opts = { seed: 11, runs: 200, maxSteps: 30, minOpsPerKind: 0, maxSkipRate: 1, families: ['page-size-alignment'] };

test('a finding is stored once, replayed, and marked fixed-verified once the bug is gone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corpus-'));
  const corpus = new Corpus(dir);
  const report = await runSuite(createOvermapReplaces(), { adapterSpec: 'overmap', ...opts });
  const f = report.findings.find((x) => x.rule === 'MAP-OVERLAP')!;
  expect(f).toBeDefined();
  expect(traceShape(f)).toMatch(/map:ok .*!map$/);

  expect(corpus.record(f, 'overmap-replaces', opts.maxSteps)).toBe(true);
  expect(corpus.record(f, 'overmap-replaces', opts.maxSteps)).toBe(false); // deduplicated
  expect(readdirSync(dir)).toEqual([`MAP-OVERLAP-${findingKey(f, 'overmap-replaces')}.json`]);
  // Another adapter with the same bug is another entry.
  expect(findingKey(f, 'other')).not.toBe(findingKey(f, 'overmap-replaces'));

  const ctx = { profile: 'linux', policies: report.adapter.policies as unknown as Policies, capabilities: report.adapter.capabilities, topologies: 'any' as const };
  const still = await replayCorpus(corpus, createOvermapReplaces(), ctx, 'overmap-replaces');
  expect(still.map((r) => r.reproduced)).toEqual([true]);
  expect(corpus.load()[0]!.status).toBe('open');

  // The same adapter name, the bug fixed: the stored case passes and is marked, not dropped.
  const fixed = await replayCorpus(corpus, new ReferenceAdapter(), ctx, 'overmap-replaces');
  expect(fixed.map((r) => r.reproduced)).toEqual([false]);
  expect(corpus.load().map((e) => e.status)).toEqual(['fixed-verified']);
  // Found again later, it is open again (and counts as new).
  expect(corpus.record(f, 'overmap-replaces', opts.maxSteps)).toBe(true);
  expect(corpus.load()[0]!.status).toBe('open');
});

test('a damaged corpus is a configuration error naming the file; a missing one is empty', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corpus-'));
  expect(new Corpus(join(dir, 'missing')).load()).toEqual([]);
  writeFileSync(join(dir, 'garbage.json'), '{"schema": 1, "key": ');
  expect(() => new Corpus(dir).load()).toThrow(/garbage\.json is corrupt/);
  const other = mkdtempSync(join(tmpdir(), 'corpus-'));
  writeFileSync(join(other, 'other.json'), '{"schema": 99, "key": "x"}');
  expect(() => new Corpus(other).load()).toThrow(ConfigError);
});

test('runSuite replays the corpus first and stores what it finds', async () => {
  const corpus = new Corpus(mkdtempSync(join(tmpdir(), 'corpus-')));
  const first = await runSuite(createOvermapReplaces(), { adapterSpec: 'overmap', ...opts, corpus });
  expect(first.corpus).toMatchObject({ replayed: 0, reproduced: 0, fixed: 0 });
  const stored = corpus.load();
  expect(stored.map((e) => e.rule).sort()).toEqual([...new Set(first.findings.map((f) => f.rule))].sort());

  // Another seed: the stored bug is still reported, from the replay, before any new search.
  const second = await runSuite(createOvermapReplaces(), { adapterSpec: 'overmap', ...opts, seed: 99, corpus });
  expect(second.corpus).toMatchObject({ replayed: stored.length, reproduced: stored.length, fixed: 0 });
  expect(second.findings.map((f) => f.rule)).toContain('MAP-OVERLAP');
  expect(second.summary.exitCode).toBe(1);
});
