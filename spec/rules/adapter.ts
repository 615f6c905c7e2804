// Adapter rules: the protocol obligations every adapter has, whatever it models. Their
// violations are reported as ADAPTER_ERROR, CRASH or TIMEOUT rather than FAIL.

import type { Rule } from './types.ts';

export const ADAPTER_RULES: readonly Rule[] = [
  {
    id: 'ADAPTER-REPLY',
    family: 'adapter',
    level: 'MUST',
    title: 'Every request gets one well-formed reply',
    statement:
      "Each request receives exactly one reply: on success the operation's documented ok fields with their documented types, on failure an errno name from the suite's list. " +
      'An adapter that throws, answers twice, or answers anything else is reported as ADAPTER_ERROR.',
    sources: [
      'doc:spec/protocol.md (one reply per request, in order; failures are errno names; what the suite does when a process misbehaves)',
      'doc:spec/ops.ts OP_FIELDS (the ok fields of each operation)',
      'doc:../shared/design.md §5 (results vocabulary: ADAPTER_ERROR)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'ADAPTER-CRASH',
    family: 'adapter',
    level: 'MUST',
    title: 'The adapter survives the whole sequence',
    statement:
      'The adapter process stays alive from the first request of a sequence until the suite ends it; if it exits or is killed before then, the result is CRASH.',
    sources: [
      'doc:../shared/design.md §5 (results vocabulary: CRASH)',
      'doc:spec/protocol.md (transport: the adapter is a child process)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'ADAPTER-TIMEOUT',
    family: 'adapter',
    level: 'MUST',
    title: 'Each reply arrives within the timeout',
    statement:
      'Every reply arrives within the configured per-request timeout; a reply still missing when it expires makes the result TIMEOUT.',
    sources: ['doc:../shared/design.md §5 (results vocabulary: TIMEOUT)'],
    policies: [],
    capabilities: [],
  },
];
