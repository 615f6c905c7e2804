// The results vocabulary. NOT_SUPPORTED is never a pass; UNCHECKED marks a rule the run did
// not exercise enough to say anything about (the coverage gate fails the run for it).

export const STATUSES = [
  'PASS',
  'FAIL',
  'NOT_SUPPORTED',
  'QUALITY_WARNING',
  'ADAPTER_ERROR',
  'TIMEOUT',
  'CRASH',
  'INTERRUPTED',
  'UNCHECKED',
] as const;
export type Status = (typeof STATUSES)[number];

/** Statuses that make a run exit non-zero. */
export const FAILING: ReadonlySet<Status> = new Set(['FAIL', 'ADAPTER_ERROR', 'TIMEOUT', 'CRASH']);

/** When several apply to one rule, the most severe wins. */
const SEVERITY: Status[] = ['CRASH', 'TIMEOUT', 'ADAPTER_ERROR', 'FAIL', 'QUALITY_WARNING', 'INTERRUPTED', 'UNCHECKED', 'NOT_SUPPORTED', 'PASS'];

export function worst(a: Status, b: Status): Status {
  return SEVERITY.indexOf(a) <= SEVERITY.indexOf(b) ? a : b;
}
