// End-to-end checks of the suite: the reference and the bundled example pass, a broken model
// fails with the right rule and a short trace, and the same seed gives the same verdict.

import { expect, test } from 'vitest';
import { ReferenceAdapter } from '../impl/reference/adapter.ts';
import createExample from '../examples/minimal-adapter.ts';
import { runSuite } from '../runner/suite.ts';
import createOvermapReplaces from './fixtures/overmap-replaces.ts';

const opts = { seed: 7, runs: 150, maxSteps: 40, minOpsPerKind: 5, maxSkipRate: 0.2 };

test('the reference passes every family with no gate problem', async () => {
  const r = await runSuite(new ReferenceAdapter(), { adapterSpec: 'builtin:reference', ...opts });
  expect(r.findings).toEqual([]);
  expect(r.gate.problems).toEqual([]);
  expect(r.summary.exitCode).toBe(0);
  expect(r.rules.filter((x) => x.status === 'UNCHECKED').map((x) => x.id)).toEqual([]);
});

test('the README example model conforms', async () => {
  const r = await runSuite(createExample(), { adapterSpec: 'examples/minimal-adapter.ts', ...opts });
  expect(r.findings.map((f) => `${f.rule}: ${f.trace.join(' ; ')}`)).toEqual([]);
  expect(r.summary.FAIL).toBe(0);
});


test('a silent overmap is reported as MAP-OVERLAP with a minimal trace, deterministically', async () => {
  const run = () => runSuite(createOvermapReplaces(), { adapterSpec: 'overmap', ...opts, families: ['page-size-alignment'] });
  const [a, b] = [await run(), await run()];
  expect(a.summary.exitCode).toBe(1);
  const f = a.findings.find((x) => x.rule === 'MAP-OVERLAP');
  expect(f, JSON.stringify(a.findings.map((x) => x.rule))).toBeDefined();
  const calls = f!.ops.filter((e) => !e.probe).length;
  expect(calls, f!.trace.join('\n')).toBeLessThanOrEqual(4);
  expect(b.findings.map((x) => x.trace)).toEqual(a.findings.map((x) => x.trace));
});

