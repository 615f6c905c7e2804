// Finding an adapter's processes after the fact. A process group does not hold a daemon that
// called setsid(), nor an orphan re-parented to init; but the environment is inherited through
// fork, exec and setsid alike. Each adapter process is started with a tag in its environment
// (and each run with one for all of its adapters), and on Linux /proc tells who still carries
// it. Elsewhere there is no /proc and only the process group is killed.

import { readFileSync, readdirSync } from 'node:fs';

/** Set on every process of one adapter (one spawn): killed with it. */
export const ADAPTER_TAG = 'IOMMU_CONFORMANCE_ADAPTER';
/** Set on every adapter process of one run, by the command line: nothing carrying it outlives the run. */
export const RUN_TAG = 'IOMMU_CONFORMANCE_RUN';

/** Pids of the processes whose environment holds `name=value` (never this process). */
export function tagged(name: string, value: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const needle = Buffer.from(`${name}=${value}\0`);
  const out: number[] = [];
  for (const e of entries) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`);
      if (env.indexOf(needle) !== -1) out.push(pid);
    } catch {
      // Gone, or not ours to read.
    }
  }
  return out;
}

/** SIGKILL to every process that carries the tag; returns how many there were. */
export function reapTagged(name: string, value: string): number {
  const pids = tagged(name, value);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Exited meanwhile.
    }
  }
  return pids.length;
}
