// The adapter side of the stdio protocol for an in-process adapter: `iommu-conformance serve`
// and the suite's own host put any TypeScript adapter (a builtin, a module) behind
// stdin/stdout. It is the protocol's executable counterpart to spec/protocol.md, and lets a
// model be checked through the same transport a C or Rust model would use.
//
// An adapter that throws, or returns something that is not an outcome, gets a `fault` reply
// saying so: the suite reports ADAPTER-REPLY. Never an errno: that would be a legal answer the
// model did not give.

import {
  type Adapter, type Op, PROTOCOL_VERSION, WireError, decodeOp, decodeTopology, encodeOutcome, encodeTopology, isThenable, outcomeShapeProblem,
} from '../../spec/index.ts';
import { LineSplitter } from './lines.ts';

type Reply = Record<string, unknown>;

/** What a thrown value says, as one line. */
const thrown = (e: unknown) => `threw: ${e instanceof Error ? `${e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}` : String(e)}`;

/** The reply to one request: at once when the adapter answers synchronously, else a promise. */
function answer(adapter: Adapter, msg: Record<string, unknown>): Reply | Promise<Reply> {
  switch (msg.op) {
    case 'hello': {
      if (msg.protocol !== PROTOCOL_VERSION) return { err: 'EINVAL', msg: `this adapter speaks protocol ${PROTOCOL_VERSION}` };
      return then(adapter.hello(), (info) => {
        if (typeof info !== 'object' || info === null) return { fault: `hello returned ${String(info)}, not {name, version, profile, …}` };
        const topologies = info.topologies === undefined || info.topologies === 'any' ? 'any' : info.topologies.map(encodeTopology);
        return { ok: { protocol: PROTOCOL_VERSION, ...info, profile: info.profile ?? 'linux', topologies } };
      });
    }
    case 'reset':
      return then(adapter.reset(decodeTopology(msg.topology)), () => ({ ok: {} }));
    default: {
      const op: Op = decodeOp(msg);
      // The in-process contract (bigint where the wire has hex) is checked before encoding,
      // which would otherwise hide a number where a bigint belongs.
      return then(adapter.exec(op), (out) => {
        const problem = outcomeShapeProblem(op, out);
        return problem ? { fault: problem } : encodeOutcome(op, out);
      });
    }
  }
}

function then<T>(v: T | Promise<T>, f: (t: T) => Reply): Reply | Promise<Reply> {
  return isThenable(v) ? v.then(f) : f(v);
}

/** One reply line; whatever goes wrong is the adapter's fault, or a request the suite sent wrongly. */
function replyLine(adapter: Adapter, line: string): string | Promise<string> {
  let msg: Record<string, unknown>;
  try {
    msg = JSON.parse(line) as Record<string, unknown>;
  } catch (e) {
    return JSON.stringify({ id: null, err: 'EINVAL', msg: (e as Error).message });
  }
  const id = msg?.id ?? null;
  const failed = (e: unknown) => encode(id, e instanceof WireError ? { err: 'EINVAL', msg: e.message } : { fault: thrown(e) });
  try {
    const r = answer(adapter, msg);
    return isThenable(r) ? r.then((x) => encode(id, x), failed) : encode(id, r);
  } catch (e) {
    return failed(e);
  }
}

function encode(id: unknown, reply: Reply): string {
  try {
    return JSON.stringify({ id, ...reply });
  } catch (e) {
    return JSON.stringify({ id, fault: `the reply cannot be encoded: ${(e as Error).message}` });
  }
}

/**
 * Serves until stdin ends. Requests are answered in order; replies are written when no more
 * input is waiting (or before waiting on an asynchronous adapter), so a pipelined test case
 * costs one write, and a synchronous adapter costs no promise per request.
 */
export function serve(adapter: Adapter, input: NodeJS.ReadableStream, output: { write(text: string): unknown }): Promise<void> {
  let waiting: string[] = [];
  let replies: string[] = [];
  let busy = false;
  let ended = false;
  let done: () => void = () => {};
  const flush = () => {
    if (replies.length > 0) output.write(replies.join('\n') + '\n');
    replies = [];
  };
  const pump = async () => {
    if (busy) return;
    busy = true;
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      for (const line of batch) {
        const r = replyLine(adapter, line);
        if (typeof r === 'string') replies.push(r);
        else {
          flush();
          replies.push(await r);
        }
      }
    }
    flush();
    busy = false;
    if (ended) done();
  };
  const lines = new LineSplitter(
    (l) => {
      if (l.trim() !== '') waiting.push(l);
    },
    (n) => process.stderr.write(`serve: dropped an input line of ${n} bytes\n`),
  );
  input.on('data', (b: Buffer) => {
    lines.push(b);
    void pump();
  });
  return new Promise((resolve) => {
    done = resolve;
    input.on('end', () => {
      ended = true;
      if (!busy) resolve();
    });
  });
}
