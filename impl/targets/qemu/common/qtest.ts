// A qtest client. QEMU connects to a Unix socket we listen on (`-qtest unix:PATH`), reads one
// text command per line and answers each with one line, in order: `OK [value]`, or `FAIL …` /
// `ERR …`. Lines starting with `IRQ` are asynchronous and skipped. Every call is written at
// once (coalesced within a tick) and waits for its own reply, so calls made without awaiting
// in between are pipelined and cost a single round trip together.
//
// Nothing may hang: each reply has a deadline, after which QEMU is killed; a QEMU that dies
// fails every waiting call with its exit code or signal and the last lines it wrote on stderr.
//
// With a recorder (transcript.ts) every command is logged in send order, for a reproducer; a
// loop that waits for the device goes through `poll`, so it is logged once with its condition.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Label, type PollCondition, type Transcript, pollMet } from './transcript.ts';

export interface QtestOptions {
  binary: string;
  /** The command line, given the path of the socket QEMU is to connect to. */
  args: (qtestSocket: string) => string[];
  env: Record<string, string>;
  /** Longest wait for any one reply. */
  replyTimeoutMs?: number;
  /** Longest wait for QEMU to start and connect. */
  startTimeoutMs?: number;
  /** Records every command (a reproducer); none by default. */
  recorder?: Transcript;
}

export class QemuError extends Error {
  override name = 'QemuError';
}

interface Pending {
  line: string;
  resolve: (value: string) => void;
  reject: (e: Error) => void;
}

/** Lines of QEMU's output kept for error messages. */
const STDERR_LINES = 8;
/** Between rounds of a poll past its round count, waiting on the wall clock. */
const POLL_PAUSE_MS = 5;
/** Kills QEMU if this process dies first (Linux parent-death signal, util-linux setpriv). */
const SETPRIV = '/usr/bin/setpriv';

export class Qtest {
  private readonly pending: Pending[] = [];
  private outbox: string[] = [];
  private inbuf = '';
  private timer: NodeJS.Timeout | null = null;
  private deathCause: string | null = null;
  private readonly onProcessExit = () => this.child.kill('SIGKILL');
  /** Gets every command in send order while set (a reproducer being exported). */
  recorder: Transcript | null = null;

  private constructor(
    private readonly child: ChildProcess,
    private readonly socket: Socket,
    private readonly replyTimeoutMs: number,
    /** QEMU's last lines of output, kept by the collector start() attached. */
    private readonly stderrTail: string[],
  ) {
    socket.setEncoding('latin1');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', () => undefined); // the close or exit handler reports it
    // The connection usually closes just before the exit is seen; wait a little for the cause.
    socket.on('close', () => setTimeout(() => this.die('QEMU closed the qtest connection'), 300).unref());
    child.on('exit', (code, signal) => this.die(signal ? `QEMU was killed by ${signal}` : `QEMU exited with code ${code}`));
    process.once('exit', this.onProcessExit);
  }

  static async start(opts: QtestOptions): Promise<Qtest> {
    const dir = mkdtempSync(join(tmpdir(), 'qtest-'));
    const path = join(dir, 'qtest.sock');
    const server: Server = createServer();
    const stderrTail: string[] = [];
    try {
      await new Promise<void>((res, rej) => {
        server.once('error', rej);
        server.listen(path, res);
      });
      const [cmd, args] = existsSync(SETPRIV)
        ? [SETPRIV, ['--pdeathsig', 'KILL', '--', opts.binary, ...opts.args(path)]]
        : [opts.binary, opts.args(path)];
      const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      collectLines(child.stderr!, stderrTail);
      collectLines(child.stdout!, stderrTail);
      const socket = await new Promise<Socket>((res, rej) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          rej(new QemuError(`QEMU did not connect to the qtest socket within ${opts.startTimeoutMs ?? 20000} ms${tail(stderrTail)}`));
        }, opts.startTimeoutMs ?? 20000);
        child.once('error', (e) => {
          clearTimeout(timer);
          rej(new QemuError(`cannot start ${opts.binary}: ${e.message}`));
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          rej(new QemuError(`QEMU ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before connecting${tail(stderrTail)}`));
        });
        server.once('connection', (s) => {
          clearTimeout(timer);
          res(s);
        });
      });
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      const qt = new Qtest(child, socket, opts.replyTimeoutMs ?? 10000, stderrTail);
      if (opts.recorder) {
        opts.recorder.qemuArgs = withoutQtestSocket(opts.args(path));
        qt.recorder = opts.recorder;
      }
      return qt;
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  get alive(): boolean {
    return this.deathCause === null;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last lines QEMU wrote on stderr or stdout (device warnings, guest-error reports). */
  get recentOutput(): readonly string[] {
    return this.stderrTail;
  }

  /** Sends one command; resolves with what follows `OK` in the reply. A label marks a read that classifies an op. */
  cmd(line: string, label?: Label): Promise<string> {
    this.recorder?.command(line, label);
    return this.send(line);
  }

  /** One command, unrecorded (a poll records itself). */
  private send(line: string): Promise<string> {
    if (this.deathCause !== null) return Promise.reject(new QemuError(`${this.deathCause}; cannot send '${line}'${tail(this.stderrTail)}`));
    return new Promise<string>((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      if (this.outbox.length === 0) queueMicrotask(() => this.flush());
      this.outbox.push(`${line}\n`);
      if (this.timer === null) this.arm();
    });
  }

  /** Several commands in one round trip. */
  batch(lines: readonly string[]): Promise<string[]> {
    return Promise.all(lines.map((l) => this.cmd(l)));
  }

  /**
   * Sends `lines` again and again until their replies meet one of the conditions; gives up after
   * `max` rounds and, when `floorMs` is given, not before that many milliseconds (a device timer
   * runs late on a loaded machine, whatever the round count; the script runner does the same).
   * The last replies, or null if none met them. Recorded as one poll, whatever the count.
   */
  async poll(lines: readonly string[], until: readonly PollCondition[], max: number, floorMs = 0): Promise<string[] | null> {
    this.recorder?.poll(lines, until, max);
    const started = Date.now();
    for (let round = 1; ; round++) {
      const replies = await Promise.all(lines.map((l) => this.send(l)));
      if (pollMet(replies, until)) return replies;
      if (round < max) continue;
      if (Date.now() - started >= floorMs || !this.alive) return null;
      await new Promise((res) => setTimeout(res, POLL_PAUSE_MS));
    }
  }

  async close(): Promise<void> {
    process.removeListener('exit', this.onProcessExit);
    if (this.deathCause !== null) return;
    const exited = new Promise<void>((res) => this.child.once('exit', () => res()));
    this.deathCause = 'closed';
    this.socket.destroy();
    this.child.kill('SIGTERM');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(killer);
  }

  private flush(): void {
    if (this.outbox.length === 0 || this.deathCause !== null) return;
    const data = this.outbox.join('');
    this.outbox = [];
    this.socket.write(data, 'latin1');
  }

  private arm(): void {
    const head = this.pending[0];
    if (!head) return;
    this.timer = setTimeout(() => {
      this.child.kill('SIGKILL');
      this.die(`QEMU gave no reply to '${head.line}' within ${this.replyTimeoutMs} ms and was killed`);
    }, this.replyTimeoutMs);
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private receive(chunk: string): void {
    this.inbuf += chunk;
    let nl: number;
    while ((nl = this.inbuf.indexOf('\n')) >= 0) {
      const line = this.inbuf.slice(0, nl);
      this.inbuf = this.inbuf.slice(nl + 1);
      if (line.startsWith('IRQ')) continue;
      const p = this.pending.shift();
      if (!p) continue; // nothing asked: not a reply
      this.disarm();
      this.arm();
      if (line === 'OK') p.resolve('');
      else if (line.startsWith('OK ')) p.resolve(line.slice(3));
      else p.reject(new QemuError(`qtest refused '${p.line}': ${line}`));
    }
  }

  private die(cause: string): void {
    if (this.deathCause !== null) return;
    this.deathCause = cause;
    this.disarm();
    process.removeListener('exit', this.onProcessExit);
    const err = new QemuError(`${cause}${tail(this.stderrTail)}`);
    for (const p of this.pending.splice(0)) p.reject(err);
    this.socket.destroy();
  }
}

/** The command line as a reproducer gives it: its runner adds `-qtest stdio` itself. */
function withoutQtestSocket(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-qtest') i++;
    else out.push(args[i]!);
  }
  return out;
}

function collectLines(stream: NodeJS.ReadableStream, into: string[]): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      if (l.trim() === '') continue;
      into.push(l);
      if (into.length > STDERR_LINES) into.shift();
    }
  });
}

function tail(lines: readonly string[]): string {
  return lines.length === 0 ? '' : `; QEMU's last output: ${lines.join(' | ')}`;
}
