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
  type AdapterInfo, type DomainAllocOp, type Errno, type MapOp, type Op, type Outcome,
  type Topology, U64_MAX, type UnmapOp, findProfile, isSubset,
} from '../../../../spec/index.ts';
import { QemuCaseAdapter } from '../common/case-adapter.ts';
import { DriverState } from './driver.ts';
import type { QemuInstall } from '../common/machine.ts';
import type { Transcript } from '../common/transcript.ts';
import { ATTACH_F_BYPASS, mapFlags, statusName, virtRange } from './requests.ts';
import { QemuSystem } from './system.ts';
import { CONTEXTS, PGSIZES, machineFor, topologiesFor } from './topologies.ts';
import { unsendableMap, unsendableUnmap } from './unsendable.ts';

const STATUSES = findProfile('virtio-iommu')!.statuses!;
/** A handle never allocated, or freed: the driver has no domain ID to send (a real driver would be using freed memory). */
const NO_DOMAIN: Outcome = { err: 'ENOENT', msg: 'the driver has no such domain' };

export interface QemuAdapterOptions {
  /** Longest wait for one qtest reply before QEMU is killed. */
  replyTimeoutMs?: number;
  install: QemuInstall;
  /** Records every qtest command (a reproducer being exported). */
  recorder?: Transcript;
}

interface CaseState {
  driver: DriverState;
  /** Suite device name → edu index. */
  devices: Map<string, number>;
}

export class QemuVirtioIommuAdapter extends QemuCaseAdapter<QemuSystem, CaseState> {
  /** Input address bits of the device (read in hello; 64 until then). */
  private ias = 64;
  private readonly install: QemuInstall;

  constructor(private readonly opts: QemuAdapterOptions) {
    super();
    this.install = opts.install;
  }

  /**
   * What the device is, read from a running one: the input range it translates (all 64 bits in
   * QEMU 7.2, 39 on q35 since 9.0) decides the topologies this target declares.
   */
  async hello(): Promise<AdapterInfo> {
    const sys = await this.machine();
    if (!sys.iommu.config) await sys.iommu.init(false);
    const cfg = sys.iommu.config!;
    if (cfg.inputStart !== 0n || (cfg.inputEnd !== U64_MAX && (cfg.inputEnd & (cfg.inputEnd + 1n)) !== 0n)) {
      throw new Error(`input range [0x${cfg.inputStart.toString(16)}, 0x${cfg.inputEnd.toString(16)}] is not [0, 2^n - 1]`);
    }
    this.ias = cfg.inputEnd === U64_MAX ? 64 : (cfg.inputEnd + 1n).toString(2).length - 1;
    return {
      name: 'qemu-virtio-iommu',
      version: this.install.version,
      profile: 'virtio-iommu',
      // QEMU has true write-only mappings: a read through one faults (the spec's MAY allow is not taken).
      policies: { write_only_read: 'fault' },
      // No request reads a translation back, UNMAP returns only a status, and the edu copy
      // cannot show which page it reached.
      capabilities: { iova_to_phys: false, unmap_size: false, dma_phys: false },
      topologies: topologiesFor(this.ias),
    };
  }

  protected startMachine(): Promise<QemuSystem> {
    return QemuSystem.start(this.install, this.opts.replyTimeoutMs, this.opts.recorder);
  }

  protected async begin(t: Topology, sys: QemuSystem, previous: CaseState | null): Promise<CaseState> {
    const m = machineFor(t, this.ias);
    if (typeof m === 'string') throw new Error(`topology not supported by this target: ${m}`);
    const iommu = sys.iommu;
    // Since QEMU 9.x a device reset no longer destroys domains and attachments (see causes.json,
    // reset-keeps-state): the driver detaches every endpoint first, which destroys each domain
    // with its last endpoint, so every case starts from nothing whatever the version.
    for (const [endpoint, domain] of previous?.driver.attachments() ?? []) {
      const r = await iommu.request({ type: 'detach', domain, endpoint, reserved: 0 });
      if (r.status !== 0) throw new Error(`DETACH of endpoint ${endpoint} from domain ${domain} before the reset answered ${statusName(r.status ?? 0xff)}`);
    }
    await iommu.init(m.bypass);
    const cfg = iommu.config!;
    if (cfg.domainEnd - cfg.domainStart + 1 < CONTEXTS) throw new Error(`the device's domain range ${cfg.domainStart}..${cfg.domainEnd} holds fewer than ${CONTEXTS} IDs`);
    if ((cfg.pageSizeMask & PGSIZES) !== PGSIZES || iommu.granule !== (PGSIZES & -PGSIZES)) throw new Error(`page_size_mask 0x${cfg.pageSizeMask.toString(16)} does not offer the declared page sizes`);
    if (cfg.inputStart !== 0n || cfg.inputEnd !== (this.ias === 64 ? U64_MAX : (1n << BigInt(this.ias)) - 1n)) throw new Error(`the device does not translate the ${this.ias}-bit input range the topologies declare`);
    // The driver probes each endpoint before attaching it (virtio: SHOULD, with F_PROBE).
    const probes = await iommu.probe(m.devices.map((_, i) => sys.edus[i]!.pci.requesterId));
    const refused = probes?.findIndex((p) => p.status !== 0) ?? -1;
    if (refused >= 0) throw new Error(`PROBE of endpoint ${refused} answered ${statusName(probes![refused]!.status ?? 0xff)}`);
    return { driver: new DriverState(cfg.domainStart, cfg.domainEnd), devices: new Map(m.devices.map((d, i) => [d, i])) };
  }

  protected run(op: Op, sys: QemuSystem, st: CaseState): Outcome | Promise<Outcome> {
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
