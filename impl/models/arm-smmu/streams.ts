// Stream table entries for substreams: each device (a stream ID) gets a CD table the first time
// one of its PASIDs is used, and the SMMU caches the CDs it fetches. The CD table hangs off the
// stream, as Linux has kept it since v6.6 (arm_smmu_master.cd_table); from v5.11 to v6.5 it hung
// off the domain (seed 004: "we keep PASID tables per domain"), which cannot give two groups of
// one domain different PASIDs. A PASID is a group's: its CD is written in every PASID-capable
// device of the group, all or nothing, and each CD change is followed by CFGI_CD so the cache
// never serves the old one.

import { CdTable, type ContextDescriptor } from './cd.ts';
import type { TableMemory } from './memory.ts';

interface Ste {
  ssidBits: number;
  cds: CdTable | null;
  /** The SMMU's configuration cache: CDs fetched for this stream, by substream. */
  cached: Map<number, ContextDescriptor>;
}

/** Substream ID bits a device uses: enough for its PASIDs, no more than the SMMU has. */
export function ssidBits(maxPasids: number, smmuBits: number): number {
  return maxPasids <= 1 ? 0 : Math.min((maxPasids - 1).toString(2).length, smmuBits);
}

export class StreamTable {
  private readonly stes = new Map<string, Ste>();

  constructor(private readonly mem: TableMemory) {}

  add(dev: string, bits: number): void {
    this.stes.set(dev, { ssidBits: bits, cds: null, cached: new Map() });
  }

  /** Installs `v` at `ssid` in every device's CD table; false (and nothing changed) when memory runs out. */
  install(devs: readonly string[], ssid: number, v: ContextDescriptor): boolean {
    const done: string[] = [];
    for (const dev of devs) {
      const ste = this.stes.get(dev)!;
      // A device cannot issue an SSID beyond its width: it gets no CD for it.
      if (ssid >= 1 << ste.ssidBits) continue;
      ste.cds ??= CdTable.create(this.mem, ste.ssidBits);
      if (!ste.cds?.write(ssid, v)) {
        // The core's revert: devices already set go back to no CD at this PASID.
        this.remove(done, ssid);
        return false;
      }
      this.cfgi(ste, ssid);
      done.push(dev);
    }
    return true;
  }

  remove(devs: readonly string[], ssid: number): void {
    for (const dev of devs) {
      const ste = this.stes.get(dev)!;
      ste.cds?.clear(ssid);
      this.cfgi(ste, ssid);
    }
  }

  /** CMD_CFGI_CD + CMD_SYNC: the cached copy of one CD goes. */
  private cfgi(ste: Ste, ssid: number): void {
    ste.cached.delete(ssid);
  }

  /** What an access of `dev` with `ssid` translates through: the cached CD, else the one in memory. */
  lookup(dev: string, ssid: number): ContextDescriptor | null {
    const ste = this.stes.get(dev);
    if (!ste?.cds || ssid >= 1 << ste.ssidBits) return null;
    const hit = ste.cached.get(ssid);
    if (hit) return hit;
    const cd = ste.cds.read(ssid);
    if (cd) ste.cached.set(ssid, cd);
    return cd;
  }

  /** The CD table of a device, if it has one (for tests). */
  tableOf(dev: string): CdTable | null {
    return this.stes.get(dev)?.cds ?? null;
  }
}
