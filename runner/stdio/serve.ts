// The adapter side of the stdio protocol for an in-process adapter: `iommu-conformance serve`
// and the suite's own host put any TypeScript adapter (a builtin, a module) behind
// stdin/stdout. It is the protocol's executable counterpart to spec/protocol.md, and lets a
// model be checked through the same transport a C or Rust model would use.
//
// An adapter that throws, or returns something that is not an outcome, gets a `fault` reply
// saying so: the suite reports ADAPTER-REPLY. Never an errno: that would be a legal answer the
// model did not give.

import {
  type Adapter, type Op, PROTOCOL_VERSION, WireError, decodeOp, decodeTopology, encodeOutcome, encodeTopology, outcomeShapeProblem,
} from '../../spec/index.ts';
import { LineSplitter } from './lines.ts';

type Reply = Record<string, unknown>;

/** What a thrown value says, as one line. */
const thrown = (e: unknown) => `threw: ${e instanceof Error ? `${e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}` : String(e)}`;

async function answer(adapter: Adapter, msg: Record<string, unknown>): Promise<Reply> {
  switch (msg.op) {
    case 'hello': {
      if (msg.protocol !== PROTOCOL_VERSION) return { err: 'EINVAL', msg: `this adapter speaks protocol ${PROTOCOL_VERSION}` };
      const info = await adapter.hello();
      if (typeof info !== 'object' || info === null) return { fault: `hello returned ${String(info)}, not {name, version, profile, …}` };
      const topologies = info.topologies === undefined || info.topologies === 'any' ? 'any' : info.topologies.map(encodeTopology);
      return { ok: { protocol: PROTOCOL_VERSION, ...info, profile: info.profile ?? 'linux', topologies } };
    }
    case 'reset':
      await adapter.reset(decodeTopology(msg.topology));
      return { ok: {} };
    default: {
      const op: Op = decodeOp(msg);
      const out = await adapter.exec(op);
      // The in-process contract (bigint where the wire has hex) is checked before encoding,
      // which would otherwise hide a number where a bigint belongs.
      const problem = outcomeShapeProblem(op, out);
      return problem ? { fault: problem } : encodeOutcome(op, out);
    }
  }
}

/** Serves until stdin ends. Replies are written in request order, one write per input chunk. */
export function serve(adapter: Adapter, input: NodeJS.ReadableStream, output: { write(text: string): unknown }): Promise<void> {
  let chain = Promise.resolve();
  let batch: string[] = [];
  const flush = () => {
    if (batch.length > 0) output.write(batch.join(''));
    batch = [];
  };
  const handle = async (line: string) => {
    let id: unknown = null;
    let reply: Reply;
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
      id = msg?.id ?? null;
    } catch (e) {
      batch.push(JSON.stringify({ id, err: 'EINVAL', msg: (e as Error).message }) + '\n');
      return;
    }
    try {
      reply = await answer(adapter, msg);
    } catch (e) {
      // A request the suite sent wrongly is refused; anything the adapter threw is its fault.
      reply = e instanceof WireError ? { err: 'EINVAL', msg: e.message } : { fault: thrown(e) };
    }
    let text: string;
    try {
      text = JSON.stringify({ id, ...reply });
    } catch (e) {
      text = JSON.stringify({ id, fault: `the reply cannot be encoded: ${(e as Error).message}` });
    }
    batch.push(text + '\n');
  };
  const lines = new LineSplitter(
    (l) => {
      if (l.trim() !== '') chain = chain.then(() => handle(l));
    },
    (n) => process.stderr.write(`serve: dropped an input line of ${n} bytes\n`),
  );
  input.on('data', (b: Buffer) => {
    lines.push(b);
    chain = chain.then(flush);
  });
  return new Promise((resolve) => input.on('end', () => void chain.then(flush).then(resolve)));
}
