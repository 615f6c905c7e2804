// An adapter that passes everything to another one and keeps the stream it was sent: every
// reset with its topology and every op with the reply, so the same stream can be replayed on
// a fresh model with no checker in between (bench/harness.ts, bench/targets.ts). Synchronous
// models stay synchronous; an asynchronous one (a QEMU target) is recorded as its replies settle.

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

  reset(topology: Topology): MaybePromise<void> {
    this.events.push({ reset: topology });
    const started = performance.now();
    const r = this.inner.reset(topology);
    if (!isThenable(r)) {
      this.modelMs += performance.now() - started;
      return;
    }
    return r.then(() => void (this.modelMs += performance.now() - started));
  }

  exec(op: Op): MaybePromise<Outcome> {
    const started = performance.now();
    const done = (outcome: Outcome): Outcome => {
      this.modelMs += performance.now() - started;
      this.events.push({ op, outcome });
      this.ops++;
      return outcome;
    };
    const outcome = this.inner.exec(op);
    return isThenable(outcome) ? outcome.then(done) : done(outcome);
  }

  close(): MaybePromise<void> {
    return this.inner.close?.();
  }
}
