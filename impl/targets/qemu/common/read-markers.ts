// The bytes a kit puts where a device read should go, so it can tell afterwards what the read
// returned: different each time, never 0 (QEMU returns zeros for a blocked read) and never the
// byte device writes carry.

export class ReadMarkers {
  private last = 0;

  constructor(private readonly writeByte: number) {}

  next(): number {
    this.last = (this.last % 250) + 1;
    return this.last >= this.writeByte ? this.last + 1 : this.last;
  }
}
