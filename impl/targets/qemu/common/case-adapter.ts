// What every QEMU target's adapter does with its QEMU: one running machine reused across test
// cases, replaced at the next reset when it died or when a case went wrong mid-way (an exception
// from the driver leaves the device in a state nobody can vouch for), and closed with the
// adapter. Each target supplies how to start its machine, how a case begins, and how an op runs.

import type { Adapter, AdapterInfo, Op, Outcome, Topology } from '../../../../spec/index.ts';

export interface RunningMachine {
  readonly alive: boolean;
  close(): Promise<void>;
}

export abstract class QemuCaseAdapter<M extends RunningMachine, C> implements Adapter {
  protected system: M | null = null;
  protected state: C | null = null;
  /** Something went wrong mid-case: do not trust this QEMU for the next one. */
  private suspect = false;

  abstract hello(): AdapterInfo | Promise<AdapterInfo>;
  protected abstract startMachine(): Promise<M>;
  /** Brings the machine to the topology's starting state; `previous` is the last case's state on this machine. */
  protected abstract begin(t: Topology, machine: M, previous: C | null): Promise<C>;
  protected abstract run(op: Op, machine: M, state: C): Outcome | Promise<Outcome>;

  /** The machine, started (or restarted) as needed. */
  protected async machine(): Promise<M> {
    if (this.system && (!this.system.alive || this.suspect)) await this.stop();
    this.system ??= await this.startMachine();
    return this.system;
  }

  async reset(t: Topology): Promise<void> {
    const m = await this.machine();
    const previous = this.state;
    this.state = null;
    this.suspect = true; // until the case has begun
    this.state = await this.begin(t, m, previous);
    this.suspect = false;
  }

  async exec(op: Op): Promise<Outcome> {
    if (!this.system || !this.state) throw new Error('exec before reset');
    try {
      return await this.run(op, this.system, this.state);
    } catch (e) {
      this.suspect = true;
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.stop();
  }

  private async stop(): Promise<void> {
    const s = this.system;
    this.system = null;
    this.state = null;
    this.suspect = false;
    if (s) await s.close();
  }
}
