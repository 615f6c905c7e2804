// The reference playing a model must answer every request a conforming model could be sent,
// including those sent ahead of a case that then went another way: on fault injection (seed 1)
// a `leaves` predicted after a map that the injection then failed reached it over no mapping,
// and it threw, so the suite's own reference failed its own run with ADAPTER-REPLY.

import { expect, test } from 'vitest';
import { loadAdapter } from '../runner/adapters.ts';
import { runSuite } from '../runner/suite.ts';

test('the reference passes fault injection whatever the requests sent ahead of a case meet', async () => {
  const adapter = await loadAdapter('builtin:reference', {});
  try {
    const r = await runSuite(adapter, {
      adapterSpec: 'builtin:reference', adapterOptions: {}, seed: 1, runs: 100, maxSteps: 60, families: ['fault-injection'], minOpsPerKind: 0, maxSkipRate: 1, workers: 1,
    });
    expect(r.findings.map((f) => `${f.rule}: ${f.observed}`)).toEqual([]);
    expect(r.rules.find((x) => x.id === 'FAIL-ATOMIC')?.status).toBe('PASS');
  } finally {
    await adapter.close?.();
  }
}, 300_000);
