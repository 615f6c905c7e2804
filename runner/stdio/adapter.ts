// An adapter in another process, spoken to over the stdio protocol (spec/protocol.md): a user's
// command line (`--adapter-cmd`), or the suite's own host running an in-process adapter module
// (host.ts). It looks like any in-process adapter to the checker; everything that can go wrong
// with a process — malformed or out-of-order replies, stray output, silence, death, a closed
// stdout — becomes an AdapterFault that the checker reports as a finding, and the next test case
// gets a fresh process.

import {
  type Adapter, AdapterFault, type AdapterInfo, ConfigError, type Op, type Outcome, PROTOCOL_VERSION, RunInterrupted, type SentLog, type Topology,
  WireError, adapterText, decodeHello, decodeOutcome, encodeOp, encodeTopology,
} from '../../spec/index.ts';
import { AdapterChild, type ChildExit, type Launch, describeExit } from './child.ts';

export interface ProcessAdapterOptions {
  /** The command line; run by /bin/sh so it may use quoting, variables and redirections. */
  command?: string;
  /** Or a program and its arguments, run directly (the suite's own host). */
  argv?: readonly string[];
  /** How messages name the adapter (default: the command line). */
  describe?: string;
  /** Longest wait for any one reply, counted from when it became the oldest outstanding. */
  requestTimeoutMs?: number;
  /** Longest a whole test case (reset to last reply) may take. */
  caseTimeoutMs?: number;
  /** Longest wait for the hello reply of a fresh process (it may load a model, boot an emulator). */
  helloTimeoutMs?: number;
  cwd?: string;
}

export const DEFAULT_TIMEOUTS = { requestMs: 10_000, caseMs: 120_000, helloMs: 60_000 } as const;

/** Ops of a process's life kept for replaying a crash (oldest cases dropped beyond): ~100 bytes each. */
export const MAX_SENT_OPS = 200_000;


interface Pending {
  id: number;
  what: string;
  timeoutMs: number;
  /** Counts against the test case's deadline (everything but a fresh process's hello). */
  inCase: boolean;
  decode(body: Record<string, unknown>): unknown;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

const excerpt = (s: string) => JSON.stringify(adapterText(s, 120));

/** Exit statuses during the hello that mean the command could not be run at all (sh: not found,
 * not executable; the suite's host: the module cannot be loaded): bad input, not a finding. */
const CANNOT_START = new Set([2, 126, 127]);

export class ProcessAdapter implements Adapter {
  private child: AdapterChild | null = null;
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private lastAnswered = -1;
  private info: AdapterInfo | null = null;
  private timer: NodeJS.Timeout | null = null;
  private caseDeadline = Infinity;
  /** Requests written while a fresh process's hello is outstanding (see send). */
  private held: string[] | null = null;
  /** A breach noticed when no request was outstanding: the next request reports it. */
  private latent: AdapterFault | null = null;
  /** Every case the current process was sent (see SentLog), and how many ops that is. */
  private sentLog: SentLog['cases'] = [];
  private sentOps = 0;
  private sentDropped = 0;
  private readonly launch: Launch;
  private readonly requestTimeoutMs: number;
  private readonly caseTimeoutMs: number;
  private readonly helloTimeoutMs: number;
  readonly describe: string;

  constructor(private readonly opts: ProcessAdapterOptions) {
    if (opts.argv) this.launch = { argv: opts.argv };
    else if (opts.command !== undefined) this.launch = { command: opts.command };
    else throw new ConfigError('a process adapter needs a command or an argv');
    this.describe = opts.describe ?? `adapter command \`${opts.command ?? opts.argv!.join(' ')}\``;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_TIMEOUTS.requestMs;
    this.caseTimeoutMs = opts.caseTimeoutMs ?? DEFAULT_TIMEOUTS.caseMs;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? DEFAULT_TIMEOUTS.helloMs;
  }

  /**
   * Starts the process and checks it speaks our protocol. A command that cannot run or speaks
   * another protocol version is a ConfigError; an adapter that answers its hello wrongly, dies
   * or hangs in it throws the AdapterFault (a finding: no test can run).
   */
  async hello(): Promise<AdapterInfo> {
    if (this.info) return this.info;
    try {
      this.info = await this.start();
    } catch (e) {
      this.child?.kill();
      if (e instanceof ConfigError || e instanceof AdapterFault || e instanceof RunInterrupted) throw e;
      throw new AdapterFault('ADAPTER-REPLY', `hello: ${adapterText((e as Error).message)}`);
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
    started?.catch(() => {});
    this.caseDeadline = Date.now() + this.caseTimeoutMs;
    this.sentLog.push({ topology, ops: [] });
    const reset = this.request({ op: 'reset', topology: encodeTopology(topology) }, 'reset', () => undefined);
    return Promise.all([started, reset]).then(() => undefined);
  }

  exec(op: Op): Promise<Outcome> {
    return this.pipeline([op])[0]!;
  }

  pipeline(ops: readonly Op[]): Promise<Outcome>[] {
    this.reportLatent();
    const lines: string[] = [];
    const out = ops.map((op) => this.enqueue(op.op, (body) => decodeOutcome(op, body), (id) => {
      lines.push(JSON.stringify({ id, ...encodeOp(op) }));
      this.logSent(op);
    }) as Promise<Outcome>);
    this.send(lines.join('\n') + '\n');
    return out;
  }

  interrupt(): void {
    this.caseDeadline = Infinity;
    if (this.queue.length === 0) return;
    // Whatever the process is doing, nobody will read it: the next case starts a fresh one.
    this.child?.kill();
    this.fail(new RunInterrupted());
  }

  restart(): void {
    this.child?.kill();
  }

  async close(): Promise<void> {
    this.clearTimer();
    const child = this.child;
    this.child = null;
    await child?.stop(2000);
  }

  /** Spawns a fresh process and queues its hello; the promise settles with the hello reply. */
  private start(): Promise<AdapterInfo> {
    this.child?.kill();
    // Replies the old process still owed (a case abandoned mid-flight) will never come: nobody
    // waits for them any more, and the new process's replies must not queue behind them.
    if (this.queue.length > 0) this.fail(new AdapterFault('ADAPTER-CRASH', 'the adapter process was stopped by the suite'));
    this.latent = null;
    this.sentLog = [];
    this.sentOps = 0;
    this.sentDropped = 0;
    const child: AdapterChild = new AdapterChild(this.launch, {
      line: (l) => this.onLine(child, l),
      overlong: (n) => child === this.child && this.breach(child, `a stdout line exceeded ${n} bytes without a newline`),
      eof: () => {
        if (child !== this.child) return;
        child.kill();
        this.failWithLog(new AdapterFault('ADAPTER-CRASH', `the adapter closed its stdout while still running${this.queue[0] ? ` (request #${this.queue[0].id}, ${this.queue[0].what}, unanswered)` : ''}: it can never answer again`));
      },
      exit: (e) => this.onExit(child, e),
    }, this.opts.cwd);
    this.child = child;
    const held: string[] = [];
    this.held = held;
    const hello = this.request({ op: 'hello', protocol: PROTOCOL_VERSION }, 'hello', (b) => {
      if (!('ok' in b)) throw new WireError(`hello refused: ${excerpt(JSON.stringify(b))}`);
      const speaks = (b.ok as { protocol?: unknown } | null)?.protocol;
      if (speaks !== PROTOCOL_VERSION) throw new ConfigError(`${this.describe} speaks protocol ${adapterText(JSON.stringify(speaks ?? null), 40)}, this suite speaks ${PROTOCOL_VERSION}`);
      return decodeHello(b.ok);
    }) as Promise<AdapterInfo>;
    const release = () => {
      if (this.held !== held) return;
      this.held = null;
      if (child === this.child && held.length > 0) child.write(held.join(''));
    };
    hello.then(release, release);
    return hello;
  }

  private request(body: Record<string, unknown>, what: string, decode: Pending['decode']): Promise<unknown> {
    let line = '';
    const p = this.enqueue(what, decode, (id) => (line = JSON.stringify({ id, ...body })));
    if (what === 'hello') this.child?.write(line + '\n');
    else this.send(line + '\n');
    return p;
  }

  /**
   * Requests wait until a fresh process has answered its hello: an adapter that writes its
   * replies only when input is idle would otherwise hold the hello reply behind a case that
   * hangs, and the hello's own (long) timeout would be spent on the case.
   */
  private send(text: string): void {
    if (this.held) this.held.push(text);
    else this.child?.write(text);
  }

  private enqueue(what: string, decode: Pending['decode'], render: (id: number) => void): Promise<unknown> {
    const id = this.nextId++;
    render(id);
    const hello = what === 'hello';
    return new Promise((resolve, reject) => {
      if (!this.child?.alive) {
        reject(new AdapterFault('ADAPTER-CRASH', `the adapter process is not running (request #${id}, ${what})`));
        return;
      }
      this.queue.push({ id, what, decode, resolve, reject, timeoutMs: hello ? this.helloTimeoutMs : this.requestTimeoutMs, inCase: !hello });
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
      return this.breach(child, `stdout line is not a reply with an integer id: ${excerpt(line)}`);
    }
    const head = this.queue[0];
    if (id !== head?.id) {
      const why = id <= this.lastAnswered ? `a second reply to request #${id}` : id >= this.nextId ? `a reply to request #${id}, which was never sent` : `reply #${id} before reply #${head!.id} (replies must come in request order)`;
      return this.breach(child, `${why}: ${excerpt(line)}${head ? '' : ' (no request is outstanding)'}`);
    }
    this.queue.shift();
    this.lastAnswered = id;
    if (!head) return;
    this.armTimer();
    const body = msg as Record<string, unknown>;
    // The adapter says it could not answer (an in-process model threw): a broken reply, but the
    // stream is still in step, so the process is kept.
    if ('fault' in body) {
      head.reject(new AdapterFault('ADAPTER-REPLY', typeof body.fault === 'string' ? adapterText(body.fault) : `reply #${id} (${head.what}): fault must be a string`));
      return;
    }
    try {
      head.resolve(head.decode(body));
    } catch (e) {
      if (e instanceof ConfigError) return head.reject(e);
      head.reject(new AdapterFault('ADAPTER-REPLY', `reply #${id} (${head.what}): ${adapterText((e as Error).message)}`));
    }
  }

  private onExit(child: AdapterChild, e: ChildExit): void {
    if (child !== this.child) return;
    const head = this.queue[0];
    if (e.killed) {
      // Whatever caused the kill was reported; nothing may wait on this process any more.
      if (head) this.fail(new AdapterFault('ADAPTER-CRASH', 'the adapter process was stopped by the suite'));
      return;
    }
    const lastWords = child.stderr().filter((l) => l.trim() !== '').slice(-4);
    const stderr = lastWords.length > 0 ? `; stderr: ${lastWords.join(' | ')}` : '';
    if (head?.what === 'hello' && e.code !== null && CANNOT_START.has(e.code)) {
      this.fail(new ConfigError(`${this.describe} could not start (${describeExit(e)})${stderr}`));
      return;
    }
    const when = head ? `with request #${head.id} (${head.what}) unanswered` : 'between requests';
    this.failWithLog(new AdapterFault('ADAPTER-CRASH', `the adapter process died (${describeExit(e)}) ${when}${stderr}`));
  }

  /** The stream can no longer be trusted: fail what is outstanding and start afresh next case. */
  private breach(child: AdapterChild, message: string): void {
    child.kill();
    this.fail(new AdapterFault('ADAPTER-REPLY', message));
  }

  /**
   * A process that died or hung: the fault carries all it was sent. Not only up to the oldest
   * unanswered request: a process that buffers its replies dies with earlier ones unwritten.
   */
  private failWithLog(fault: AdapterFault): void {
    fault.sent = { cases: this.sentLog.map((c) => ({ topology: c.topology, ops: [...c.ops] })), dropped: this.sentDropped };
    this.fail(fault);
  }

  private logSent(op: Op): void {
    const c = this.sentLog.at(-1);
    if (!c) return;
    c.ops.push(op);
    // Bounded: the oldest cases go first, never the one being sent.
    if (++this.sentOps > MAX_SENT_OPS && this.sentLog.length > 1) {
      this.sentOps -= this.sentLog.shift()!.ops.length;
      this.sentDropped++;
    }
  }

  private fail(fault: Error): void {
    this.clearTimer();
    const pending = this.queue.splice(0);
    if (pending.length === 0 && fault instanceof AdapterFault) this.latent ??= fault;
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
    const caseLeft = head.inCase ? this.caseDeadline - Date.now() : Infinity;
    const wait = Math.max(0, Math.min(head.timeoutMs, caseLeft));
    const caseBound = caseLeft < head.timeoutMs;
    this.timer = setTimeout(() => {
      const limit = caseBound ? `the test case's ${this.caseTimeoutMs} ms` : `${head.timeoutMs} ms`;
      this.child?.kill();
      this.failWithLog(new AdapterFault('ADAPTER-TIMEOUT', `no reply to request #${head.id} (${head.what}) within ${limit}`));
    }, wait);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
