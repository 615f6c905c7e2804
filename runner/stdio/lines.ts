// Splits a byte stream into lines. A line longer than the limit is a protocol breach, not a
// reason to buffer without bound: an adapter that floods stdout must not take the suite down.

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverlong: (bytes: number) => void,
    private readonly maxLineBytes = 1 << 20,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.pendingBytes === 0) {
        this.emit(piece);
      } else {
        this.pending.push(piece);
        this.emit(Buffer.concat(this.pending));
        this.pending = [];
        this.pendingBytes = 0;
      }
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxLineBytes) {
        const n = this.pendingBytes;
        this.pending = [];
        this.pendingBytes = 0;
        this.onOverlong(n);
      }
    }
  }

  /** What arrived after the last newline (an unterminated last line). */
  rest(): string {
    return Buffer.concat(this.pending).toString('utf8');
  }

  private emit(bytes: Buffer): void {
    const line = bytes.toString('utf8');
    this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
}
