// What the driver side keeps, and nothing more than a virtio-iommu driver keeps: which domain
// ID it chose for each of the suite's domain handles, and which endpoints it has attached
// where (Linux's viommu keeps the same, to refuse freeing a domain in use). The device holds
// the mappings; the driver never second-guesses them.

import type { Handle } from '../../../../spec/index.ts';

export interface DomainRecord {
  handle: Handle;
  id: number;
  /** An identity domain: attached with VIRTIO_IOMMU_ATTACH_F_BYPASS. */
  bypass: boolean;
}

export class DriverState {
  private readonly domains = new Map<Handle, DomainRecord>();
  /** Endpoint ID → domain ID, after the device accepted the ATTACH. */
  private readonly attachedTo = new Map<number, number>();
  private nextId: number;

  constructor(
    private readonly firstId: number,
    private readonly lastId: number,
  ) {
    this.nextId = firstId;
  }

  /**
   * virtio has no request for it: the driver picks an ID the device has not seen in this test
   * case, and the device creates the domain at the first ATTACH naming it.
   */
  alloc(handle: Handle, bypass: boolean): DomainRecord | null {
    if (this.nextId > this.lastId) return null;
    const rec = { handle, id: this.nextId++, bypass };
    this.domains.set(handle, rec);
    return rec;
  }

  /** The domain a handle names; none once freed (IDs are never handed out twice in a case). */
  domain(handle: Handle): DomainRecord | undefined {
    return this.domains.get(handle);
  }

  free(handle: Handle): void {
    this.domains.delete(handle);
  }

  endpointsIn(id: number): number {
    let n = 0;
    for (const d of this.attachedTo.values()) if (d === id) n++;
    return n;
  }

  /** The device has the domain only while an endpoint is attached to it (virtio DETACH). */
  onDevice(id: number): boolean {
    return this.endpointsIn(id) > 0;
  }

  /** ATTACH succeeded: the endpoint left its previous domain, if any (implicit DETACH). */
  attached(endpoint: number, id: number): void {
    this.attachedTo.set(endpoint, id);
  }

  detached(endpoint: number): void {
    this.attachedTo.delete(endpoint);
  }

  /** Every endpoint the device has attached, and its domain ID. */
  attachments(): [endpoint: number, domain: number][] {
    return [...this.attachedTo];
  }

  get idRange(): [number, number] {
    return [this.firstId, this.lastId];
  }
}
