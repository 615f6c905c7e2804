// The results vocabulary. A rule is PASS only when the run exercised it and it held. NOT_SUPPORTED
// (a capability not declared), UNCHECKED (nothing reached it: set aside after an earlier finding,
// budget spent, family stopped) and INTERRUPTED (a signal came first) are never a pass, and say
// why. ADAPTER_ERROR, CRASH and TIMEOUT are the adapter breaking the protocol, dying, hanging.

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
