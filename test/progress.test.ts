// Away from a terminal (CI logs) a long run prints one status line every few seconds.

import { expect, test, vi } from 'vitest';
import { startProgress } from '../runner/progress.ts';

test('a non-TTY stream gets a status line per interval with sequences, share and findings', () => {
  vi.useFakeTimers();
  try {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    const p = startProgress({ sequences: 1000 }, stream, 5000);
    p.update({ sequences: 250, findings: 1 });
    vi.advanceTimersByTime(5000);
    p.update({ sequences: 500, findings: 2 });
    vi.advanceTimersByTime(5000);
    p.stop();
    vi.advanceTimersByTime(20000);
    expect(lines).toEqual(['progress: 250 sequences (25%), 1 finding(s), 5 s\n', 'progress: 500 sequences (50%), 2 finding(s), 10 s\n']);
  } finally {
    vi.useRealTimers();
  }
});
