// Runs units of work on worker threads (tinypool: the pool vitest itself runs on, no
// dependencies of its own), in the order given, results in the same order.

import { setMaxListeners } from 'node:events';
import Tinypool from 'tinypool';
import type { Unit, UnitResult } from './worker-task.ts';

/**
 * Runs every unit; on `signal` the pool is torn down at once and the units not finished are
 * simply missing from the result (the caller reports them as interrupted).
 */
export async function runUnits(units: readonly Unit[], workers: number, onResult?: (r: UnitResult) => void, signal?: AbortSignal): Promise<UnitResult[]> {
  const pool = new Tinypool({ filename: new URL('./worker.js', import.meta.url).href, minThreads: workers, maxThreads: workers });
  const done: UnitResult[] = [];
  // Every queued unit listens on the one signal.
  if (signal) setMaxListeners(units.length + 10, signal);
  try {
    await Promise.all(units.map(async (u) => {
      try {
        const r = (await pool.run(u, { signal })) as UnitResult;
        done.push(r);
        onResult?.(r);
      } catch (e) {
        if (!signal?.aborted) throw e;
      }
    }));
  } finally {
    await pool.destroy();
  }
  return done;
}
