// The adapter's process: started through the shell (the user gave a command line), in its own
// process group so that a kill reaches whatever the shell started. Keeps the last lines of its
// stderr, because that is what explains a crash.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { constants } from 'node:os';
import { LineSplitter } from './lines.ts';

const STDERR_LINES = 12;

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The suite ended it (timeout, breach or close): not a crash. */
  killed: boolean;
}

export interface ChildEvents {
  line(line: string): void;
  overlong(bytes: number): void;
  exit(e: ChildExit): void;
}

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
  private exited = false;
  readonly started = Date.now();

  constructor(readonly command: string, events: ChildEvents, cwd?: string) {
    this.proc = spawn('/bin/sh', ['-c', command], { cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this);
    const lines = new LineSplitter((l) => events.line(l), (n) => events.overlong(n));
    this.proc.stdout.on('data', (b: Buffer) => lines.push(b));
    this.proc.stderr.on('data', (b: Buffer) => this.keepStderr(b.toString('utf8')));
    // Writing to a dead child fails with EPIPE; the exit event already tells the story.
    this.proc.stdin.on('error', () => {});
    this.proc.on('error', (e) => this.keepStderr(`[suite] cannot start the adapter: ${e.message}\n`));
    // 'close' comes after stdout is drained, so every reply the child wrote is seen first.
    this.proc.on('close', (code, signal) => {
      this.exited = true;
      live.delete(this);
      events.exit({ code, signal, killed: this.killedBySuite });
    });
  }

  /** False from the moment the suite kills it, not only once the exit is seen. */
  get alive(): boolean {
    return !this.exited && !this.killedBySuite;
  }

  write(text: string): void {
    if (!this.exited) this.proc.stdin.write(text);
  }

  /** Ends stdin: a conforming adapter exits at EOF. */
  end(): void {
    this.proc.stdin.end();
  }

  kill(): void {
    if (this.exited) return;
    this.killedBySuite = true;
    try {
      process.kill(-this.proc.pid!, 'SIGKILL');
    } catch {
      this.proc.kill('SIGKILL');
    }
  }

  /** Resolves once the process is gone (or after `ms`, killing it). */
  async stop(ms: number): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.proc.once('close', () => r()));
    this.end();
    const timer = setTimeout(() => this.kill(), ms);
    await gone;
    clearTimeout(timer);
  }

  stderr(): string[] {
    return this.stderrPartial ? [...this.stderrTail, this.stderrPartial] : [...this.stderrTail];
  }

  private keepStderr(text: string): void {
    const parts = (this.stderrPartial + text).split('\n');
    this.stderrPartial = parts.pop()!.slice(-300);
    for (const p of parts) {
      this.stderrTail.push(p.length > 300 ? p.slice(0, 300) + '…' : p);
      if (this.stderrTail.length > STDERR_LINES) this.stderrTail.shift();
    }
  }
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
