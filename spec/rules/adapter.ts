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
      "Each request receives exactly one reply: on success the operation's documented ok fields with their documented types, on failure an errno name from the suite's list, never both. " +
      'An adapter that throws, answers twice, out of order, or anything else — to a request whose reply the case needed or not — is reported as ADAPTER_ERROR.',
    sources: [
      'doc:spec/protocol.md (one reply per request, in order; failures are errno names; fault replies; what the suite does when a process misbehaves)',
      'doc:spec/ops.ts OP_FIELDS (the ok fields of each operation)',
      'doc:spec/results.ts (results vocabulary: ADAPTER_ERROR)',
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
      'The adapter process (a command line, or the suite\'s host running an in-process adapter) stays alive and keeps its stdout open from its hello until the suite ends it; ' +
      'if it exits, is killed, closes stdout or throws outside any request before then, the result is CRASH.',
    sources: [
      'doc:spec/results.ts (results vocabulary: CRASH)',
      'doc:spec/protocol.md (transport: the adapter is a child process; what the suite does when a process misbehaves)',
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
      'Every reply arrives within the per-request timeout (the hello within the hello timeout), and a test case ends within the per-case timeout; ' +
      'a reply still missing when one expires — an endless loop, a promise that never settles — makes the result TIMEOUT.',
    sources: [
      'doc:spec/results.ts (results vocabulary: TIMEOUT)',
      'doc:spec/protocol.md (timeouts: --timeout, --case-timeout, --hello-timeout)',
    ],
    policies: [],
    capabilities: [],
  },
];
