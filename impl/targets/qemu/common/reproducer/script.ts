// A recorded transcript as a `.qtest` script that run-qtest.py runs against any QEMU build:
// QEMU's command line and firmware in the header, one qtest command a line, the suite's ops as
// `@op` lines, labelled reads as `@let`, polls as `@poll`, and the failing op's assertions as
// `@expect` — the outcome the reference requires, never the replies this run saw.

import { FIRMWARE as FIRMWARE_IMAGES, type QemuArch } from '../machine.ts';
import type { Transcript } from '../transcript.ts';
import { pollConditionText } from '../transcript.ts';

/** What an op's outcome means on the wire: `expr` over `@let` names holds exactly when `what` is so. */
export interface Assertion {
  what: string;
  expr: string;
}

/** The x86 machines' BIOS: 64 KiB of HLT (0xf4), as scripts/fetch-qemu-suite.sh writes it. */
export const FIRMWARE = FIRMWARE_IMAGES.x86_64;

export interface ScriptParts {
  rule: string;
  ruleTitle: string;
  target: string;
  arch: QemuArch;
  /** The QEMU the script was recorded on, and what its last op gave there. */
  recordedOn: string;
  verdict: string;
  transcript: Transcript;
  /** `@op` text per op index: the call, and its outcome (the last op: what the reference expects). */
  opTexts: ReadonlyMap<number, string>;
  /** Alternatives (any one may hold), each a list that must all hold. */
  assertions: readonly (readonly Assertion[])[];
}

const FORMAT_HELP = [
  'Format: one qtest command a line; its reply must be OK (a FAIL or ERR means the script is broken).',
  "'#' starts a comment. Directives:",
  '  @rule ID                         the rule this script checks',
  '  @op N TEXT                       the suite\'s op N begins (TEXT: the call and its outcome)',
  '  @let NAME = CMD                  send CMD, bind NAME to its reply (`read`: bytes little-endian)',
  '  @poll MAX until COND: CMD; CMD   send the commands again until COND holds (r0, r1…: their',
  '                                   replies); gives up (cannot run) after MAX rounds and 10 s',
  '  @expect "WHAT" COND              an assertion: false means the divergence reproduced',
  'COND: names, numbers, ( ), & | << >>, == != < <= > >=, and, or (comparisons bind loosest).',
  'Exit status of run-qtest.py: 0 every assertion holds, 1 the divergence reproduced, 2 cannot run.',
];

export function renderScript(p: ScriptParts): string {
  if (!p.transcript.qemuArgs) throw new Error('the transcript has no QEMU command line');
  const fw = FIRMWARE_IMAGES[p.arch];
  const out = [
    `# iommu-conformance reproducer: ${p.rule} on ${p.target} — ${p.ruleTitle}`,
    `# Recorded on QEMU ${p.recordedOn}: ${p.verdict}.`,
    '#',
    `# Run: python3 run-qtest.py reproducer.qtest /path/to/qemu-system-${p.arch} [-- extra QEMU args]`,
    '# (the runner adds -qtest stdio, and makes the firmware image below unless it is beside the script)',
    '#',
    `# qemu-args: ${firmwareRelative(p.transcript.qemuArgs, fw.name).map(shellWord).join(' ')}`,
    `# firmware: ${fw.name} ${fw.size} 0x${fw.fill.toString(16)}${fw.head ? ` ${fw.head}` : ''}`,
    '#',
    ...FORMAT_HELP.map((l) => `# ${l}`),
    '',
    `@rule ${p.rule}`,
  ];
  for (const e of p.transcript.entries) {
    switch (e.kind) {
      case 'command':
        out.push(e.label ? `@let ${e.label.name} = ${e.line}` : e.line);
        break;
      case 'poll':
        out.push(`@poll ${e.max} until ${pollConditionText(e.until)}: ${e.lines.join('; ')}`);
        break;
      case 'op': {
        const text = p.opTexts.get(e.index) ?? '';
        out.push('', `@op ${e.index} ${text}`);
        break;
      }
      case 'comment':
        out.push(`# ${e.text}`);
        break;
    }
  }
  out.push('', '# What the specification requires of the last op (from the reference model, not from QEMU\'s replies):');
  out.push(...assertionLines(p.assertions), '');
  return out.join('\n');
}

function assertionLines(alternatives: readonly (readonly Assertion[])[]): string[] {
  if (alternatives.length === 1) return alternatives[0]!.map((a) => expectLine(a));
  // Several outcomes are legal: one assertion, any of them.
  const what = alternatives.map((as) => as.map((a) => a.what).join(' and ')).join(', or ');
  const expr = alternatives.map((as) => `(${as.map((a) => `(${a.expr})`).join(' and ')})`).join(' or ');
  return [expectLine({ what, expr })];
}

function expectLine(a: Assertion): string {
  if (a.what.includes('"')) throw new RangeError(`an assertion's description cannot hold '"': ${a.what}`);
  return `@expect "${a.what}" ${a.expr}`;
}

/** `-bios /…/.cache/qemu/sid/hlt.bin` → `-bios hlt.bin`: the runner makes the image. */
function firmwareRelative(args: readonly string[], name: string): string[] {
  return args.map((a, i) => (args[i - 1] === '-bios' ? name : a));
}

function shellWord(s: string): string {
  return /^[A-Za-z0-9_,.=:/+@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
