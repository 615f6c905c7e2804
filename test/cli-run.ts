// Running the command line as a user does, for the adversarial tests: a real child process, a
// report directory of its own, a tag in the environment that every process it starts inherits
// (so the test can tell whether any of them outlived the run), and the output checked for what
// must never reach a terminal: a stack trace, raw control bytes.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Report } from '../runner/suite.ts';
import { processesTagged } from './helpers.ts';

export const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'iommu-conformance.js');
const TAG = 'IOMMU_CONFORMANCE_TEST_TAG';

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  dir: string;
  ms: number;
  /** The run's report.json (throws if none was written). */
  report(): Report;
  written(name: string): string | null;
  /** Processes started by the run that are still alive (must be none). */
  leftovers(): number[];
}

export interface CliOptions {
  env?: Record<string, string>;
  /** Kills the run after this long: a hang guard only (see hangGuardMs). */
  guardMs: number;
  /** Called once the child is running (to send it signals); `started` lists the command lines of the processes it has started. */
  during?: (child: ChildProcess, output: () => { stdout: string; stderr: string }, started: () => string[]) => Promise<void> | void;
  /** No --report-dir of the test's choosing (the test gives its own). */
  noReportDir?: boolean;
}

export async function runCli(args: string[], opts: CliOptions): Promise<CliRun> {
  const dir = mkdtempSync(join(tmpdir(), 'cli-run-'));
  const tag = randomUUID();
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args, ...(opts.noReportDir ? [] : ['--report-dir', dir])], {
    cwd: ROOT, env: { ...process.env, ...opts.env, [TAG]: tag }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const guard = setTimeout(() => child.kill('SIGKILL'), opts.guardMs);
  try {
    const running = () => processesTagged(TAG, tag).flatMap((pid) => {
      try {
        return [readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')];
      } catch {
        return [];
      }
    });
    await opts.during?.(child, () => ({ stdout, stderr }), running);
    const { code, signal } = await done;
    // The run's own processes are gone once it has exited; give the kernel a moment to reap.
    await new Promise((r) => setTimeout(r, 200));
    return {
      code, signal, stdout, stderr, dir, ms: Date.now() - started,
      report: () => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report,
      written: (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : null),
      leftovers: () => processesTagged(TAG, tag),
    };
  } finally {
    clearTimeout(guard);
    for (const pid of processesTagged(TAG, tag)) process.kill(pid, 'SIGKILL');
  }
}

/** Resolves once `pred` holds (polling), or rejects after `ms`. */
export function waitUntil(pred: () => boolean, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (pred()) {
        clearInterval(t);
        clearTimeout(g);
        resolve();
      }
    }, 50);
    const g = setTimeout(() => {
      clearInterval(t);
      reject(new Error(`condition not met within ${ms} ms`));
    }, ms);
  });
}

// Not a terminal, so the suite itself writes no escape sequence: any control byte came from an adapter.
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** What every run must give: a report in every format asked for, a clean terminal, nothing left running. */
export function expectCleanRun(r: CliRun, formats: string[] = ['report.json', 'report.md']): void {
  const text = `${r.stdout}\n${r.stderr}`;
  expect(r.signal, `killed by the test's hang guard after ${r.ms} ms:\n${text.slice(-3000)}`).toBeNull();
  for (const f of formats) expect(r.written(f), `${f} not written:\n${text.slice(-2000)}`).not.toBeNull();
  expect(text).not.toMatch(/^\s+at .*\.(ts|js):\d+/m); // no stack trace
  expect(RAW_CONTROL.test(text), 'raw control bytes reached the terminal').toBe(false);
  expect(r.leftovers(), 'adapter processes outlived the run').toEqual([]);
}
