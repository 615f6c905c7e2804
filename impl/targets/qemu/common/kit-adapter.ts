// What every guest-driver kit's adapter does the same way, whatever the architecture: hello
// declares the kit's ops as the kit's (AdapterInfo.kit) and the suite's drawn invalidations;
// each op but a device access goes to the core layer first (the reference model under the
// architecture's policies), and only what it accepted reaches the driver, which then makes the
// unit do it: a domain, the devices' translation following the core layer's attachments, leaves
// written, leaves removed and invalidated. A target supplies those driver steps and `access`.

import {
  type AdapterInfo, type DmaOp, type Op, type Outcome, type Topology, isFailure, resolvePolicies,
} from '../../../../spec/index.ts';
import { ReferenceModel } from '../../../reference/model.ts';
import { greedyRuns } from '../../../reference/pgsize.ts';
import { QemuCaseAdapter, type RunningMachine } from './case-adapter.ts';
import type { GuestPages } from './guest-pages.ts';
import { type Interval, KIT_OPS, coverage, subtract } from './kit-core.ts';
import { type DefaultKind, eduMachineFor } from './kit-topologies.ts';
import type { QemuInstall } from './machine.ts';
import type { Transcript } from './transcript.ts';

export interface KitOptions {
  install: QemuInstall;
  replyTimeoutMs?: number;
  /** A deliberately broken kit: no TLB invalidation after an unmap (the suite must catch it). */
  skipUnmapInvalidation?: boolean;
  /** Records every qtest command (a reproducer being exported). */
  recorder?: Transcript;
}

export interface KitDescription {
  /** The adapter's name in hello (`qemu-smmuv3`). */
  name: string;
  /** The architecture, for messages (`SMMUv3`). */
  arch: string;
  kitName: string;
  /** Where the architecture's driver differs from the profile's defaults, legally. */
  policies: Readonly<Record<string, string>>;
  topologies: readonly Topology[];
}

export type DomainKind = 'paging' | 'identity' | 'blocked';

/** What every kit's case holds: the core layer, the devices by edu index, its domains. */
export interface KitCase<D> {
  model: ReferenceModel;
  devices: Map<string, number>;
  domains: Map<string, D>;
  /** What each device gets while nothing is attached. */
  defaults: DefaultKind[];
}

export abstract class GuestDriverKit<M extends RunningMachine & { mem: GuestPages }, D, C extends KitCase<D>> extends QemuCaseAdapter<M, C> {
  constructor(
    protected readonly opts: KitOptions,
    private readonly desc: KitDescription,
  ) {
    super();
  }

  hello(): AdapterInfo {
    return {
      name: this.desc.name,
      version: this.opts.install.version,
      profile: 'linux',
      policies: { ...this.desc.policies },
      // iova_to_phys is a software walk in Linux (the kit's, not the unit's); which page an access
      // reached is checked, not reported; the invalidations are the suite's to draw.
      capabilities: { iova_to_phys: false, dma_phys: false, invalidation_choice: true },
      topologies: [...this.desc.topologies],
      kit: { name: this.desc.kitName, ops: [...KIT_OPS] },
    };
  }

  /** The core layer and bookkeeping a case starts from, for a topology hello declared. */
  protected coreCase(t: Topology): KitCase<D> {
    const m = eduMachineFor(this.desc.topologies, t);
    if (typeof m === 'string') throw new Error(`topology not supported by this target: ${m}`);
    return {
      model: new ReferenceModel(t, resolvePolicies('linux', this.desc.policies), { iova_to_phys: false, dma_phys: false }),
      devices: new Map(m.devices.map((d, i) => [d, i])),
      domains: new Map(),
      defaults: t.devices.map((d) => t.groups.find((g) => g.name === d.group)!.defaultDomain as DefaultKind),
    };
  }

  protected async run(op: Op, m: M, st: C): Promise<Outcome> {
    if (op.op === 'dma') return this.access(op, m, st);
    if (!KIT_OPS.includes(op.op)) return { err: 'ENOSYS', msg: `the ${this.desc.arch} kit has no ${op.op}` };
    // The core layer decides; the driver then makes the unit do what it decided.
    const before = op.op === 'unmap' ? coverage(st.model, op.domain, op.iova, op.size) : [];
    const out = st.model.act(op);
    if (isFailure(out)) return out;
    switch (op.op) {
      case 'domain_alloc':
        st.domains.set(op.domain, this.allocate(op.type === 'identity' || op.type === 'blocked' ? op.type : 'paging', m, st));
        await m.mem.flush();
        break;
      case 'domain_free': {
        const d = st.domains.get(op.domain)!;
        st.domains.delete(op.domain);
        await this.release(d, m);
        break;
      }
      case 'attach':
      case 'detach':
        // The core layer says where each device now is (a detach naming a domain the device is
        // not in changes nothing, as iommu_detach_device() returns); the unit follows it.
        for (const [dev, i] of st.devices) {
          const cur = st.model.currentDomain(dev);
          await this.place(m, st, i, cur ? st.domains.get(cur.handle)! : null, op.inval ?? 0);
        }
        break;
      case 'map': {
        const d = st.domains.get(op.domain)!;
        for (const run of greedyRuns(st.model.domain(op.domain)!.pgsizes, op.iova, op.paddr, op.size)) {
          this.setLeaves(d, run.iova, op.paddr + (run.iova - op.iova), run.pgsize, run.count, op.prot);
        }
        await m.mem.flush();
        break;
      }
      case 'unmap': {
        // What the core layer removed: what was mapped around the range before, less what is now.
        const gone = subtract(before, coverage(st.model, op.domain, op.iova, op.size));
        if (gone.length > 0) await this.removeLeaves(m, st.domains.get(op.domain)!, gone, this.opts.skipUnmapInvalidation ? null : op.inval ?? 0);
        break;
      }
      default:
        break;
    }
    return out;
  }

  /** A new domain's driver state (tables, IDs), written to the driver's pages. */
  protected abstract allocate(kind: DomainKind, m: M, st: C): D;
  /** What the driver does when a domain goes (its IDs' caches invalidated). */
  protected abstract release(d: D, m: M): Promise<void>;
  /** Device `i` now translates through `d`, or its default when null; `inval` is the invalidation drawn for a change. */
  protected abstract place(m: M, st: C, i: number, d: D | null, inval: number): Promise<void>;
  protected abstract setLeaves(d: D, iova: bigint, paddr: bigint, pgsize: bigint, count: bigint, prot: number): void;
  /** Clears the leaves in `gone` (whole leaves), then sends invalidation `inval`, none when null. */
  protected abstract removeLeaves(m: M, d: D, gone: readonly Interval[], inval: number | null): Promise<void>;
  /** A real device access through the unit, and what it did. */
  protected abstract access(op: DmaOp, m: M, st: C): Promise<Outcome>;
}
