// Guest memory of the q35 kits (VT-d, AMD-Vi): 2.5 GiB of RAM, all below 4 GiB (q35 keeps RAM
// under 2.75 GiB in one piece), so the physical addresses the generator favours (0, 0x40000000
// plus small steps, the 0x80000000 window) are real memory a device access can be seen in. The
// driver's own tables live in a window the generator does not aim at; a write that would land in
// it is never verified (it would corrupt the tables) and the page is rewritten afterwards.

import type { GuestPages } from './guest-pages.ts';

export const RAM_BYTES = 0xa000_0000n;
/** The driver's tables, queues and logs: 128 MiB from 768 MiB. */
export const DRIVER_WINDOW = { base: 0x3000_0000n, end: 0x3800_0000n } as const;
/** Where the edu's buffer bytes come from at boot: one page of a known pattern. */
export const PATTERN_PAGE = 0x2fff_f000n;
/** The byte every DMA write carries (the edu buffer's byte 0, filled from the pattern page at boot). */
export const WRITE_BYTE = 0xa5;
/** Reads land at this buffer offset, so they never overwrite the byte writes carry. */
export const READ_AT = 0x800;
/** The interrupt range: writes there are interrupt requests (VT-d §3.14, AMD §2.2.5.1), never memory. */
const INTERRUPT_RANGE = { base: 0xfee0_0000n, end: 0xfef0_0000n } as const;

/** RAM a device access can be checked in: inside RAM, not the driver's tables, not the pattern page, not the interrupt range. */
export function plainRam(phys: bigint, driver: GuestPages): boolean {
  if (phys >= RAM_BYTES || driver.owns(phys) || (phys >= PATTERN_PAGE && phys < PATTERN_PAGE + 0x1000n)) return false;
  return !(phys >= INTERRUPT_RANGE.base && phys < INTERRUPT_RANGE.end);
}
