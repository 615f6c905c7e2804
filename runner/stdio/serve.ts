// The adapter side of the stdio protocol for an in-process adapter: `iommu-conformance serve`
// puts any TypeScript adapter (a builtin, a module) behind stdin/stdout. It is the protocol's
// executable counterpart to spec/protocol.md, and lets a model be checked through the same
// transport a C or Rust model would use.

import {
  type Adapter, PROTOCOL_VERSION, WireError, decodeOp, decodeTopology, encodeOutcome, encodeTopology, isThenable,
} from '../../spec/index.ts';
import { LineSplitter } from './lines.ts';

type Reply = Record<string, unknown>;

async function answer(adapter: Adapter, msg: Record<string, unknown>): Promise<Reply> {
  switch (msg.op) {
    case 'hello': {
      const info = await adapter.hello();
      const topologies = info.topologies === undefined || info.topologies === 'any' ? 'any' : info.topologies.map(encodeTopology);
      return { ok: { protocol: PROTOCOL_VERSION, ...info, topologies } };
    }
    case 'reset':
      await adapter.reset(decodeTopology(msg.topology));
      return { ok: {} };
    default: {
      const op = decodeOp(msg);
      const out = adapter.exec(op);
      return encodeOutcome(op, isThenable(out) ? await out : out);
    }
  }
}

/** Serves until stdin ends. Replies are written in request order, one write per input chunk. */
export function serve(adapter: Adapter, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  let chain = Promise.resolve();
  let batch: string[] = [];
  const flush = () => {
    if (batch.length > 0) output.write(batch.join(''));
    batch = [];
  };
  const handle = async (line: string) => {
    let id: unknown = null;
    let reply: Reply;
    try {
      const msg = JSON.parse(line) as Record<string, unknown>;
      id = msg?.id ?? null;
      reply = await answer(adapter, msg);
    } catch (e) {
      const known = e instanceof WireError || e instanceof SyntaxError;
      reply = { err: 'EINVAL', msg: known ? (e as Error).message : `adapter threw: ${(e as Error).message}` };
    }
    batch.push(JSON.stringify({ id, ...reply }) + '\n');
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
