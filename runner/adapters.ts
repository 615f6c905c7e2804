// Where adapters come from: bundled ones by name (`builtin:reference`, see builtins.ts), a user's
// module by path (its default export is a factory), or a command line (`cmd:`). For a run, every
// one of them is put in a process of its own behind the stdio protocol; loadInProcessAdapter is
// the object itself, for the host process and for library use. Anything else is bad input.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Adapter, ConfigError, adapterText } from '../spec/index.ts';
import { ProcessAdapter } from './stdio/adapter.ts';

export interface AdapterOptions {
  profile?: string;
  policies?: Record<string, string>;
  /** Per-reply, per-test-case and hello timeouts (every adapter runs in a process of its own). */
  requestTimeoutMs?: number;
  caseTimeoutMs?: number;
  helloTimeoutMs?: number;
  /** Process adapters: one request at a time (to tell a pipelining bug from a model bug). */
  lockstep?: boolean;
}

/** The spec of a process adapter: this prefix, then the command line. */
export const PROCESS_PREFIX = 'cmd:';

/** The same adapter without `pipeline`: the checker then waits for each reply before the next op. */
export function lockstep(a: Adapter): Adapter {
  return {
    hello: () => a.hello(), reset: (t) => a.reset(t), exec: (op) => a.exec(op), close: () => a.close?.(),
    ...(a.interrupt ? { interrupt: () => a.interrupt!() } : {}),
    ...(a.restart ? { restart: () => a.restart!() } : {}),
  };
}

function isAdapter(x: unknown): x is Adapter {
  const a = x as Record<string, unknown> | null;
  return !!a && typeof a.hello === 'function' && typeof a.reset === 'function' && typeof a.exec === 'function';
}

/** The entry of the process an in-process adapter is run in (see stdio/host.ts). */
const HOST_ENTRY = fileURLToPath(new URL('./stdio/host.js', import.meta.url));

/**
 * The adapter a run talks to. A process adapter (`cmd:`) is its command line; a builtin or a
 * module is loaded in a process of its own (the suite's host, speaking the same protocol), so
 * that nothing it does — an endless loop, a promise that never settles, process.exit, a crash —
 * can hang or end the suite: it is timed out, killed and restarted like any process.
 */
export async function loadAdapter(spec: string, opts: AdapterOptions): Promise<Adapter> {
  const timeouts = { requestTimeoutMs: opts.requestTimeoutMs, caseTimeoutMs: opts.caseTimeoutMs, helloTimeoutMs: opts.helloTimeoutMs };
  let p: ProcessAdapter;
  if (spec.startsWith(PROCESS_PREFIX)) {
    p = new ProcessAdapter({ command: spec.slice(PROCESS_PREFIX.length), ...timeouts });
  } else {
    // Bad input is found here, in one line, before any process starts: a builtin is made once
    // (its options are checked), a module path must exist. A module is never loaded here.
    if (spec.startsWith('builtin:')) await loadInProcessAdapter(spec, opts);
    else if (!existsSync(resolve(spec))) throw new ConfigError(`adapter module not found: ${spec}`);
    const hostOptions = { profile: opts.profile, policies: opts.policies, requestTimeoutMs: opts.requestTimeoutMs };
    p = new ProcessAdapter({
      argv: [process.execPath, HOST_ENTRY, spec.startsWith('builtin:') ? spec : resolve(spec), JSON.stringify(hostOptions)],
      describe: `adapter ${spec}`, ...timeouts,
    });
  }
  return opts.lockstep ? lockstep(p) : p;
}

/** The factory a module exports: `default` (ES module or, through CommonJS interop, `default.default`) or `createAdapter`. */
function factoryOf(mod: Record<string, unknown>): unknown {
  const d = mod.default as Record<string, unknown> | undefined;
  if (typeof d === 'function') return d;
  if (d && typeof d.default === 'function') return d.default;
  return mod.createAdapter ?? d?.createAdapter;
}

/** What a loader error says, location included (a syntax error's file:line:column). */
function loadError(e: unknown): string {
  const lines = String((e as Error)?.message ?? e).split('\n').map((l) => l.trim()).filter(Boolean);
  const where = lines.find((l) => /:\d+:\d+/.test(l));
  return adapterText(where && where !== lines[0] ? `${lines[0]} ${where}` : lines[0] ?? 'unknown error', 400, true);
}

/** Whether Node takes this file for an ES module: .mts/.mjs, or the nearest package.json says "type": "module". */
function esmScope(path: string): boolean {
  if (/\.m[jt]s$/.test(path)) return true;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }).type === 'module';
      } catch {
        return false;
      }
    }
    if (dirname(dir) === dir) return false;
  }
}

/**
 * A TypeScript module outside any package with "type": "module" is taken for CommonJS by the
 * loader and cannot be required from an ES module graph ("Cannot require() ES Module … in a
 * cycle"); tsx's isolated import takes it as written.
 */
async function importModule(path: string): Promise<Record<string, unknown>> {
  if (!esmScope(path)) {
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
  }
  return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
}

/** The adapter object itself, in this process: for the host, and for library use and tests. */
export async function loadInProcessAdapter(spec: string, opts: AdapterOptions): Promise<Adapter> {
  if (spec.startsWith(PROCESS_PREFIX)) throw new ConfigError(`${spec}: a process adapter cannot be loaded in process`);
  // Loaded only when asked for: the host of a user's module starts without the bundled models.
  if (spec.startsWith('builtin:')) return (await import('./builtins.ts')).createBuiltin(spec.slice('builtin:'.length), opts);
  const path = resolve(spec);
  if (!existsSync(path)) throw new ConfigError(`adapter module not found: ${spec}`);
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(path);
  } catch (e) {
    throw new ConfigError(`cannot load adapter module ${spec}: ${loadError(e)}`);
  }
  const factory = factoryOf(mod);
  if (typeof factory !== 'function') throw new ConfigError(`${spec} is not an adapter module: its default export must be a factory function returning an adapter`);
  let adapter: unknown;
  try {
    adapter = await (factory as (o: AdapterOptions) => unknown)(opts);
  } catch (e) {
    // A factory refusing its options (a module's own ConfigError, whichever copy of spec it imports) is bad input.
    if ((e as Error)?.name === 'ConfigError') throw new ConfigError(adapterText((e as Error).message, 400, true));
    throw e;
  }
  if (!isAdapter(adapter)) throw new ConfigError(`${spec}: the factory did not return an adapter (an object with hello, reset and exec)`);
  return adapter;
}
