// The harness for deliberately broken adapters: the reference model with one realistic bug
// each, hunted with a fixed budget counted in sequences.

import {
  type Adapter, type AdapterInfo, type Capabilities, type Op, type Outcome, type Policies, type Topology, formatOp, resolvePolicies,
} from '../spec/index.ts';
import { ReferenceModel } from '../impl/reference/model.ts';
import { familyById } from '../properties/families.ts';
import { type Finding, runFamily } from '../properties/property.ts';
import { expect } from 'vitest';
import { formatTrace, nonProbe } from './helpers.ts';

/** The reference playing its canonical outcomes, with a hook for the one bug. */
export abstract class BrokenAdapter implements Adapter {
  protected model!: ReferenceModel;
  readonly policies: Policies;
  readonly capabilities: Capabilities;

  constructor(
    readonly name: string,
    declared: Partial<Record<string, string>> = {},
    readonly profile = 'linux',
    capabilities: Capabilities = { leaves: true, dma_phys: true },
  ) {
    this.policies = resolvePolicies(profile, declared);
    this.capabilities = capabilities;
  }

  hello(): AdapterInfo {
    return { name: this.name, version: '0.0.0', profile: this.profile, policies: { ...this.policies }, capabilities: this.capabilities, topologies: 'any' };
  }

  reset(topology: Topology): void {
    this.model = new ReferenceModel(this.system(topology), this.modelPolicies(), this.capabilities);
  }

  /** The policies the buggy implementation really follows (by default what it declares). */
  protected modelPolicies(): Policies {
    return this.policies;
  }

  /** The system the buggy implementation believes it is. */
  protected system(topology: Topology): Topology {
    return topology;
  }

  abstract exec(op: Op): Outcome;
}

export interface Case {
  id: string;
  adapter: () => BrokenAdapter;
  family: string;
  rule: string;
  /** Non-probe entries of the minimal trace: the length measured with BUDGET, asserted as a bound. */
  maxOps: number;
  maxFindings?: number;
}

export const BUDGET = { seed: 1, runs: 300, maxSteps: 40 };

export async function hunt(c: Case): Promise<Finding[]> {
  const adapter = c.adapter();
  const r = await runFamily(
    { adapter, profile: adapter.profile, policies: adapter.policies, capabilities: adapter.capabilities, topologies: 'any' },
    familyById(c.family)!,
    { ...BUDGET, maxFindings: c.maxFindings ?? 1 },
  );
  return r.findings;
}

export function describeFinding(f: Finding): string {
  const failing = f.op ? formatOp(f.op) : '(reset)';
  return `${f.rule} (${f.status}) at ${failing}\n  expected ${f.expected.join(' | ')}\n  observed ${f.observed}\n${formatTrace(f.trace)}`;
}


/**
 * The bug is found with the right rule and status and a trace of at most `maxOps` generated
 * ops; the same seed finds the same thing, shrunk the same way.
 */
export async function expectCaught(c: Case): Promise<Finding> {
  const findings = await hunt(c);
  expect(findings.length, `no finding for ${c.id}`).toBeGreaterThan(0);
  const f = findings[0]!;
  const text = describeFinding(f);
  expect(f.rule, text).toBe(c.rule);
  expect(f.status, text).toBe(c.rule.startsWith('ADAPTER-') ? 'ADAPTER_ERROR' : 'FAIL');
  expect(nonProbe(f.trace), text).toBeLessThanOrEqual(c.maxOps);
  expect(f.seed).toBe(BUDGET.seed);
  expect(f.path).not.toBe('');

  const again = (await hunt(c))[0]!;
  expect(again.rule).toBe(f.rule);
  expect(again.path).toBe(f.path);
  expect(formatTrace(again.trace)).toBe(formatTrace(f.trace));
  expect(again.observed).toBe(f.observed);
  return f;
}
