// Runs units of work on worker threads (tinypool: the pool vitest itself runs on, no
// dependencies of its own). Each unit talks back on a channel of its own: progress, and every
// finding the moment it is made, so a unit stopped half way loses nothing it found.
//
// Stopping is in two steps. A signal asks every unit to stop: it abandons the case in flight
// and hands back what it has, coverage included. Whatever has not returned after a grace period,
// or at a second signal, is terminated; its findings have already arrived.

import { setMaxListeners } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import Tinypool from 'tinypool';
import type { Finding } from '../properties/property.ts';
import type { Unit, UnitMessage, UnitResult } from './worker-task.ts';

export interface UnitEvents {
  onResult(unit: number, r: UnitResult): void;
  onFinding(unit: number, f: Finding): void;
  onProgress?(unit: number, sequences: number): void;
}

export interface StopOptions {
  /** Ask every unit to stop (first signal, end of budget). */
  signal?: AbortSignal;
  /** Terminate every unit now (second signal). */
  hardSignal?: AbortSignal;
  /** After `signal`, how long units may take to hand back their results. */
  graceMs: number;
  /** Epoch ms after which every unit is terminated, whatever it is doing. */
  hardDeadline?: number;
}

/** Runs every unit; units not finished when stopped are simply missing from the results. */
export async function runUnits(units: readonly Unit[], workers: number, events: UnitEvents, stop: StopOptions): Promise<void> {
  const pool = new Tinypool({ filename: new URL('./worker.js', import.meta.url).href, minThreads: workers, maxThreads: workers, teardown: 'teardown' });
  const hard = new AbortController();
  setMaxListeners(units.length + 10, hard.signal);
  const ports = new Set<MessagePort>();
  const timers: NodeJS.Timeout[] = [];
  const askToStop = () => {
    for (const p of ports) p.postMessage('stop');
    timers.push(setTimeout(() => hard.abort(), stop.graceMs));
  };
  const terminate = () => hard.abort();
  if (stop.signal?.aborted) askToStop();
  stop.signal?.addEventListener('abort', askToStop, { once: true });
  if (stop.hardSignal?.aborted) terminate();
  stop.hardSignal?.addEventListener('abort', terminate, { once: true });
  if (stop.hardDeadline !== undefined) timers.push(setTimeout(terminate, Math.max(0, stop.hardDeadline - Date.now())));
  try {
    await Promise.all(units.map(async (u, i) => {
      const channel = new MessageChannel();
      channel.port1.on('message', (m: UnitMessage) => {
        if (m.kind === 'progress') events.onProgress?.(i, m.sequences);
        else events.onFinding(i, m.finding);
      });
      ports.add(channel.port1);
      try {
        // A unit that starts after the stop was asked for stops at once.
        if (stop.signal?.aborted) channel.port1.postMessage('stop');
        const r = (await pool.run({ ...u, port: channel.port2 }, { signal: hard.signal, transferList: [channel.port2] })) as UnitResult;
        events.onResult(i, r);
      } catch (e) {
        if (!hard.signal.aborted) throw e;
      } finally {
        ports.delete(channel.port1);
        channel.port1.close();
      }
    }));
  } finally {
    for (const t of timers) clearTimeout(t);
    stop.signal?.removeEventListener('abort', askToStop);
    stop.hardSignal?.removeEventListener('abort', terminate);
    await pool.destroy();
  }
}
