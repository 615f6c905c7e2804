// Text that comes from an adapter (error messages, stderr, names, reply strings) is untrusted:
// it may be megabytes long or hold terminal control bytes. It enters the suite through
// `adapterText`, which makes it printable and bounded, so every report format and the terminal
// can show it without further thought about length or escapes.

/** Longest piece of adapter text kept anywhere (a message, a stderr line, a name). */
export const ADAPTER_TEXT_MAX = 500;

// C0 and C1 controls and DEL, but not tab or newline; U+2028/9 would break JSON-in-HTML readers.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

const visible = (c: string) => {
  const n = c.charCodeAt(0);
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
};

/**
 * Printable and bounded: control characters become visible escapes (`\x1b`), and text beyond
 * `max` characters is cut, saying how much was cut. `oneLine` also turns newlines into ` | `.
 */
export function adapterText(text: unknown, max = ADAPTER_TEXT_MAX, oneLine = false): string {
  let s = typeof text === 'string' ? text : String(text);
  const cut = s.length > max ? s.length - max : 0;
  if (cut > 0) s = s.slice(0, max);
  s = s.replace(/\r\n?/g, '\n');
  if (oneLine) s = s.replace(/\s*\n\s*/g, ' | ').replace(/\t/g, ' ');
  s = s.replace(UNPRINTABLE, visible);
  return cut > 0 ? `${s}… (${cut} more characters cut)` : s;
}
