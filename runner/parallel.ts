// Runs units of work on worker threads (tinypool: the pool vitest itself runs on, no
// dependencies of its own), in the order given, results in the same order.

import { setMaxListeners } from 'node:events';
import { MessageChannel } from 'node:worker_threads';
import Tinypool from 'tinypool';
import type { Unit, UnitResult } from './worker-task.ts';

/**
 * Runs every unit; on `signal` the pool is torn down at once and the units not finished are
 * simply missing from the result (the caller reports them as interrupted).
 */
export async function runUnits(
  units: readonly Unit[], workers: number, onResult?: (r: UnitResult) => void, signal?: AbortSignal,
  onProgress?: (unit: number, sequences: number) => void,
): Promise<UnitResult[]> {
  const pool = new Tinypool({ filename: new URL('./worker.js', import.meta.url).href, minThreads: workers, maxThreads: workers });
  const done: UnitResult[] = [];
  // Every queued unit listens on the one signal.
  if (signal) setMaxListeners(units.length + 10, signal);
  try {
    await Promise.all(units.map(async (u, i) => {
      // Each unit reports its progress on its own channel; the port goes to the worker.
      const channel = onProgress ? new MessageChannel() : null;
      channel?.port1.on('message', (n: number) => onProgress!(i, n));
      try {
        const task = channel ? { ...u, progress: channel.port2 } : u;
        const r = (await pool.run(task, { signal, ...(channel ? { transferList: [channel.port2] } : {}) })) as UnitResult;
        done.push(r);
        onResult?.(r);
      } catch (e) {
        if (!signal?.aborted) throw e;
      } finally {
        channel?.port1.close();
      }
    }));
  } finally {
    await pool.destroy();
  }
  return done;
}
