// An adapter in another process, spoken to over the stdio protocol (spec/protocol.md). It looks
// like any in-process adapter to the checker; everything that can go wrong with a process —
// malformed or out-of-order replies, stray output, silence, death — becomes an AdapterFault
// that the checker reports as a finding, and the next test case gets a fresh process.

import {
  type Adapter, AdapterFault, type AdapterInfo, ConfigError, type Op, type Outcome, PROTOCOL_VERSION, type Topology,
  WireError, decodeHello, decodeOutcome, encodeOp, encodeTopology,
} from '../../spec/index.ts';
import { AdapterChild, type ChildExit, describeExit } from './child.ts';

export interface ProcessAdapterOptions {
  /** The command line; run by /bin/sh so it may use quoting, variables and redirections. */
  command: string;
  /** Longest wait for any one reply, counted from when it became the oldest outstanding. */
  requestTimeoutMs?: number;
  /** Longest a whole test case (reset to last reply) may take. */
  caseTimeoutMs?: number;
  cwd?: string;
}

interface Pending {
  id: number;
  what: string;
  decode(body: Record<string, unknown>): unknown;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

const excerpt = (s: string) => (s.length > 120 ? JSON.stringify(s.slice(0, 120)) + '…' : JSON.stringify(s));

export class ProcessAdapter implements Adapter {
  private child: AdapterChild | null = null;
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private lastAnswered = -1;
  private info: AdapterInfo | null = null;
  private timer: NodeJS.Timeout | null = null;
  private caseDeadline = Infinity;
  /** A breach noticed when no request was outstanding: the next request reports it. */
  private latent: AdapterFault | null = null;
  private readonly requestTimeoutMs: number;
  private readonly caseTimeoutMs: number;

  constructor(private readonly opts: ProcessAdapterOptions) {
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.caseTimeoutMs = opts.caseTimeoutMs ?? 120_000;
  }

  /** Starts the process and checks it speaks our protocol; a failure here is a configuration error. */
  async hello(): Promise<AdapterInfo> {
    if (this.info) return this.info;
    try {
      this.info = await this.start();
    } catch (e) {
      this.child?.kill();
      const why = e instanceof AdapterFault || e instanceof WireError ? e.message : String(e);
      throw new ConfigError(`adapter command \`${this.opts.command}\` failed its hello: ${why}`);
    }
    return this.info;
  }

  /** Queued at once (after a fresh process's hello), so ops pipelined behind it keep their order. */
  reset(topology: Topology): Promise<void> {
    this.caseDeadline = Infinity;
    try {
      this.reportLatent();
    } catch (e) {
      return Promise.reject(e);
    }
    const started = this.child?.alive ? null : this.start();
    this.caseDeadline = Date.now() + this.caseTimeoutMs;
    const reset = this.request({ op: 'reset', topology: encodeTopology(topology) }, 'reset', () => undefined);
    return Promise.all([started, reset]).then(() => undefined);
  }

  exec(op: Op): Promise<Outcome> {
    return this.pipeline([op])[0]!;
  }

  pipeline(ops: readonly Op[]): Promise<Outcome>[] {
    this.reportLatent();
    const lines: string[] = [];
    const out = ops.map((op) => this.enqueue(op.op, (body) => decodeOutcome(op, body), (id) => lines.push(JSON.stringify({ id, ...encodeOp(op) }))) as Promise<Outcome>);
    this.child?.write(lines.join('\n') + '\n');
    return out;
  }

  async close(): Promise<void> {
    this.clearTimer();
    await this.child?.stop(2000);
    this.child = null;
  }

  /** Spawns a fresh process and queues its hello; the promise settles with the hello reply. */
  private start(): Promise<AdapterInfo> {
    this.child?.kill();
    const child = new AdapterChild(this.opts.command, {
      line: (l) => this.onLine(child, l),
      overlong: (n) => this.breach(child, `a stdout line exceeded ${n} bytes without a newline`),
      exit: (e) => this.onExit(child, e),
    }, this.opts.cwd);
    this.child = child;
    return this.request({ op: 'hello', protocol: PROTOCOL_VERSION }, 'hello', (b) => {
      if (!('ok' in b)) throw new WireError(`hello refused: ${JSON.stringify(b)}`);
      return decodeHello(b.ok);
    }) as Promise<AdapterInfo>;
  }

  private request(body: Record<string, unknown>, what: string, decode: Pending['decode']): Promise<unknown> {
    let line = '';
    const p = this.enqueue(what, decode, (id) => (line = JSON.stringify({ id, ...body })));
    this.child?.write(line + '\n');
    return p;
  }

  private enqueue(what: string, decode: Pending['decode'], render: (id: number) => void): Promise<unknown> {
    const id = this.nextId++;
    render(id);
    return new Promise((resolve, reject) => {
      if (!this.child?.alive) {
        reject(new AdapterFault('ADAPTER-CRASH', `the adapter process is not running (request #${id}, ${what})`));
        return;
      }
      this.queue.push({ id, what, decode, resolve, reject });
      if (this.queue.length === 1) this.armTimer();
    });
  }

  private onLine(child: AdapterChild, line: string): void {
    if (child !== this.child) return;
    if (line.trim() === '') return; // blank lines carry nothing; tolerated
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return this.breach(child, `stdout line is not JSON: ${excerpt(line)}`);
    }
    const id = (msg as { id?: unknown } | null)?.id;
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg) || typeof id !== 'number' || !Number.isSafeInteger(id)) {
      return this.breach(child, `stdout line is not a reply with a numeric id: ${excerpt(line)}`);
    }
    const head = this.queue[0];
    if (!head) return this.breach(child, `unsolicited reply ${excerpt(line)}: no request is outstanding`);
    if (id !== head.id) {
      const why = id <= this.lastAnswered ? `a second reply to request #${id}` : id >= this.nextId ? `a reply to request #${id}, which was never sent` : `reply #${id} before reply #${head.id} (replies must come in request order)`;
      return this.breach(child, `${why}: ${excerpt(line)}`);
    }
    this.queue.shift();
    this.lastAnswered = id;
    this.armTimer();
    try {
      head.resolve(head.decode(msg as Record<string, unknown>));
    } catch (e) {
      head.reject(new AdapterFault('ADAPTER-REPLY', `reply #${id} (${head.what}): ${(e as Error).message}`));
    }
  }

  private onExit(child: AdapterChild, e: ChildExit): void {
    if (child !== this.child) return;
    if (e.killed) {
      // Whatever caused the kill was reported; nothing may wait on this process any more.
      if (this.queue.length > 0) this.fail(new AdapterFault('ADAPTER-CRASH', 'the adapter process was stopped by the suite'));
      return;
    }
    const lastWords = child.stderr().filter((l) => l.trim() !== '').slice(-4);
    const stderr = lastWords.length > 0 ? `; stderr: ${lastWords.join(' | ')}` : '';
    const when = this.queue[0] ? `with request #${this.queue[0].id} (${this.queue[0].what}) unanswered` : 'between requests';
    this.fail(new AdapterFault('ADAPTER-CRASH', `the adapter process died (${describeExit(e)}) ${when}${stderr}`));
  }

  /** The stream can no longer be trusted: fail what is outstanding and start afresh next case. */
  private breach(child: AdapterChild, message: string): void {
    child.kill();
    this.fail(new AdapterFault('ADAPTER-REPLY', message));
  }

  private fail(fault: AdapterFault): void {
    this.clearTimer();
    const pending = this.queue.splice(0);
    if (pending.length === 0) this.latent ??= fault;
    for (const p of pending) p.reject(fault);
  }

  private reportLatent(): void {
    const f = this.latent;
    this.latent = null;
    if (f) throw f;
  }

  private armTimer(): void {
    this.clearTimer();
    const head = this.queue[0];
    if (!head) return;
    const wait = Math.max(0, Math.min(this.requestTimeoutMs, this.caseDeadline - Date.now()));
    const caseBound = this.caseDeadline - Date.now() < this.requestTimeoutMs;
    this.timer = setTimeout(() => {
      const limit = caseBound ? `the test case's ${this.caseTimeoutMs} ms` : `${this.requestTimeoutMs} ms`;
      this.child?.kill();
      this.fail(new AdapterFault('ADAPTER-TIMEOUT', `no reply to request #${head.id} (${head.what}) within ${limit}`));
    }, wait);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
