// The virtio-iommu device as its driver sees it: the 1.0 handshake, the request queue (QEMU
// answers requests synchronously, inside the notify write) and the event queue, kept stocked
// with buffers so every translation fault comes back as a record.

import { hexBytes, parseHexBytes } from '../common/bytes.ts';
import { ADAPTER_RAM, IOMMU_BAR } from './machine.ts';
import type { PciFunction } from '../common/pci.ts';
import type { Qtest } from '../common/qtest.ts';
import {
  FAULT_SIZE, FEATURE, type FaultRecord, type Request, type ResvMem, decodeFault, decodeProbe, encodeRequest, writableSize,
} from './requests.ts';
import { F_VERSION_1, VirtioPci } from './virtio-pci.ts';
import { DESC_F_NEXT, DESC_F_WRITE, type Descriptor, SplitQueue, queueLayout } from './virtqueue.ts';

export const VIRTIO_IOMMU_IDS = { vendor: 0x1af4, device: 0x1057 } as const;

const REQUEST_QUEUE = 0;
const EVENT_QUEUE = 1;
const QUEUE_SIZE = 16;
const bit = (b: number) => 1n << BigInt(b);
/** Everything this driver can use; MAP_UNMAP and BYPASS_CONFIG it cannot do without. */
const WANTED = bit(FEATURE.INPUT_RANGE) | bit(FEATURE.DOMAIN_RANGE) | bit(FEATURE.MAP_UNMAP) | bit(FEATURE.PROBE) | bit(FEATURE.MMIO) | bit(FEATURE.BYPASS_CONFIG);
const REQUIRED = bit(FEATURE.MAP_UNMAP) | bit(FEATURE.BYPASS_CONFIG);

/** Labels of the reads that classify an op or say what the device is (reproducer.ts). */
export const READ_LABELS = {
  status: 'request_status', eventsUsed: 'events_used_idx',
  inputStart: ['input_start_lo', 'input_start_hi'], inputEnd: ['input_end_lo', 'input_end_hi'],
} as const;

/** The config words of the input range, labelled: whether a MAP is beyond it depends on them. */
const INPUT_RANGE_LABELS = new Map<number, string>([
  [8, READ_LABELS.inputStart[0]], [12, READ_LABELS.inputStart[1]], [16, READ_LABELS.inputEnd[0]], [20, READ_LABELS.inputEnd[1]],
]);

/** Requests in flight at once (the probes of every endpoint at reset); each has its own buffers. */
const SLOTS = 4;

/** The driver's memory, all in the adapter's reserved MiB of RAM. */
const MEM = {
  requestQueue: ADAPTER_RAM,
  eventQueue: ADAPTER_RAM + 0x4000n,
  requests: ADAPTER_RAM + 0x8000n,
  requestStride: 0x100,
  replies: ADAPTER_RAM + 0x10000n,
  replyStride: 0x1000,
  events: ADAPTER_RAM + 0x20000n,
  eventStride: 32,
} as const;

/** Device configuration (the fields this driver reads). */
export interface IommuConfig {
  pageSizeMask: bigint;
  inputStart: bigint;
  inputEnd: bigint;
  domainStart: number;
  domainEnd: number;
  probeSize: number;
  bypass: number;
}

export interface Reply {
  /** The status byte; null when the device returned the buffers unwritten (used length 0). */
  status: number | null;
  /** The whole device-writable part (PROBE properties, then the tail). */
  writable: Uint8Array;
}

export class VirtioIommu {
  private requestq: SplitQueue | null = null;
  private eventq: SplitQueue | null = null;
  config: IommuConfig | null = null;
  features = 0n;

  private constructor(
    private readonly qt: Qtest,
    readonly transport: VirtioPci,
  ) {}

  static async open(qt: Qtest, pci: PciFunction): Promise<VirtioIommu> {
    const ids = await pci.ids();
    if (ids.vendor !== VIRTIO_IOMMU_IDS.vendor || ids.device !== VIRTIO_IOMMU_IDS.device) {
      throw new Error(`expected a virtio-iommu (1af4:1057) at ${pci.name()}, found ${ids.vendor.toString(16)}:${ids.device.toString(16)}`);
    }
    // QEMU puts every region in BAR 4; a MiB apart per BAR should another layout come.
    return new VirtioIommu(qt, await VirtioPci.open(qt, pci, (bar) => IOMMU_BAR + BigInt(bar) * 0x10_0000n));
  }

  /**
   * Device reset and a fresh handshake: no domain, no endpoint attached (virtio "Device
   * initialization"), `bypass` set as asked, the event queue stocked. Three round trips.
   */
  async init(bypass: boolean): Promise<void> {
    const t = this.transport;
    const offered = await t.resetAndReadFeatures();
    const accepted = offered & (WANTED | F_VERSION_1);
    if ((accepted & REQUIRED) !== REQUIRED) throw new Error(`the virtio-iommu does not offer MAP_UNMAP and BYPASS_CONFIG (offered 0x${offered.toString(16)})`);
    this.features = accepted;
    const requestq = new SplitQueue(this.qt, queueLayout(MEM.requestQueue, QUEUE_SIZE));
    const eventq = new SplitQueue(this.qt, queueLayout(MEM.eventQueue, QUEUE_SIZE));
    const eventBuffers: Descriptor[] = Array.from({ length: QUEUE_SIZE }, (_, i) => ({
      addr: MEM.events + BigInt(i * MEM.eventStride), len: FAULT_SIZE, flags: DESC_F_WRITE, next: 0,
    }));
    const [config] = await Promise.all([
      this.config ?? this.readConfig(),
      t.acceptFeatures(accepted),
      t.setupQueue(REQUEST_QUEUE, requestq),
      t.setupQueue(EVENT_QUEUE, eventq),
      requestq.clear(),
      eventq.clear(),
      eventq.writeDescriptors(0, eventBuffers),
    ]);
    if (config.probeSize + 4 > MEM.replyStride) throw new Error(`probe_size ${config.probeSize} does not fit a reply buffer`);
    const [, , readBack] = await Promise.all([
      t.driverOk(),
      eventq.submit(eventBuffers.map((_, i) => i)),
      this.qt.batch([`writeb ${this.cfg(36)} ${bypass ? 1 : 0}`, `readb ${this.cfg(36)}`]).then((r) => Number(r[1])),
    ]);
    if (readBack !== (bypass ? 1 : 0)) throw new Error(`the virtio-iommu kept bypass=${readBack} after the driver wrote ${bypass ? 1 : 0}`);
    this.config = { ...config, bypass: readBack };
    this.requestq = requestq;
    this.eventq = eventq;
  }

  private cfg(off: number): string {
    return `0x${(this.transport.deviceCfg + BigInt(off)).toString(16)}`;
  }

  private async readConfig(): Promise<IommuConfig> {
    const labelled = (o: number) => (INPUT_RANGE_LABELS.has(o) ? { name: INPUT_RANGE_LABELS.get(o)! } : undefined);
    const r = await Promise.all([
      ...[0, 4, 8, 12, 16, 20, 24, 28, 32].map((o) => this.qt.cmd(`readl ${this.cfg(o)}`, labelled(o))),
      this.qt.cmd(`readb ${this.cfg(36)}`),
    ]);
    const v = r.map((x) => BigInt(x));
    const q = (i: number) => v[i]! | (v[i + 1]! << 32n);
    return {
      pageSizeMask: q(0), inputStart: q(2), inputEnd: q(4),
      domainStart: Number(v[6]), domainEnd: Number(v[7]), probeSize: Number(v[8]), bypass: Number(v[9]),
    };
  }

  /** The page granularity: the lowest bit of page_size_mask. */
  get granule(): bigint {
    const m = this.config?.pageSizeMask ?? 0n;
    return m & -m;
  }

  /** Sends one request and waits for the device to return it. */
  async request(r: Request): Promise<Reply> {
    return (await this.requests([r]))[0]!;
  }

  /** Sends up to SLOTS requests in one notification; the device answers them in order. */
  async requests(rs: readonly Request[]): Promise<Reply[]> {
    const q = this.requestq;
    const cfg = this.config;
    if (!q || !cfg) throw new Error('virtio-iommu request before init');
    if (rs.length === 0 || rs.length > SLOTS) throw new RangeError(`1 to ${SLOTS} requests at once, not ${rs.length}`);
    const slots = rs.map((r, i) => ({
      body: encodeRequest(r), wlen: writableSize(r, cfg.probeSize),
      req: MEM.requests + BigInt(i * MEM.requestStride), reply: MEM.replies + BigInt(i * MEM.replyStride),
    }));
    // 0xff in the status byte is no status at all, so an unwritten reply is told apart.
    const setup = slots.flatMap((x, i) => [
      q.writeDescriptors(2 * i, [
        { addr: x.req, len: x.body.length, flags: DESC_F_NEXT, next: 2 * i + 1 },
        { addr: x.reply, len: x.wlen, flags: DESC_F_WRITE, next: 0 },
      ]),
      this.qt.cmd(`write 0x${x.req.toString(16)} ${x.body.length} 0x${hexBytes(x.body)}`),
      this.qt.cmd(`memset 0x${x.reply.toString(16)} ${x.wlen} 0xff`),
    ]);
    const submitted = q.submit(slots.map((_, i) => 2 * i));
    const used = q.takeUsed();
    // The status byte is the tail's first: byte wlen - 4 of the little-endian value read.
    const replies = slots.map((x) => this.qt.cmd(`read 0x${x.reply.toString(16)} ${x.wlen}`, { name: READ_LABELS.status, facts: { shift: BigInt(8 * (x.wlen - 4)) } }));
    // One Promise.all over everything, so a QEMU dying mid-batch rejects once, not once per command.
    const [, , usedElems, raw] = await Promise.all([Promise.all(setup), submitted, used, Promise.all(replies)]);
    const expected = slots.map((_, i) => 2 * i);
    if (usedElems.length !== slots.length || usedElems.some((u, i) => u.id !== expected[i])) {
      const status = await this.transport.status();
      throw new Error(`the virtio-iommu did not return the ${rs.map((r) => r.type).join(', ')} request(s) (used ${JSON.stringify(usedElems)}, device status 0x${status.toString(16)})`);
    }
    return raw.map((hex, i) => {
      const writable = parseHexBytes(hex);
      return { status: usedElems[i]!.len === 0 ? null : writable[writable.length - 4]!, writable };
    });
  }

  /** RESV_MEM regions the device reports for each endpoint (PROBE); null if PROBE is not negotiated. */
  async probe(endpoints: readonly number[]): Promise<{ status: number | null; regions: ResvMem[] }[] | null> {
    if (!(this.features & bit(FEATURE.PROBE))) return null;
    const out: { status: number | null; regions: ResvMem[] }[] = [];
    for (let i = 0; i < endpoints.length; i += SLOTS) {
      const replies = await this.requests(endpoints.slice(i, i + SLOTS).map((endpoint) => ({ type: 'probe' as const, endpoint })));
      for (const r of replies) out.push({ status: r.status, regions: r.status === 0 ? decodeProbe(r.writable.subarray(0, r.writable.length - 4)) : [] });
    }
    return out;
  }

  /** Has the device reported anything since the last takeFaults? (one qtest command) */
  async faultPending(): Promise<boolean> {
    const q = this.eventq;
    if (!q) throw new Error('virtio-iommu event queue before init');
    return (await q.usedIndex({ name: READ_LABELS.eventsUsed, facts: { consumed: BigInt(q.consumed) } })) !== q.consumed;
  }

  /** The fault records the device wrote since the last call; their buffers go back to it. */
  async takeFaults(): Promise<FaultRecord[]> {
    const q = this.eventq;
    if (!q) throw new Error('virtio-iommu event queue before init');
    // The used ring and every buffer in one round trip: which buffers were used is known after.
    const [used, all] = await Promise.all([q.takeUsed(), this.qt.cmd(`read 0x${MEM.events.toString(16)} ${QUEUE_SIZE * MEM.eventStride}`)]);
    if (used.length === 0) return [];
    await q.submit(used.map((u) => u.id));
    const bytes = parseHexBytes(all);
    return used.map((u) => {
      if (u.len < FAULT_SIZE || u.id >= QUEUE_SIZE) throw new Error(`the virtio-iommu returned event buffer ${u.id} with ${u.len} bytes`);
      return decodeFault(bytes.subarray(u.id * MEM.eventStride, u.id * MEM.eventStride + FAULT_SIZE));
    });
  }
}
