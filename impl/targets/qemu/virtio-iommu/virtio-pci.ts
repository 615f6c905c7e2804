// The virtio 1.0 PCI transport (virtio spec §4.1, modern devices only): vendor capabilities
// locate the common, notify and device-specific configuration regions in a BAR; the common
// region carries the status handshake, feature negotiation and queue setup.

import type { PciFunction } from '../common/pci.ts';
import type { Qtest } from '../common/qtest.ts';
import type { SplitQueue } from './virtqueue.ts';

const CAP_VENDOR = 0x09;
const CFG_COMMON = 1;
const CFG_NOTIFY = 2;
const CFG_DEVICE = 4;

export const STATUS = { ACKNOWLEDGE: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8, NEEDS_RESET: 64, FAILED: 128 } as const;
export const F_VERSION_1 = 1n << 32n;

/** Offsets in the common configuration structure. */
const C = {
  deviceFeatureSelect: 0x00, deviceFeature: 0x04, driverFeatureSelect: 0x08, driverFeature: 0x0c,
  status: 0x14, queueSelect: 0x16, queueSize: 0x18, queueMsixVector: 0x1a,
  queueEnable: 0x1c, queueNotifyOff: 0x1e, queueDesc: 0x20, queueDriver: 0x28, queueDevice: 0x30,
} as const;
const NO_VECTOR = 0xffff;

interface Region {
  bar: number;
  offset: bigint;
}

export class VirtioPci {
  private constructor(
    private readonly qt: Qtest,
    readonly pci: PciFunction,
    private readonly common: bigint,
    private readonly notifyBase: bigint,
    private readonly notifyMultiplier: number,
    /** Address of the device-specific configuration. */
    readonly deviceCfg: bigint,
  ) {}

  /** Finds the regions, places the BAR(s) they live in at `barAddr` and enables the function. */
  static async open(qt: Qtest, pci: PciFunction, barAddr: (bar: number) => bigint): Promise<VirtioPci> {
    const regions = new Map<number, Region>();
    let notifyMultiplier = 0;
    for (const cap of await pci.capabilities()) {
      if (cap.id !== CAP_VENDOR) continue;
      const type = (await pci.read32(cap.offset)) >>> 24;
      const bar = (await pci.read32(cap.offset + 4)) & 0xff;
      const offset = BigInt(await pci.read32(cap.offset + 8));
      if (!regions.has(type)) regions.set(type, { bar, offset });
      if (type === CFG_NOTIFY) notifyMultiplier = await pci.read32(cap.offset + 16);
    }
    const need = (t: number, what: string) => {
      const r = regions.get(t);
      if (!r) throw new Error(`${pci.name()} has no virtio ${what} capability: not a modern virtio device`);
      return r;
    };
    const common = need(CFG_COMMON, 'common configuration');
    const notify = need(CFG_NOTIFY, 'notification');
    const device = need(CFG_DEVICE, 'device configuration');
    const bars = new Set([common.bar, notify.bar, device.bar]);
    for (const b of bars) await pci.setBar(b, barAddr(b));
    await pci.enable();
    const at = (r: Region) => barAddr(r.bar) + r.offset;
    return new VirtioPci(qt, pci, at(common), at(notify), notifyMultiplier, at(device));
  }

  private addr(off: number): string {
    return `0x${(this.common + BigInt(off)).toString(16)}`;
  }

  async status(): Promise<number> {
    return Number(await this.qt.cmd(`readb ${this.addr(C.status)}`));
  }

  /**
   * Device reset (status 0, read back as 0: §4.1.4.3.2), ACKNOWLEDGE and DRIVER, and the
   * features the device offers: one round trip.
   */
  async resetAndReadFeatures(): Promise<bigint> {
    const [, status, , , , lo, , hi] = await this.qt.batch([
      `writeb ${this.addr(C.status)} 0`, `readb ${this.addr(C.status)}`,
      `writeb ${this.addr(C.status)} ${STATUS.ACKNOWLEDGE}`, `writeb ${this.addr(C.status)} ${STATUS.ACKNOWLEDGE | STATUS.DRIVER}`,
      `writel ${this.addr(C.deviceFeatureSelect)} 0`, `readl ${this.addr(C.deviceFeature)}`,
      `writel ${this.addr(C.deviceFeatureSelect)} 1`, `readl ${this.addr(C.deviceFeature)}`,
    ]);
    if (Number(status) !== 0) throw new Error(`${this.pci.name()}: device status did not read back 0 after reset`);
    const offered = BigInt(lo!) | (BigInt(hi!) << 32n);
    if (!(offered & F_VERSION_1)) throw new Error(`${this.pci.name()}: the device does not offer VIRTIO_F_VERSION_1`);
    return offered;
  }

  /** Writes the driver's features and FEATURES_OK; rejects if the device does not keep FEATURES_OK. */
  acceptFeatures(accepted: bigint): Promise<void> {
    return this.qt.batch([
      `writel ${this.addr(C.driverFeatureSelect)} 0`, `writel ${this.addr(C.driverFeature)} 0x${(accepted & 0xffff_ffffn).toString(16)}`,
      `writel ${this.addr(C.driverFeatureSelect)} 1`, `writel ${this.addr(C.driverFeature)} 0x${(accepted >> 32n).toString(16)}`,
      `writeb ${this.addr(C.status)} ${STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK}`, `readb ${this.addr(C.status)}`,
    ]).then((r) => {
      if (!(Number(r[5]) & STATUS.FEATURES_OK)) throw new Error(`${this.pci.name()}: the device refused features 0x${accepted.toString(16)}`);
    });
  }

  /**
   * Programs queue `index` with the queue's layout and enables it; every command is issued at
   * once, so several setups share a round trip. The queue learns its notify address on return.
   */
  setupQueue(index: number, queue: SplitQueue): Promise<void> {
    const { layout } = queue;
    const wide = (off: number, v: bigint) => [
      `writel ${this.addr(off)} 0x${(v & 0xffff_ffffn).toString(16)}`,
      `writel ${this.addr(off + 4)} 0x${(v >> 32n).toString(16)}`,
    ];
    return this.qt.batch([
      `writew ${this.addr(C.queueSelect)} ${index}`, `readw ${this.addr(C.queueSize)}`, `readw ${this.addr(C.queueNotifyOff)}`,
      `writew ${this.addr(C.queueSize)} ${layout.size}`,
      `writew ${this.addr(C.queueMsixVector)} ${NO_VECTOR}`,
      ...wide(C.queueDesc, layout.desc), ...wide(C.queueDriver, layout.avail), ...wide(C.queueDevice, layout.used),
      `writew ${this.addr(C.queueEnable)} 1`,
    ]).then((r) => {
      if (Number(r[1]) < layout.size) throw new Error(`${this.pci.name()}: queue ${index} holds ${Number(r[1])} entries, fewer than ${layout.size}`);
      const notify = this.notifyBase + BigInt(Number(r[2]) * this.notifyMultiplier);
      queue.notifyCmd = `writew 0x${notify.toString(16)} ${index}`;
    });
  }

  driverOk(): Promise<string> {
    return this.qt.cmd(`writeb ${this.addr(C.status)} ${STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK}`);
  }
}
