// The host: loads one in-process adapter (a builtin or a module) and serves it over the stdio
// protocol, so the suite can supervise it as it supervises any process. stdout belongs to the
// protocol: what the adapter itself writes there (console.log, process.stdout) goes to stderr,
// where the suite keeps the last lines to explain a crash. A module that cannot be loaded is
// bad input: one line on stderr, exit status 2.

import { adapterText } from '../../spec/index.ts';
import { type AdapterOptions, loadInProcessAdapter } from '../adapters.ts';
import { serve } from './serve.ts';

const protocolOut = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

// Code that throws outside any request (a timer, a stray rejection) ends the process: say what
// it was in one line, since the suite quotes the last lines of stderr in the CRASH finding.
const die = (what: string) => (e: unknown) => {
  const err = e as Error;
  const frame = err?.stack?.split('\n').find((l) => l.trim().startsWith('at '))?.trim() ?? '';
  process.stderr.write(`[host] ${what}: ${adapterText(err?.message ?? String(e), 400, true)}${frame ? ` (${frame})` : ''}\n`);
  process.exit(70);
};
process.on('uncaughtException', die('uncaught exception outside any request'));
process.on('unhandledRejection', die('unhandled promise rejection outside any request'));

const [spec, optionsJson] = process.argv.slice(2);
let options: AdapterOptions = {};
try {
  options = JSON.parse(optionsJson ?? '{}') as AdapterOptions;
} catch {
  process.stderr.write('iommu-conformance host: usage: host.js <adapter spec> <options JSON>\n');
  process.exit(2);
}
let adapter;
try {
  adapter = await loadInProcessAdapter(spec ?? '', options);
} catch (e) {
  const err = e as Error;
  process.stderr.write(`iommu-conformance: ${err?.name === 'ConfigError' ? '' : 'the adapter module threw while loading: '}${adapterText(err?.message ?? String(e), 400, true)}\n`);
  process.exit(2);
}
await serve(adapter, process.stdin, { write: (text: string) => protocolOut(text) });
await adapter.close?.();
process.exit(0);
