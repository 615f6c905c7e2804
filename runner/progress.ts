// What a long run shows while it runs: a progress bar on a terminal (cli-progress), a one-line
// status every few seconds anywhere else (CI logs), both on stderr so stdout stays the report.

import cliProgress from 'cli-progress';

export interface Progress {
  update(p: { sequences: number; findings: number }): void;
  stop(): void;
}

const STATUS_EVERY_MS = 5000;

/** `total` sequences, or a time budget in ms (then the bar is time). */
export function startProgress(budget: { sequences: number } | { timeMs: number }, stream: NodeJS.WriteStream = process.stderr, everyMs = STATUS_EVERY_MS): Progress {
  const started = Date.now();
  let last = { sequences: 0, findings: 0 };
  const fraction = () => ('timeMs' in budget ? (Date.now() - started) / budget.timeMs : last.sequences / budget.sequences);
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar({
      stream,
      format: ' {bar} {percentage}% | {sequences} sequences | {findings} finding(s) | {duration_formatted} elapsed, ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    }, cliProgress.Presets.shades_classic);
    bar.start(1000, 0, last);
    const tick = setInterval(() => bar.update(Math.min(1000, Math.round(fraction() * 1000)), last), 200);
    return {
      update: (p) => void (last = p),
      stop: () => {
        clearInterval(tick);
        bar.update(Math.min(1000, Math.round(fraction() * 1000)), last);
        bar.stop();
      },
    };
  }
  const tick = setInterval(() => {
    const pct = Math.min(100, fraction() * 100).toFixed(0);
    stream.write(`progress: ${last.sequences} sequences (${pct}%), ${last.findings} finding(s), ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  }, everyMs);
  return {
    update: (p) => void (last = p),
    stop: () => clearInterval(tick),
  };
}
