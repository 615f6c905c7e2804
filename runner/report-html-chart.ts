// The coverage chart of the HTML report: one horizontal bar per op kind, split by outcome. Each
// bar is that kind's calls at full width, so rare outcomes stay visible; the count is written
// at its end, and every segment has a tooltip with its number.

import type { CoverageReport } from '../properties/coverage.ts';
import { type Html, html } from './report-html-tag.ts';

// Okabe–Ito's colour-blind-safe set, then Paul Tol's muted set for the rarer errnos.
const PALETTE = ['#009E73', '#E69F00', '#56B4E9', '#D55E00', '#0072B2', '#CC79A7', '#F0E442', '#882255', '#44AA99', '#999933', '#AA4499', '#332288', '#DDCC77', '#117733'];

/** One colour per outcome, the same in every bar and in the legend; `ok` always green. */
export function outcomeColours(ops: CoverageReport['ops']): Map<string, string> {
  const names = new Set<string>();
  for (const o of Object.values(ops)) for (const k of Object.keys(o.outcomes)) names.add(k);
  const sorted = [...names].sort((a, b) => (a === 'ok' ? -1 : b === 'ok' ? 1 : a.localeCompare(b)));
  return new Map(sorted.map((name, i) => [name, PALETTE[i % PALETTE.length]!]));
}

const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1)}%`;

export function coverageChart(ops: CoverageReport['ops']): Html {
  const colours = outcomeColours(ops);
  const kinds = Object.entries(ops);
  const [label, bar, count, row] = [110, 520, 90, 24];
  const width = label + bar + count;
  const height = kinds.length * row + 4;
  const bars = kinds.map(([kind, o], i) => {
    const y = i * row + 2;
    let x = label;
    const segments = Object.entries(o.outcomes).map(([outcome, n]) => {
      const w = o.total === 0 ? 0 : (bar * n) / o.total;
      const seg = html`<rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${row - 6}" fill="${colours.get(outcome)}"><title>${kind} → ${outcome}: ${n} of ${o.total} (${pct(n, o.total)})</title></rect>`;
      x += w;
      return seg;
    });
    return html`<g class="bar" data-op="${kind}">
<text x="${label - 8}" y="${y + (row - 6) / 2}" text-anchor="end">${kind}</text>
${segments}
<text x="${label + bar + 8}" y="${y + (row - 6) / 2}">${o.total}</text>
</g>
`;
  });
  return html`<svg class="chart" role="img" aria-labelledby="chart-title" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
<title id="chart-title">Calls per op kind, split by outcome (each bar is 100% of that kind's calls)</title>
${bars}</svg>
<ul class="legend">${[...colours].map(([outcome, colour]) => html`<li><span class="swatch" style="background:${colour}"></span>${outcome}</li>`)}</ul>`;
}
