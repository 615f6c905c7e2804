// The reference model presented as an adapter: it answers every op with its canonical outcome.
// Useful as a known-good target (the suite must pass it under every policy value and profile)
// and as a template for authors. It implements fault injection the simple way: every op that
// would succeed and needs memory counts as one allocation.

import {
  type Adapter, type AdapterInfo, type Capabilities, type Op, type OpKind, type Outcome, type Policies, type Topology, isFailure, resolvePolicies,
} from '../../spec/index.ts';
import { ReferenceModel } from './model.ts';

export const REFERENCE_VERSION = '0.2.0';

export interface ReferenceAdapterOptions {
  profile?: string;
  policies?: Partial<Record<string, string>>;
  capabilities?: Capabilities;
}

/** What the reference offers under each profile: the Linux API has allocators and SVA, a virtio device has neither. */
const PROFILE_CAPABILITIES: Readonly<Record<string, Capabilities>> = {
  linux: { leaves: true, dma_phys: true, pasid: true, sva: true, lazy_flush: true, fail_nth: true },
  'virtio-iommu': { dma_phys: true, fail_nth: true },
};

const ALLOCATES: ReadonlySet<OpKind> = new Set(['domain_alloc', 'attach', 'attach_pasid', 'map', 'pasid_alloc', 'sva_bind']);

export class ReferenceAdapter implements Adapter {
  private model: ReferenceModel | null = null;
  private readonly policies: Policies;
  private readonly profile: string;
  private readonly capabilities: Capabilities;
  /** Allocations left before the injected failure; 0 when disarmed. */
  private failIn = 0;

  constructor(opts: ReferenceAdapterOptions = {}) {
    this.profile = opts.profile ?? 'linux';
    this.policies = resolvePolicies(this.profile, opts.policies);
    this.capabilities = opts.capabilities ?? PROFILE_CAPABILITIES[this.profile] ?? { dma_phys: true };
  }

  hello(): AdapterInfo {
    return { name: 'reference', version: REFERENCE_VERSION, profile: this.profile, policies: { ...this.policies }, capabilities: this.capabilities, topologies: 'any' };
  }

  reset(topology: Topology): void {
    this.model = new ReferenceModel(topology, this.policies, this.capabilities);
    this.failIn = 0;
  }

  exec(op: Op): Outcome {
    if (!this.model) throw new Error('exec before reset');
    if (op.op === 'fail_nth') {
      this.failIn = op.n;
      return { ok: {} };
    }
    if (this.failIn > 0 && ALLOCATES.has(op.op)) {
      const exp = this.model.canonical(op);
      if (!isFailure(exp.canonical) && --this.failIn === 0) return { err: 'ENOMEM' };
    }
    return this.model.act(op);
  }
}
