// The shape of a rule in the catalogue. Rules are data: the checker names them in findings,
// the reports group by family, and docs/rules.md is generated from them.

import type { CapabilityName } from '../ops.ts';
import type { PolicyKey } from '../policies.ts';

/** MUST: a violation is FAIL. SHOULD: QUALITY_WARNING. POLICY: the declared value is required. */
export type RuleLevel = 'MUST' | 'SHOULD' | 'POLICY';

export const FAMILIES = ['map', 'unmap', 'xlate', 'iotlb', 'domain', 'attach', 'pasid', 'sva', 'fault', 'virtio', 'adapter'] as const;
export type Family = (typeof FAMILIES)[number];

export interface Rule {
  /** Stable ID: never renamed, never reused. */
  id: string;
  family: Family;
  level: RuleLevel;
  /** A short name for tables and JUnit test names. */
  title: string;
  /** What an implementation must do, in this project's words. */
  statement: string;
  /**
   * Where the rule comes from, most authoritative first. Prefixes: `seed:<file>` (../shared/seeds),
   * `linux:<path> <function>`, `commit:<hash> "<subject>"`, `spec:<document> <section>`,
   * `doc:<document>`.
   */
  sources: string[];
  /** Policies that select this rule's outcome. */
  policies: PolicyKey[];
  /** Capabilities without which the rule cannot be checked (NOT_SUPPORTED). */
  capabilities: CapabilityName[];
  /**
   * A policy outside whose values nothing the rule forbids can happen (NOT_SUPPORTED, with `why`):
   * a rule about what an unmap removes beyond the request has nothing to check where none is.
   */
  onlyUnder?: { policy: PolicyKey; values: readonly string[]; why: string };
}
