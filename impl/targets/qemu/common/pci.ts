// PCI configuration space, through the legacy 0xcf8/0xcfc ports (x86) or a memory-mapped ECAM
// window (PCIe on Arm's virt machine), and the little a driver does with it when no firmware
// ran: find the device, size and place its BARs, enable memory decoding and bus mastering
// (without which its DMA goes nowhere).

import type { Qtest } from './qtest.ts';

export const PCI_COMMAND = 0x04;
const PCI_STATUS = 0x06;
const PCI_CAP_PTR = 0x34;
const STATUS_CAP_LIST = 1 << 4;
const COMMAND_MEMORY = 1 << 1;
const COMMAND_MASTER = 1 << 2;
const BAR0 = 0x10;

export interface Capability {
  offset: number;
  id: number;
}

export class PciFunction {
  constructor(
    private readonly qt: Qtest,
    readonly devfn: number,
    readonly bus = 0,
    /** The ECAM window's base; without one, configuration space is reached through the ports. */
    private readonly ecam: bigint | null = null,
  ) {}

  /** ECAM: bus << 20 | device << 15 | function << 12 | register (PCIe §7.2.2). */
  private ecamAt(reg: number): string {
    return `0x${(this.ecam! + BigInt((this.bus << 20) | (this.devfn << 12) | reg)).toString(16)}`;
  }

  /** The requester ID, which is also the endpoint ID the virtio-iommu knows the device by. */
  get requesterId(): number {
    return (this.bus << 8) | this.devfn;
  }

  private select(reg: number): string {
    const addr = (0x8000_0000 | (this.bus << 16) | (this.devfn << 8) | (reg & 0xfc)) >>> 0;
    return `outl 0xcf8 0x${addr.toString(16)}`;
  }

  async read32(reg: number): Promise<number> {
    if (this.ecam !== null) return Number(await this.qt.cmd(`readl ${this.ecamAt(reg & 0xffc)}`)) >>> 0;
    const [, v] = await this.qt.batch([this.select(reg), 'inl 0xcfc']);
    return Number(v) >>> 0;
  }

  async read16(reg: number): Promise<number> {
    return ((await this.read32(reg)) >>> ((reg & 2) * 8)) & 0xffff;
  }

  async read8(reg: number): Promise<number> {
    return ((await this.read32(reg)) >>> ((reg & 3) * 8)) & 0xff;
  }

  async write32(reg: number, value: number): Promise<void> {
    if (this.ecam !== null) {
      await this.qt.cmd(`writel ${this.ecamAt(reg & 0xffc)} 0x${(value >>> 0).toString(16)}`);
      return;
    }
    await this.qt.batch([this.select(reg), `outl 0xcfc 0x${(value >>> 0).toString(16)}`]);
  }

  async write16(reg: number, value: number): Promise<void> {
    if (this.ecam !== null) {
      await this.qt.cmd(`writew ${this.ecamAt(reg & 0xffe)} 0x${value.toString(16)}`);
      return;
    }
    await this.qt.batch([this.select(reg), `outw 0x${(0xcfc + (reg & 2)).toString(16)} 0x${value.toString(16)}`]);
  }

  /** Vendor and device ID; 0xffff vendor means nothing is there. */
  async ids(): Promise<{ vendor: number; device: number }> {
    const v = await this.read32(0);
    return { vendor: v & 0xffff, device: v >>> 16 };
  }

  /** The size a memory BAR decodes, by the all-ones probe; 64-bit BARs span two registers. */
  async barSize(index: number): Promise<{ size: bigint; is64: boolean }> {
    const reg = BAR0 + 4 * index;
    const low = await this.read32(reg);
    if (low & 1) throw new Error(`BAR${index} of ${this.name()} is an I/O BAR`);
    const is64 = ((low >>> 1) & 3) === 2;
    await this.write32(reg, 0xffff_ffff);
    let mask = BigInt((await this.read32(reg)) & ~0xf) & 0xffff_ffffn;
    await this.write32(reg, low);
    if (is64) {
      const high = await this.read32(reg + 4);
      await this.write32(reg + 4, 0xffff_ffff);
      mask |= BigInt(await this.read32(reg + 4)) << 32n;
      await this.write32(reg + 4, high);
    } else {
      mask |= 0xffff_ffff_0000_0000n;
    }
    const size = (~mask & 0xffff_ffff_ffff_ffffn) + 1n;
    return { size, is64 };
  }

  /** Places a memory BAR; the address must be aligned to its size. */
  async setBar(index: number, addr: bigint): Promise<void> {
    const { size, is64 } = await this.barSize(index);
    if (addr % size !== 0n) throw new Error(`BAR${index} of ${this.name()}: 0x${addr.toString(16)} is not aligned to its size 0x${size.toString(16)}`);
    const reg = BAR0 + 4 * index;
    await this.write32(reg, Number(addr & 0xffff_ffffn));
    if (is64) await this.write32(reg + 4, Number(addr >> 32n));
    else if (addr >> 32n !== 0n) throw new Error(`BAR${index} of ${this.name()} is 32-bit; 0x${addr.toString(16)} is above 4 GiB`);
  }

  /** Memory decoding on, and bus mastering so the device's DMA reaches memory at all. */
  async enable(): Promise<void> {
    const cmd = await this.read16(PCI_COMMAND);
    await this.write16(PCI_COMMAND, cmd | COMMAND_MEMORY | COMMAND_MASTER);
  }

  async capabilities(): Promise<Capability[]> {
    if (!((await this.read16(PCI_STATUS)) & STATUS_CAP_LIST)) return [];
    const caps: Capability[] = [];
    const seen = new Set<number>();
    for (let off = (await this.read8(PCI_CAP_PTR)) & 0xfc; off !== 0 && !seen.has(off); ) {
      seen.add(off);
      const head = await this.read32(off);
      caps.push({ offset: off, id: head & 0xff });
      off = (head >>> 8) & 0xfc;
    }
    return caps;
  }

  name(): string {
    return `${this.bus.toString(16).padStart(2, '0')}:${(this.devfn >> 3).toString(16).padStart(2, '0')}.${this.devfn & 7}`;
  }
}
