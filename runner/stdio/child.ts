// The adapter's process: a user's command line run by /bin/sh, or an argv (the suite's own host
// for in-process adapters), in a process group of its own so that a kill reaches whatever it
// started. Keeps the last lines of its stderr, because that is what explains a crash.
//
// Nothing an adapter does may hang the suite, so the end of the process is its exit, not the
// end of its output: a grandchild that inherited stdout would otherwise keep us waiting forever.
// Every process an adapter starts carries a tag in its environment; whatever still carries it
// when the adapter is gone (a daemon that called setsid, an orphan holding the pipe) is killed.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { adapterText } from '../../spec/index.ts';
import { LineSplitter } from './lines.ts';
import { ADAPTER_TAG, reapTagged } from './reap.ts';

const STDERR_LINES = 12;
/** After the process exits, how long output already written may take to drain. */
const DRAIN_MS = 250;

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The suite ended it (timeout, breach, interrupt or close): not a crash. */
  killed: boolean;
}

export interface ChildEvents {
  line(line: string): void;
  overlong(bytes: number): void;
  /** stdout ended while the process lives on: it can never answer again. */
  eof(): void;
  exit(e: ChildExit): void;
}

/** A shell command line (the user's) or an argv run directly (the suite's own host). */
export type Launch = { command: string } | { argv: readonly string[] };

const live = new Set<AdapterChild>();
// A hung adapter ignores the end of its stdin; do not leave it behind when the suite exits.
process.once('exit', () => {
  for (const c of live) c.kill();
});

export class AdapterChild {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly stderrTail: string[] = [];
  private stderrPartial = '';
  private killedBySuite = false;
  private outgoing: string[] = [];
  private exited = false;
  private readonly tag = `${process.pid}-${randomBytes(6).toString('hex')}`;
  private readonly gone: Promise<void>;
  readonly started = Date.now();

  constructor(launch: Launch, events: ChildEvents, cwd?: string) {
    const [file, args] = 'command' in launch ? ['/bin/sh', ['-c', shellLine(launch.command)]] : [launch.argv[0]!, launch.argv.slice(1)];
    this.proc = spawn(file, args, { cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, [ADAPTER_TAG]: this.tag } });
    live.add(this);
    const lines = new LineSplitter((l) => this.alive && events.line(l), (n) => this.alive && events.overlong(n));
    let stdoutEnded = false;
    const drained = new Promise<void>((r) => this.proc.stdout.once('close', () => r()));
    this.proc.stdout.on('data', (b: Buffer) => lines.push(b));
    this.proc.stdout.once('end', () => {
      stdoutEnded = true;
      // Ended and the process lives on: it closed stdout and can never answer again. (A process
      // that is exiting closes stdout first; give its exit a moment to be the story.)
      setTimeout(() => {
        if (!this.exited && this.alive) events.eof();
      }, DRAIN_MS).unref();
    });
    this.proc.stderr.on('data', (b: Buffer) => this.keepStderr(b.toString('utf8')));
    // Writing to a dead child fails with EPIPE; the exit event already tells the story.
    this.proc.stdin.on('error', () => {});
    this.proc.stdout.on('error', () => {});
    this.proc.stderr.on('error', () => {});
    this.proc.on('error', (e) => this.keepStderr(`[suite] cannot start the adapter: ${e.message}\n`));
    this.gone = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exited = true;
        // Replies written just before the exit are still in the pipe: read them first, but do
        // not wait on a grandchild that holds stdout open.
        let finished = false;
        const finish = () => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          if (!stdoutEnded) this.proc.stdout.destroy();
          this.proc.stderr.destroy();
          this.cleanUp();
          live.delete(this);
          events.exit({ code, signal, killed: this.killedBySuite });
          resolve();
        };
        const timer = setTimeout(finish, DRAIN_MS);
        void drained.then(finish);
      });
    });
  }

  /** False from the moment the suite kills it, not only once the exit is seen. */
  get alive(): boolean {
    return !this.exited && !this.killedBySuite;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Queued, and written once per turn of the event loop: a reset and the case behind it go in one write. */
  write(text: string): void {
    if (this.outgoing.length === 0) queueMicrotask(() => this.flush());
    this.outgoing.push(text);
  }

  private flush(): void {
    const text = this.outgoing.join('');
    this.outgoing = [];
    if (this.alive && this.proc.stdin.writable) this.proc.stdin.write(text);
  }

  /** Ends stdin: a conforming adapter exits at EOF. */
  end(): void {
    this.flush();
    if (this.proc.stdin.writable) this.proc.stdin.end();
  }

  /** Kills the process, its group and everything else it started; its output is ignored from now on. */
  kill(): void {
    if (!this.killedBySuite) {
      this.killedBySuite = true;
      this.proc.stdout.removeAllListeners('data');
    }
    if (this.exited) return;
    this.cleanUp();
  }

  /** Resolves once the process is gone (ending stdin first; killing it after `ms`). */
  async stop(ms: number): Promise<void> {
    if (!this.exited) {
      this.end();
      const timer = setTimeout(() => this.kill(), ms);
      await this.gone;
      clearTimeout(timer);
    }
    // An adapter that exited cleanly may still have left children behind.
    this.cleanUp();
  }

  stderr(): string[] {
    const partial = this.stderrPartial.trim() ? [adapterText(this.stderrPartial, 300)] : [];
    return [...this.stderrTail, ...partial];
  }

  /** SIGKILL to the process group, then to every process that carries this adapter's tag. */
  private cleanUp(): void {
    try {
      process.kill(-this.proc.pid!, 'SIGKILL');
    } catch {
      // The group is empty already.
    }
    if (!this.exited) {
      try {
        this.proc.kill('SIGKILL');
      } catch {
        // Gone between the two.
      }
    }
    reapTagged(ADAPTER_TAG, this.tag);
  }

  private keepStderr(text: string): void {
    const parts = (this.stderrPartial + text).split('\n');
    this.stderrPartial = parts.pop()!.slice(-300);
    for (const p of parts.slice(-STDERR_LINES)) {
      this.stderrTail.push(adapterText(p, 300));
      if (this.stderrTail.length > STDERR_LINES) this.stderrTail.shift();
    }
  }
}

/**
 * A simple command (no list, pipeline, subshell or redirection of its own) is exec'd by the
 * shell, so the adapter is our child itself: its exit, its signal and the end of its stdout
 * reach us directly. (dash does not exec a lone command by itself; the shell would stay, holding
 * stdout open after the adapter closed it.)
 */
export function shellLine(command: string): string {
  return /[;&|()<>\n`]|^\s*(exec|cd|[A-Za-z_][A-Za-z0-9_]*=)/.test(command) ? command : `exec ${command}`;
}

/** "exit code 3", "signal SIGABRT", or the shell's 128+n spelling of a signal. */
export function describeExit(e: ChildExit): string {
  if (e.signal) return `killed by ${e.signal}`;
  if (e.code !== null && e.code > 128 && e.code < 128 + 65) {
    const name = Object.entries(constants.signals).find(([, n]) => n === e.code! - 128)?.[0];
    if (name) return `exit code ${e.code} (${name})`;
  }
  return `exit code ${e.code}`;
}
