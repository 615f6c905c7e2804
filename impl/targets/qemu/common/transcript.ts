// What a Qtest sent, in send order, for a reproducer script (reproducer/script.ts renders it).
// A poll is kept as one construct with its exit condition, never as the polls this run needed:
// another QEMU version may need a different count. A read whose reply classifies an op (a fault
// record, a status byte) carries a label the target's reproducer turns into assertions.

/** An exit condition of a poll: `(reply[reply] & mask) op value`. */
export interface PollCondition {
  reply: number;
  mask: bigint;
  op: '==' | '!=';
  value: bigint;
}

/** A read that classifies an op, and the facts the driver knew when it made it. */
export interface Label {
  /** A script variable name: lower case, digits and `_`. */
  name: string;
  facts?: Readonly<Record<string, bigint>>;
}

export type TranscriptEntry =
  | { kind: 'command'; line: string; label?: Label }
  | { kind: 'poll'; lines: readonly string[]; until: readonly PollCondition[]; max: number }
  /** The suite's op `index` (1-based) begins. */
  | { kind: 'op'; index: number }
  | { kind: 'comment'; text: string };

export class Transcript {
  readonly entries: TranscriptEntry[] = [];
  /** QEMU's command line without the qtest socket arguments, as Qtest.start saw it. */
  qemuArgs: string[] | null = null;

  command(line: string, label?: Label): void {
    if (label && !/^[a-z][a-z0-9_]*$/.test(label.name)) throw new RangeError(`label '${label.name}' is not a script name`);
    this.entries.push(label ? { kind: 'command', line, label } : { kind: 'command', line });
  }

  poll(lines: readonly string[], until: readonly PollCondition[], max: number): void {
    this.entries.push({ kind: 'poll', lines: [...lines], until: [...until], max });
  }

  op(index: number): void {
    this.entries.push({ kind: 'op', index });
  }

  comment(text: string): void {
    this.entries.push({ kind: 'comment', text });
  }

  /** The labelled reads from entry `from` on (an op's, given the length before it ran). */
  labelsSince(from: number): Label[] {
    return this.entries.slice(from).flatMap((e) => (e.kind === 'command' && e.label ? [e.label] : []));
  }
}

/** Does one round of a poll's replies meet any of its exit conditions? */
export function pollMet(replies: readonly string[], until: readonly PollCondition[]): boolean {
  return until.some((c) => {
    const v = BigInt(replies[c.reply] ?? 'x') & c.mask;
    return c.op === '==' ? v === c.value : v !== c.value;
  });
}

/** The condition as the script writes it: `(r0 & 0x1) == 0x0`. */
export function pollConditionText(until: readonly PollCondition[]): string {
  return until.map((c) => `(r${c.reply} & 0x${c.mask.toString(16)}) ${c.op} 0x${c.value.toString(16)}`).join(' or ');
}
