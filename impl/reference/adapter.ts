// The reference model presented as an adapter: it answers every op with its canonical outcome.
// Useful as a known-good target (the suite must pass it under every policy value) and as a
// template for authors.

import { type Adapter, type AdapterInfo, type Capabilities, type Op, type Outcome, type Policies, type Topology, resolvePolicies } from '../../spec/index.ts';
import { ReferenceModel } from './model.ts';

export const REFERENCE_VERSION = '0.1.0';

export interface ReferenceAdapterOptions {
  profile?: string;
  policies?: Partial<Record<string, string>>;
  capabilities?: Capabilities;
}

export class ReferenceAdapter implements Adapter {
  private model: ReferenceModel | null = null;
  private readonly policies: Policies;
  private readonly profile: string;
  private readonly capabilities: Capabilities;

  constructor(opts: ReferenceAdapterOptions = {}) {
    this.profile = opts.profile ?? 'linux';
    this.policies = resolvePolicies(this.profile, opts.policies);
    this.capabilities = opts.capabilities ?? { leaves: true, dma_phys: true };
  }

  hello(): AdapterInfo {
    return { name: 'reference', version: REFERENCE_VERSION, profile: this.profile, policies: { ...this.policies }, capabilities: this.capabilities, topologies: 'any' };
  }

  reset(topology: Topology): void {
    this.model = new ReferenceModel(topology, this.policies, this.capabilities);
  }

  exec(op: Op): Outcome {
    if (!this.model) throw new Error('exec before reset');
    return this.model.act(op);
  }
}
