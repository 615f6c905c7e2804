// Markdown that cannot be broken out of. Adapter text reaches report.md (names, messages,
// observed replies); a renderer must show it as text, never as markup, HTML or a broken table.

/** Plain text in a paragraph or a table cell: HTML and Markdown punctuation escaped, one line. */
export function mdText(s: string): string {
  return s
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]{}()#+!|~])/g, '\\$1')
    .replace(/\r?\n/g, ' ');
}

const longestRun = (s: string) => Math.max(0, ...(s.match(/`+/g) ?? []).map((r) => r.length));

/**
 * Inline code holding `s` as text: an HTML <code> element around escaped text, so that markup in
 * it can reach neither a Markdown renderer nor an HTML one (a backtick span would pass `<script>`
 * through to renderers that are loose about code spans).
 */
export function mdCode(s: string): string {
  return `<code>${mdText(s)}</code>`;
}

/** A fenced code block holding the lines literally: its fence is longer than any run of backticks in them. */
export function mdBlock(lines: readonly string[]): string[] {
  const fence = '`'.repeat(Math.max(3, longestRun(lines.join('\n')) + 1));
  return [fence, ...lines, fence];
}
