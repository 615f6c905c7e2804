// The stdio protocol end to end with real child processes: an in-process adapter served over
// stdin/stdout (`iommu-conformance serve`) must be judged exactly as it is in process, pipelined
// or in lockstep; the handshake refuses what it must; the document lists every op.

import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { AdapterFault, ConfigError, OP_KINDS, PROTOCOL_VERSION, WireError, decodeHello, decodeTopology, encodeTopology } from '../spec/index.ts';
import { ARM_TOPOLOGIES } from '../impl/models/arm-smmu/topologies.ts';
import { familyById } from '../properties/families.ts';
import { runFamily } from '../properties/property.ts';
import { loadAdapter, loadInProcessAdapter, lockstep } from '../runner/adapters.ts';
import { LineSplitter } from '../runner/stdio/lines.ts';
import { ProcessAdapter } from '../runner/stdio/adapter.ts';
import { hangGuardMs } from './helpers.ts';

const serveCmd = (args: string) => `node bin/iommu-conformance.js serve ${args}`;
const BUDGET = { seed: 7, runs: 60, maxSteps: 30 };

async function family(adapterSpec: string, familyId: string, opts: { lockstep?: boolean; inProcess?: boolean } = {}) {
  const loaded = opts.inProcess ? await loadInProcessAdapter(adapterSpec, {}) : await loadAdapter(adapterSpec, {});
  const adapter = opts.lockstep ? lockstep(loaded) : loaded;
  try {
    const info = await adapter.hello();
    const { resolvePolicies } = await import('../spec/index.ts');
    return await runFamily(
      { adapter, profile: info.profile, policies: resolvePolicies(info.profile, info.policies), capabilities: info.capabilities ?? {}, topologies: info.topologies ?? 'any' },
      familyById(familyId)!,
      BUDGET,
    );
  } finally {
    await adapter.close?.();
  }
}

test('every op of the vocabulary is in the protocol document', () => {
  const doc = readFileSync('spec/protocol.md', 'utf8');
  for (const k of OP_KINDS) expect(doc, k).toContain(`| \`${k}\` |`);
  expect(doc).toContain(`version ${PROTOCOL_VERSION}`);
});

test('topologies survive the wire, page-size bitmaps as hex', () => {
  for (const t of ARM_TOPOLOGIES) {
    const wire = JSON.parse(JSON.stringify(encodeTopology(t))) as unknown;
    expect(decodeTopology(wire)).toEqual(t);
  }
  expect(JSON.stringify(encodeTopology(ARM_TOPOLOGIES[0]!))).toContain('"pgsizes":"0x40201000"');
  expect(() => decodeTopology({ iommus: [{ name: 'x' }], groups: [], devices: [] })).toThrow(WireError);
});

test('hello: the protocol version must match, capabilities must be known', () => {
  const ok = { protocol: PROTOCOL_VERSION, name: 'm', version: '1', profile: 'linux' };
  expect(decodeHello(ok).topologies).toBe('any');
  expect(() => decodeHello({ ...ok, protocol: 2 })).toThrow(/protocol 2, this suite speaks 1/);
  expect(() => decodeHello({ ...ok, capabilities: { teleport: true } })).toThrow(/unknown capability 'teleport'/);
  expect(() => decodeHello({ ...ok, capabilities: { leaves: 'yes' } })).toThrow(/expected true or false/);
});

test('lines: split across chunks, CRLF tolerated, an overlong line reported without buffering it', () => {
  const got: string[] = [];
  const over: number[] = [];
  const s = new LineSplitter((l) => got.push(l), (n) => over.push(n), 16);
  s.push(Buffer.from('{"id":1}\r\n{"id"'));
  s.push(Buffer.from(':2}\n'));
  s.push(Buffer.from('x'.repeat(20)));
  expect(got).toEqual(['{"id":1}', '{"id":2}']);
  expect(over).toEqual([20]);
  s.push(Buffer.from('ok\n'));
  expect(got[2]).toBe('ok');
});

test('a command that cannot run is a configuration error; one that answers its hello with garbage is a finding', async () => {
  await expect(new ProcessAdapter({ command: 'no-such-command-here' }).hello()).rejects.toThrow(ConfigError);
  await expect(new ProcessAdapter({ command: 'no-such-command-here' }).hello()).rejects.toThrow(/could not start \(exit code 127\).*not found/);
  const garbage = new ProcessAdapter({ command: 'echo hello; sleep 60' });
  await expect(garbage.hello()).rejects.toThrow(AdapterFault);
  await expect(new ProcessAdapter({ command: 'echo hello' }).hello()).rejects.toThrow(/stdout line is not JSON: "hello"/);
  await garbage.close();
});

test.each([
  ['builtin:reference', 'symmetric-unmap'],
  ['builtin:reference', 'sva'],
  ['builtin:reference --profile virtio-iommu', 'attach'],
])('%s served over stdio passes %s, pipelined and in lockstep alike', { timeout: hangGuardMs(2 * BUDGET.runs, 2) }, async (spec, fam) => {
  const piped = await family(`cmd:${serveCmd(`--adapter ${spec}`)}`, fam);
  const stepped = await family(`cmd:${serveCmd(`--adapter ${spec}`)}`, fam, { lockstep: true });
  expect(piped.findings).toEqual([]);
  expect(stepped.findings).toEqual([]);
  // The same sequences were checked, whichever way the requests travelled.
  expect(piped.coverage.steps).toBe(stepped.coverage.steps);
  expect(piped.coverage.toJSON()).toEqual(stepped.coverage.toJSON());
});

test('the Arm model over stdio under fault injection: its own allocation order diverges from the prediction, and nothing is misjudged', { timeout: hangGuardMs(2 * BUDGET.runs * 64, 1) }, async () => {
  const r = await family(`cmd:${serveCmd('--adapter builtin:arm-smmu')}`, 'fault-injection');
  const inProcess = await family('builtin:arm-smmu', 'fault-injection', { inProcess: true });
  expect(r.findings.map((f) => f.rule)).toEqual(inProcess.findings.map((f) => f.rule));
  expect(r.coverage.toJSON()).toEqual(inProcess.coverage.toJSON());
});
