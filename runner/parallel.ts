// Runs units of work on worker threads (tinypool: the pool vitest itself runs on, no
// dependencies of its own), in the order given, results in the same order.

import Tinypool from 'tinypool';
import type { Unit, UnitResult } from './worker-task.ts';

export async function runUnits(units: readonly Unit[], workers: number, onResult?: (r: UnitResult) => void): Promise<UnitResult[]> {
  const pool = new Tinypool({ filename: new URL('./worker.js', import.meta.url).href, minThreads: workers, maxThreads: workers });
  try {
    return await Promise.all(units.map(async (u) => {
      const r = (await pool.run(u)) as UnitResult;
      onResult?.(r);
      return r;
    }));
  } finally {
    await pool.destroy();
  }
}
