// `npm run bench`: every benchmark in turn, each in its own Node process (scaling needs
// --expose-gc, and a fresh heap keeps one bench's garbage out of the next one's numbers).
// Each merges its key into reports/bench.json; this prints their tables as they come.

import { spawnSync } from 'node:child_process';

const BENCHES: { file: string; flags?: string[] }[] = [
  { file: 'bench/workers.ts' },
  { file: 'bench/harness.ts' },
  { file: 'bench/scaling.ts', flags: ['--expose-gc'] },
  { file: 'bench/mutants.ts' },
  { file: 'bench/protocol.ts' },
  { file: 'bench/isolation.ts' },
  { file: 'bench/targets.ts' },
];

let failed = 0;
for (const b of BENCHES) {
  console.log(`\n== ${b.file}`);
  const r = spawnSync(process.execPath, [...(b.flags ?? []), '--import', 'tsx', b.file], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`${b.file} exited with ${r.status ?? r.signal}`);
    failed++;
  }
}
console.log(`\nreports/bench.json updated${failed ? `; ${failed} bench(es) failed` : ''}`);
process.exitCode = failed ? 1 : 0;
