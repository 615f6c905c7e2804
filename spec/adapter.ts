// The in-process adapter: what a model author implements to be checked. The out-of-process
// transport presents a child process through the same interface, so the checker sees one shape.

import type { AdapterInfo, Op, Outcome } from './ops.ts';
import type { Topology } from './topology.ts';

export type MaybePromise<T> = T | Promise<T>;

export interface Adapter {
  /** Name, version, profile, declared policies and capabilities, supported topologies. */
  hello(): MaybePromise<AdapterInfo>;
  /** Forget everything and become the given system: no domains, every group in its default domain. */
  reset(topology: Topology): MaybePromise<void>;
  /** Perform one operation. Failures are returned as `{err}`, never thrown. */
  exec(op: Op): MaybePromise<Outcome>;
  /** Optional: perform several operations in order, answering each (pipelined transports). */
  execBatch?(ops: Op[]): MaybePromise<Outcome[]>;
  close?(): MaybePromise<void>;
}

/** What a user's adapter module default-exports: a factory, so every worker gets its own instance. */
export type AdapterFactory = () => MaybePromise<Adapter>;

export function isThenable<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown })?.then === 'function';
}
