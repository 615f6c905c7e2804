// What isolation costs: the same suite budget against builtin:arm-smmu with the model as an
// object in the suite's own thread (the library path, with no protection against a hang or a
// crash) and as the command line runs it, in a process of its own behind the stdio protocol
// (pipelined; timeouts, crash detection, restarts). One worker, so the checker's work is the
// same in both. CPU is counted for the suite and, for the isolated run, its adapter processes
// too (reaped children's CPU, from /proc/self/stat). Also times a fresh adapter process from
// spawn to its hello reply, which every crash or hang costs. Merges `isolation: {…}` into
// reports/bench.json.

import { readFileSync } from 'node:fs';
import { loadAdapter, loadInProcessAdapter } from '../runner/adapters.ts';
import { runSuite } from '../runner/suite.ts';
import { ProcessAdapter } from '../runner/stdio/adapter.ts';
import { mergeBench, table } from './bench-json.ts';
import { cpuMs } from './cpu-time.ts';

const RUNS = Number(process.env.BENCH_ISOLATION_RUNS ?? 400);
const SPEC = 'builtin:arm-smmu';
const TICK_MS = 10; // USER_HZ: /proc reports clock ticks of 1/100 s

/** CPU of this process's reaped children (the adapter processes once closed), in ms. */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

async function measure(isolated: boolean) {
  const adapter = isolated ? await loadAdapter(SPEC, {}) : await loadInProcessAdapter(SPEC, {});
  const wall = performance.now();
  const cpu = cpuMs();
  const kids = childrenCpuMs();
  const r = await runSuite(adapter, { adapterSpec: SPEC, seed: 1, runs: RUNS, maxSteps: 60, minOpsPerKind: 0, maxSkipRate: 1, workers: 1 });
  await adapter.close?.();
  if (r.findings.length > 0) throw new Error(`${SPEC} failed ${r.findings[0]!.rule}: the bench needs a conforming model`);
  const ops = Object.values(r.coverage.ops).reduce((n, o) => n + o.total, 0);
  const wallMs = performance.now() - wall;
  const totalCpuMs = cpuMs() - cpu + (childrenCpuMs() - kids);
  return { ops, wallMs: Math.round(wallMs), cpuMs: Math.round(totalCpuMs), opsPerSec: Math.round(ops / (wallMs / 1000)), opsPerCpuSec: Math.round(ops / (totalCpuMs / 1000)) };
}

/** Spawn to hello reply of a fresh host, the median of five. */
async function startupMs(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const p = (await loadAdapter(SPEC, {})) as ProcessAdapter;
    const t = performance.now();
    await p.hello();
    times.push(performance.now() - t);
    await p.close();
  }
  return Math.round(times.sort((a, b) => a - b)[2]!);
}

await measure(false); // warms the checker's paths
// Taking turns, each keeping its best: a busy spell on a shared machine only ever adds time.
const inProcess = [await measure(false), await measure(false)].sort((a, b) => b.opsPerSec - a.opsPerSec)[0]!;
const isolated = [await measure(true), await measure(true)].sort((a, b) => b.opsPerSec - a.opsPerSec)[0]!;
const startup = await startupMs();
const wallRatio = Number((isolated.opsPerSec / inProcess.opsPerSec).toFixed(3));
const cpuRatio = Number((isolated.opsPerCpuSec / inProcess.opsPerCpuSec).toFixed(3));
console.log(table([
  [`isolation (${SPEC}, ${RUNS} runs per family, 1 worker)`, 'ops', 'wall ms', 'CPU ms (all processes)', 'ops/s (wall)', 'ops per CPU s'],
  ['in the suite\'s thread (library path, unprotected)', inProcess.ops, inProcess.wallMs, inProcess.cpuMs, inProcess.opsPerSec, inProcess.opsPerCpuSec],
  ['in a process of its own (the command line)', isolated.ops, isolated.wallMs, isolated.cpuMs, isolated.opsPerSec, isolated.opsPerCpuSec],
]));
console.log(`isolated/in-process: ${wallRatio} of the wall-clock throughput, ${cpuRatio} of the throughput per CPU second; a fresh adapter process answers its hello in ${startup} ms`);
mergeBench('isolation', { spec: SPEC, runsPerFamily: RUNS, inProcess, isolated, wallRatio, cpuRatio, startupMs: startup, measuredAt: new Date().toISOString() });
