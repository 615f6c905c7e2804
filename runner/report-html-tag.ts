// HTML that is safe by construction: every value interpolated into an `html` template is
// escaped (escape-html) unless it is already an Html fragment, so no report string can turn
// into markup. Values go into text or quoted attributes only, never into <style> or <script>.

import escapeHtml from 'escape-html';

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type Value = Html | string | number | null | undefined | false | readonly Value[];

function render(v: Value): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  return new Html(strings.reduce((out, s, i) => out + render(values[i - 1]) + s));
}
