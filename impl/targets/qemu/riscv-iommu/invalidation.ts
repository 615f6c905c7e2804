// The invalidations the RISC-V IOMMU specification allows a driver, which the suite draws (the
// op's `inval`), narrowest first, so a shrunk trace names the narrowest one that still leaves a
// stale translation behind. Every batch ends with an IOFENCE.C whose store is checked (unit.ts).
//
// After leaves are removed (UnmapOp.inval), IOTINVAL.VMA with GV = 0 for the domain's PSCID (§3.1.1):
//   0  one address-specific command (AV) per 4 KiB page of the removed span, as Linux's
//      riscv_iommu_iotlb_inval() below RISCV_IOMMU_IOTLB_INVAL_LIMIT (2 MiB); from that size on,
//      the whole PSCID, as Linux
//   1  one AV command per removed leaf, at the leaf's base: §3.1.1 says an AV invalidation
//      covers "the leaf PTEs that translate ADDR", i.e. the whole superpage
//   2  the whole PSCID (PSCV, no AV)
//   3  every first-stage entry (no PSCV, no AV)
//
// After a device's context changes (AttachOp/DetachOp.inval):
//   0  IODIR.INVAL_DDT for the device (DV), then IOTINVAL.VMA for the PSCID it held, as Linux's
//      riscv_iommu_iodir_update() and riscv_iommu_bond_unlink()
//   1  IODIR.INVAL_DDT for every device, then IOTINVAL.VMA for everything

import type { Leaf } from './pgtable.ts';
import { type Command, describeCommand, iodirInvalDdt, iotinvalVma } from './regs.ts';

export const INVALIDATIONS = ['IOTINVAL.VMA per 4 KiB page', 'IOTINVAL.VMA per leaf', 'IOTINVAL.VMA PSCID', 'IOTINVAL.VMA all'] as const;
export const CONFIG_INVALIDATIONS = ["IODIR.INVAL_DDT for the device and IOTINVAL.VMA for its old PSCID", 'IODIR.INVAL_DDT and IOTINVAL.VMA for everything'] as const;

/** RISCV_IOMMU_IOTLB_INVAL_LIMIT: from this span on Linux invalidates the whole PSCID. */
export const PER_PAGE_LIMIT = 0x20_0000n;
/** More per-leaf commands than this become the whole PSCID (a span of thousands of superpages). */
const MAX_LEAF_COMMANDS = 512;
const PAGE = 0x1000n;

export interface Sent {
  cmds: Command[];
  labels: string[];
}

const sent = (cmds: Command[]): Sent => ({ cmds, labels: cmds.map(describeCommand) });

/** The commands after `leaves` were removed from the domain tagged `pscid`, by choice `inval`. */
export function tlbInvalidations(inval: number, pscid: number, leaves: readonly Leaf[]): Sent {
  const choice = inval % INVALIDATIONS.length;
  const wholePscid = () => sent([iotinvalVma({ pscid })]);
  if (choice === 3) return sent([iotinvalVma()]);
  if (choice === 2 || leaves.length === 0) return wholePscid();
  if (choice === 1) {
    return leaves.length > MAX_LEAF_COMMANDS ? wholePscid() : sent(leaves.map((l) => iotinvalVma({ pscid, addr: l.iova })));
  }
  const lo = leaves[0]!.iova;
  const last = leaves.at(-1)!;
  const hi = last.iova + last.size;
  if (hi - lo >= PER_PAGE_LIMIT) return wholePscid();
  const cmds: Command[] = [];
  for (let at = lo; at < hi; at += PAGE) cmds.push(iotinvalVma({ pscid, addr: at }));
  return sent(cmds);
}

/** The commands after device `deviceId`'s context changed from one tagged `oldPscid` (null: none), by choice `inval`. */
export function configInvalidation(inval: number, deviceId: number, oldPscid: number | null): Sent {
  if (inval % CONFIG_INVALIDATIONS.length === 1) return sent([iodirInvalDdt(), iotinvalVma()]);
  return sent(oldPscid === null ? [iodirInvalDdt(deviceId)] : [iodirInvalDdt(deviceId), iotinvalVma({ pscid: oldPscid })]);
}
