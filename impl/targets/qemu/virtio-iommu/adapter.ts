// The suite's ops on QEMU's virtio-iommu. attach, detach, map and unmap become ATTACH, DETACH,
// MAP and UNMAP requests and the device's status is the answer (mapped with the virtio-iommu
// profile's status table); dma is an edu copy whose fate the device's fault queue tells.
// virtio has no request to allocate or free a domain: domain_alloc picks an ID (the device
// creates the domain at the first ATTACH naming it, and drops it at the last DETACH), and
// domain_free forgets it.
//
// One QEMU serves every test case: reset is a virtio device reset and a fresh handshake,
// which leaves no domain and no endpoint attached. A QEMU that died, or that answered in a way
// the transport did not expect, is replaced at the next reset.

import {
  type Adapter, type AdapterInfo, type DomainAllocOp, type Errno, type MapOp, type Op, type Outcome,
  type Topology, U64_MAX, type UnmapOp, findProfile, isSubset,
} from '../../../../spec/index.ts';
import { DriverState } from './driver.ts';
import type { QemuInstall } from '../common/machine.ts';
import { ATTACH_F_BYPASS, mapFlags, statusName, virtRange } from './requests.ts';
import { QemuSystem } from './system.ts';
import { CONTEXTS, PGSIZES, TOPOLOGIES, machineFor } from './topologies.ts';
import { unsendableMap, unsendableUnmap } from './unsendable.ts';

const STATUSES = findProfile('virtio-iommu')!.statuses!;
/** A handle never allocated, or freed: the driver has no domain ID to send (a real driver would be using freed memory). */
const NO_DOMAIN: Outcome = { err: 'ENOENT', msg: 'the driver has no such domain' };

export interface QemuAdapterOptions {
  /** Longest wait for one qtest reply before QEMU is killed. */
  replyTimeoutMs?: number;
  install: QemuInstall;
}

interface CaseState {
  driver: DriverState;
  /** Suite device name → edu index. */
  devices: Map<string, number>;
}

export class QemuVirtioIommuAdapter implements Adapter {
  private system: QemuSystem | null = null;
  /** Something went wrong mid-case: do not trust this QEMU for the next one. */
  private suspect = false;
  private state: CaseState | null = null;
  private readonly install: QemuInstall;

  constructor(private readonly opts: QemuAdapterOptions) {
    this.install = opts.install;
  }

  hello(): AdapterInfo {
    return {
      name: 'qemu-virtio-iommu',
      version: this.install.version,
      profile: 'virtio-iommu',
      // QEMU has true write-only mappings: a read through one faults (the spec's MAY allow is not taken).
      policies: { write_only_read: 'fault' },
      // No request reads a translation back, UNMAP returns only a status, and the edu copy
      // cannot show which page it reached.
      capabilities: { iova_to_phys: false, unmap_size: false, dma_phys: false },
      topologies: [...TOPOLOGIES],
    };
  }

  async reset(t: Topology): Promise<void> {
    const m = machineFor(t);
    if (typeof m === 'string') throw new Error(`topology not supported by this target: ${m}`);
    if (this.system && (!this.system.alive || this.suspect)) await this.stop();
    this.system ??= await QemuSystem.start(this.install, this.opts.replyTimeoutMs);
    this.suspect = true; // until the handshake is through
    const iommu = this.system.iommu;
    await iommu.init(m.bypass);
    const cfg = iommu.config!;
    if (cfg.domainEnd - cfg.domainStart + 1 < CONTEXTS) throw new Error(`the device's domain range ${cfg.domainStart}..${cfg.domainEnd} holds fewer than ${CONTEXTS} IDs`);
    if ((cfg.pageSizeMask & PGSIZES) !== PGSIZES || iommu.granule !== (PGSIZES & -PGSIZES)) throw new Error(`page_size_mask 0x${cfg.pageSizeMask.toString(16)} does not offer the declared page sizes`);
    if (cfg.inputStart !== 0n || cfg.inputEnd !== U64_MAX) throw new Error('the device does not translate the whole 64-bit input range the topologies declare');
    // The driver probes each endpoint before attaching it (virtio: SHOULD, with F_PROBE).
    const probes = await iommu.probe(m.devices.map((_, i) => this.system!.edus[i]!.pci.requesterId));
    const refused = probes?.findIndex((p) => p.status !== 0) ?? -1;
    if (refused >= 0) throw new Error(`PROBE of endpoint ${refused} answered ${statusName(probes![refused]!.status ?? 0xff)}`);
    this.state = { driver: new DriverState(cfg.domainStart, cfg.domainEnd), devices: new Map(m.devices.map((d, i) => [d, i])) };
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

  private run(op: Op, sys: QemuSystem, st: CaseState): Outcome | Promise<Outcome> {
    switch (op.op) {
      case 'domain_alloc': return this.domainAlloc(op, st);
      case 'domain_free': {
        const d = st.driver.domain(op.domain);
        if (!d) return NO_DOMAIN;
        if (st.driver.onDevice(d.id)) return { err: 'EBUSY', msg: 'endpoints are attached to it' };
        st.driver.free(op.domain);
        return { ok: {} };
      }
      case 'attach':
      case 'detach': return this.attachDetach(op.op, op.dev, op.domain, op.reserved ?? 0, sys, st);
      case 'map': return this.map(op, sys, st);
      case 'unmap': return this.unmap(op, sys, st);
      case 'dma': {
        // A device behind a virtio-iommu issues no PASID-tagged DMA: such an access reaches nothing.
        if (op.pasid !== undefined || op.pasidOf !== undefined) return { err: 'FAULT', msg: 'no PASIDs behind a virtio-iommu' };
        const i = st.devices.get(op.dev);
        if (i === undefined) return { err: 'ENODEV' };
        return sys.access(i, op.iova, op.access).then((r) => (r.fault ? { err: 'FAULT' } : { ok: {} }));
      }
      // virtio-iommu endpoints have no PASIDs: nothing can be attached at one, so nothing is there to detach.
      case 'attach_pasid': return st.driver.domain(op.domain) ? { err: 'EOPNOTSUPP', msg: 'virtio-iommu has no PASIDs' } : NO_DOMAIN;
      case 'detach_pasid': return { err: 'ENOENT', msg: 'virtio-iommu has no PASIDs' };
      default:
        return { err: 'ENOSYS', msg: `virtio-iommu has no ${op.op}` };
    }
  }

  private domainAlloc(op: DomainAllocOp, st: CaseState): Outcome {
    if (!st.devices.has(op.dev)) return { err: 'ENODEV' };
    if (op.type !== 'paging' && op.type !== 'identity') return { err: 'EOPNOTSUPP', msg: 'virtio domains translate or bypass' };
    const paging = op.type === 'paging';
    if (paging && op.pgsizes !== undefined && (op.pgsizes === 0n || !isSubset(op.pgsizes, PGSIZES))) return { err: 'EINVAL' };
    if (!st.driver.alloc(op.domain, !paging)) return { err: 'ENOSPC', msg: 'domain IDs exhausted' };
    return { ok: paging ? { pgsizes: op.pgsizes ?? PGSIZES } : {} };
  }

  private async attachDetach(kind: 'attach' | 'detach', dev: string, handle: string, reserved: number, sys: QemuSystem, st: CaseState): Promise<Outcome> {
    const i = st.devices.get(dev);
    if (i === undefined) return { err: 'ENODEV' };
    const d = st.driver.domain(handle);
    if (!d) return NO_DOMAIN;
    const endpoint = sys.edus[i]!.pci.requesterId;
    const reply = await sys.iommu.request(kind === 'attach'
      ? { type: 'attach', domain: d.id, endpoint, flags: d.bypass ? ATTACH_F_BYPASS : 0, reserved }
      : { type: 'detach', domain: d.id, endpoint, reserved });
    const out = outcome(reply.status);
    if (!('err' in out)) {
      if (kind === 'attach') st.driver.attached(endpoint, d.id);
      else st.driver.detached(endpoint);
    }
    return out;
  }

  private async map(op: MapOp, sys: QemuSystem, st: CaseState): Promise<Outcome> {
    const d = st.driver.domain(op.domain);
    if (!d) return NO_DOMAIN;
    const flags = mapFlags(op.prot);
    const range = virtRange(op.iova, op.size);
    if ('unsendable' in range || op.paddr > U64_MAX) {
      const why = 'unsendable' in range ? range.unsendable : 'wraps';
      return unsendableMap(op, flags, why, { domain: d, onDevice: st.driver.onDevice(d.id), granule: sys.iommu.granule });
    }
    const reply = await sys.iommu.request({ type: 'map', domain: d.id, virtStart: range.start, virtEnd: range.end, physStart: op.paddr, flags, headReserved: op.reserved ?? 0 });
    return outcome(reply.status);
  }

  private async unmap(op: UnmapOp, sys: QemuSystem, st: CaseState): Promise<Outcome> {
    const d = st.driver.domain(op.domain);
    if (!d) return NO_DOMAIN;
    const range = virtRange(op.iova, op.size);
    if ('unsendable' in range) {
      return unsendableUnmap(op, range.unsendable, { domain: d, onDevice: st.driver.onDevice(d.id), granule: sys.iommu.granule });
    }
    const reply = await sys.iommu.request({ type: 'unmap', domain: d.id, virtStart: range.start, virtEnd: range.end, reserved: op.reserved ?? 0 });
    return outcome(reply.status);
  }
}

/** The device's status as the virtio-iommu profile maps it (the Linux driver's mapping). */
function outcome(status: number | null): Outcome {
  // Buffers returned unwritten: the driver SHOULD take it as a failed request.
  if (status === null) return { err: 'EIO', msg: 'the device returned the request unwritten' };
  const name = statusName(status);
  const mapped = STATUSES[name];
  if (mapped === 'ok') return { ok: {} };
  return { err: (mapped ?? 'EIO') as Errno, msg: `S_${name}` };
}
