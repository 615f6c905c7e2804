#!/usr/bin/env node
// Entry point. The suite is TypeScript; tsx loads it (and users' .ts adapter modules) directly,
// so a fresh clone needs `npm ci` and nothing else.
// Loading the suite takes a moment (longer on a busy machine). A `run` stopped meanwhile must
// still stop cleanly and write its report, so the signal is kept for it; any other command ends.
const early = { signal: null };
const keep = (sig) => {
  if (process.argv[2] === 'run') early.signal ??= sig;
  else process.exit(sig === 'SIGINT' ? 130 : 143);
};
process.on('SIGINT', keep);
process.on('SIGTERM', keep);
const { register } = await import('tsx/esm/api');
register();
// `… | head` closes the pipe early; that is not an error worth a stack trace.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
const { main } = await import('../runner/cli.ts');
try {
  process.exitCode = await main(process.argv.slice(2), {
    // From here the command handles its own signals.
    takeEarlySignal: () => {
      process.off('SIGINT', keep);
      process.off('SIGTERM', keep);
      return early.signal;
    },
  });
} catch (e) {
  // Anything that reaches here is a bug in the suite itself, not bad input: say so in one line.
  console.error(`iommu-conformance: internal error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 3;
}
// The command is done and its output written: nothing left behind (a handle some library keeps,
// a child that ignores its stdin) may keep the process alive. stdout and stderr are synchronous
// for files and pipes on POSIX, so nothing printed is lost.
setTimeout(() => process.exit(), 500).unref();
