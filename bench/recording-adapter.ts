// An adapter that passes everything to another one and keeps the stream it was sent: every
// reset with its topology and every op with the reply, so the same stream can be replayed on
// a fresh model with no checker in between (bench/harness.ts).

import { type Adapter, type AdapterInfo, type MaybePromise, type Op, type Outcome, type Topology, isThenable } from '../spec/index.ts';

export type StreamEvent = { reset: Topology } | { op: Op; outcome: Outcome };

export class RecordingAdapter implements Adapter {
  readonly events: StreamEvent[] = [];
  ops = 0;
  /** Time spent inside the wrapped model (reset and exec), in ms. */
  modelMs = 0;

  constructor(private readonly inner: Adapter) {}

  hello(): MaybePromise<AdapterInfo> {
    return this.inner.hello();
  }

  reset(topology: Topology): void {
    this.events.push({ reset: topology });
    const started = performance.now();
    const r = this.inner.reset(topology);
    this.modelMs += performance.now() - started;
    if (isThenable(r)) throw new Error('RecordingAdapter records synchronous models only');
  }

  exec(op: Op): Outcome {
    const started = performance.now();
    const outcome = this.inner.exec(op);
    this.modelMs += performance.now() - started;
    if (isThenable(outcome)) throw new Error('RecordingAdapter records synchronous models only');
    this.events.push({ op, outcome });
    this.ops++;
    return outcome;
  }
}
