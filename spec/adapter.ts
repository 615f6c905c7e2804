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
  /**
   * Optional, for transports with latency: queue several operations at once. Each promise
   * settles with its op's reply, in order; the checker sends a whole predicted sequence this way,
   * right after calling reset and before that settles: the ops must queue behind the reset.
   */
  pipeline?(ops: readonly Op[]): Promise<Outcome>[];
  close?(): MaybePromise<void>;
}

/** What a user's adapter module default-exports: a factory, so every worker gets its own instance. */
export type AdapterFactory = () => MaybePromise<Adapter>;

export function isThenable<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown })?.then === 'function';
}

/** The adapter rules an out-of-process adapter can break without giving a wrong answer. */
export type AdapterFaultRule = 'ADAPTER-REPLY' | 'ADAPTER-CRASH' | 'ADAPTER-TIMEOUT';

/**
 * Thrown (or rejected with) by a transport when the adapter broke the protocol rather than the
 * IOMMU API: the checker turns it into a finding of that rule instead of crashing the suite.
 */
export class AdapterFault extends Error {
  override name = 'AdapterFault';
  constructor(readonly rule: AdapterFaultRule, message: string) {
    super(message);
  }

  get status(): 'ADAPTER_ERROR' | 'CRASH' | 'TIMEOUT' {
    return this.rule === 'ADAPTER-CRASH' ? 'CRASH' : this.rule === 'ADAPTER-TIMEOUT' ? 'TIMEOUT' : 'ADAPTER_ERROR';
  }
}
