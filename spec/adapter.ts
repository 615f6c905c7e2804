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
  /**
   * Optional, for supervised transports (a child process): give up at once on every request
   * still outstanding, rejecting each with `RunInterrupted`, and start afresh at the next reset.
   * The suite calls it when the run is stopped (a signal, the end of a time budget).
   */
  interrupt?(): void;
  /**
   * Optional, for supervised transports: the next reset starts in a fresh process. The suite
   * calls it before running a case it will report, so the case runs from the state a replay
   * starts from, whatever the process lived through before.
   */
  restart?(): void;
  close?(): MaybePromise<void>;
}

/** What a user's adapter module default-exports: a factory, so every worker gets its own instance. */
export type AdapterFactory = () => MaybePromise<Adapter>;

export function isThenable<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown })?.then === 'function';
}

/**
 * A request abandoned because the run is stopping (a signal, the end of a time budget), not
 * because the adapter did anything wrong: the case is unfinished, never a finding.
 */
export class RunInterrupted extends Error {
  override name = 'RunInterrupted';
  constructor() {
    super('the run was stopped before this request was answered');
  }
}

/** The adapter rules an out-of-process adapter can break without giving a wrong answer. */
export type AdapterFaultRule = 'ADAPTER-REPLY' | 'ADAPTER-CRASH' | 'ADAPTER-TIMEOUT';

/** One test case as a process was sent it: the reset's topology, then every op, probes and ops sent ahead included. */
export interface SentCase {
  topology: Topology;
  ops: Op[];
}

/** What a process was sent from its start up to the request it failed on, oldest case first. */
export interface SentLog {
  cases: SentCase[];
  /** Oldest cases left out to bound memory: a replay from `cases` may no longer reproduce. */
  dropped: number;
}

/**
 * Thrown (or rejected with) by a transport when the adapter broke the protocol rather than the
 * IOMMU API: the checker turns it into a finding of that rule instead of crashing the suite.
 */
export class AdapterFault extends Error {
  override name = 'AdapterFault';
  /**
   * A process that died or hung: everything it was sent, so a failure that needs more than its
   * own case (a leak across resets) can be replayed and shrunk from the process's whole life.
   */
  sent?: SentLog;
  constructor(readonly rule: AdapterFaultRule, message: string) {
    super(message);
  }

  get status(): 'ADAPTER_ERROR' | 'CRASH' | 'TIMEOUT' {
    return this.rule === 'ADAPTER-CRASH' ? 'CRASH' : this.rule === 'ADAPTER-TIMEOUT' ? 'TIMEOUT' : 'ADAPTER_ERROR';
  }
}
