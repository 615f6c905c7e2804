// The minimal trace as a reader sees it: the topology in one line, every op the generator
// drew, and of the checker's probes only those whose outcome fed the verdict. A probe that
// agreed elsewhere is noise; the access that filled a cache an unmap then left stale is the
// cause itself, and what the table says at the failing address is its context.

import { type Op, type Topology, formatCall, formatTopology, isFailure } from '../spec/index.ts';
import type { TraceEntry } from '../properties/checker.ts';

const PAGE = 0x1000n;

/** The IOVA bytes an op addresses: a point access as its 4 KiB page; null for ops with none. */
function span(op: Op): { start: bigint; end: bigint } | null {
  switch (op.op) {
    case 'dma':
    case 'iova_to_phys': {
      const start = op.iova - (op.iova % PAGE);
      return { start, end: start + PAGE };
    }
    case 'map':
    case 'unmap':
    case 'leaves':
      return { start: op.iova, end: op.iova + op.size };
    default:
      return null;
  }
}

type Span = NonNullable<ReturnType<typeof span>>;

function overlaps(a: Span, b: Span): boolean {
  return a.start < b.end && b.start < a.end;
}

/**
 * The probes whose outcome bears on the last entry's verdict (indices into `trace`):
 * - the probes of the failing step (after the last drawn op) at the bytes the failing op
 *   addresses: what the table says there now;
 * - for a failing access, the last access before that step that succeeded through a mapping
 *   covering the failing page — the one that can have filled a cache (the same device's if
 *   there is one, since a TLB may be per device or per domain);
 * - for pt_pages, the domain's previous pt_pages reading: the baseline it is compared with.
 */
export function probesFeedingVerdict(trace: readonly TraceEntry[]): Set<number> {
  const shown = new Set<number>();
  const lastIndex = trace.length - 1;
  const last = trace[lastIndex];
  if (!last) return shown;
  const target = span(last.op);
  // The failing step's probes follow its drawn op; a failing drawn op has none.
  let stepStart = last.probe ? lastIndex : lastIndex + 1;
  while (last.probe && stepStart > 0 && trace[stepStart - 1]!.probe) stepStart--;
  for (let i = stepStart; i < lastIndex; i++) {
    const p = span(trace[i]!.op);
    if (trace[i]!.probe && target && p && overlaps(p, target)) shown.add(i);
  }
  const last_ = last.op;
  if (last_.op === 'pt_pages') {
    for (let i = lastIndex - 1; i >= 0; i--) {
      const e = trace[i]!.op;
      if (trace[i]!.probe && e.op === 'pt_pages' && e.domain === last_.domain) {
        shown.add(i);
        break;
      }
    }
  }
  if ((last_.op === 'dma' || last_.op === 'iova_to_phys') && target) {
    const maps = trace.filter((e) => !e.probe && e.op.op === 'map' && !isFailure(e.outcome) && overlaps(span(e.op)!, target)).map((e) => span(e.op)!);
    const filler = (sameDevice: boolean): number => {
      for (let i = stepStart - 2; i >= 0; i--) {
        const e = trace[i]!;
        if (!e.probe || e.op.op !== 'dma' || isFailure(e.outcome)) continue;
        if (sameDevice && (last_.op !== 'dma' || e.op.dev !== last_.dev)) continue;
        const p = span(e.op)!;
        if (overlaps(p, target) || maps.some((m) => overlaps(m, p))) return i;
      }
      return -1;
    };
    const i = filler(true) >= 0 ? filler(true) : filler(false);
    if (i >= 0) shown.add(i);
  }
  return shown;
}

/**
 * A failure that needs earlier cases of the same process (a crash after a leak across resets):
 * each earlier case as its topology and every call it made, then the failing case as usual.
 */
export function readableHistory(earlier: readonly { topology: Topology; trace: readonly TraceEntry[] }[], trace: readonly TraceEntry[], topology?: Topology | null): string[] {
  const n = earlier.length + 1;
  return [
    ...earlier.flatMap((c, i) => [`case ${i + 1} of ${n} in one process, after a reset to: ${formatTopology(c.topology)}`, ...c.trace.map((e) => `  ${formatCall(e.op, e.outcome)}`)]),
    `case ${n} of ${n} in the same process, where it fails:`,
    ...readableTrace(trace, topology),
  ];
}

export function readableTrace(trace: readonly TraceEntry[], topology?: Topology | null): string[] {
  const out: string[] = topology ? [`topology: ${formatTopology(topology)}`] : [];
  const shown = probesFeedingVerdict(trace);
  let skipped = 0;
  trace.forEach((e, i) => {
    if (e.probe && i < trace.length - 1 && !shown.has(i)) {
      skipped++;
      return;
    }
    out.push(formatCall(e.op, e.outcome));
  });
  if (skipped > 0) out.push(`(${skipped} agreeing probe${skipped === 1 ? '' : 's'} not shown)`);
  return out;
}
