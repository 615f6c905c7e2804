// The report as one self-contained HTML page: the verdict and the run, a status per rule by
// family, every finding with its minimal trace and replay line, and coverage as a chart. No
// script and no external resource; the Content-Security-Policy forbids both, so even a string
// that escaped escaping could not run.

import { STATUSES as COLUMNS, type Status } from '../spec/index.ts';
import type { RunContext } from './report-junit.ts';
import { coverageChart } from './report-html-chart.ts';
import { STYLE } from './report-html-style.ts';
import { Html, html } from './report-html-tag.ts';
import type { Report, ReportFinding } from './suite.ts';

const CSP = "default-src 'none'; style-src 'unsafe-inline'";

const badge = (s: Status | 'PASS' | 'FAIL') => html`<span class="badge s-${s}">${s}</span>`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const findingId = (kind: 'finding' | 'quality', i: number) => `${kind}-${i + 1}`;

function metadata(r: Report, ctx: RunContext): Html {
  const caps = Object.entries(r.adapter.capabilities).filter(([, on]) => on).map(([c]) => c);
  const rows: [string, string | Html][] = [
    ['adapter', `${r.adapter.name} ${r.adapter.version}`],
    ['adapter module', r.adapter.spec],
    ['profile', r.adapter.profile],
    ['policies', html`${Object.entries(r.adapter.policies).map(([k, v], i) => html`${i > 0 ? ', ' : ''}<code>${k}=${v}</code>`)}`],
    ['capabilities', caps.length > 0 ? caps.join(', ') : 'none declared'],
    ['suite version', r.suiteVersion],
    ['seed', String(r.budget.seed)],
    ...(ctx.path !== undefined ? [['replayed path', ctx.path] as [string, string]] : []),
    ['sequences per family', String(r.budget.runs)],
    ['max steps', String(r.budget.maxSteps)],
    ['duration', seconds(r.durationMs)],
    ['started at', r.startedAt],
  ];
  return html`<dl class="meta">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

function familiesTable(r: Report): Html {
  return html`<table>
<thead><tr><th scope="col">property family</th><th scope="col" class="num">sequences</th><th scope="col" class="num">ops</th><th scope="col" class="num">time</th>${COLUMNS.map((c) => html`<th scope="col" class="num">${c}</th>`)}</tr></thead>
<tbody>${r.families.map((f) => html`<tr><th scope="row">${f.id}</th><td class="num">${f.runs}</td><td class="num">${f.ops}</td><td class="num">${seconds(f.ms)}</td>${COLUMNS.map((c) => html`<td class="num">${f.counts[c]}</td>`)}</tr>\n`)}</tbody>
<tfoot><tr><th scope="row">all rules</th><td></td><td></td><td></td>${COLUMNS.map((c) => html`<td class="num">${r.summary[c]}</td>`)}</tr></tfoot>
</table>
<p>Each rule is counted in one row: the first chosen family that lists it.</p>`;
}

function rulesTable(r: Report): Html {
  const families = [...new Set(r.rules.map((x) => x.family))];
  const firstFinding = (id: string) => r.findings.findIndex((f) => f.rule === id);
  const firstQuality = (id: string) => r.quality.findIndex((f) => f.rule === id);
  const groups = families.map((family) => html`<tbody>
<tr><th scope="rowgroup" colspan="5">${family}</th></tr>
${r.rules.filter((x) => x.family === family).map((rule) => {
    const fi = firstFinding(rule.id);
    const qi = firstQuality(rule.id);
    const link = fi >= 0 ? findingId('finding', fi) : qi >= 0 ? findingId('quality', qi) : null;
    const id = link ? html`<a href="#${link}">${rule.id}</a>` : rule.id;
    return html`<tr class="rule" data-status="${rule.status}"><th scope="row">${id}</th><td>${rule.level}</td><td>${badge(rule.status)}</td><td class="num">${rule.checks}</td><td>${rule.title}${rule.reason ? html` — <em>${rule.reason}</em>` : ''}</td></tr>\n`;
  })}</tbody>`);
  return html`<table id="rules">
<caption>Status of every rule, by rule family; checks is how often the run exercised the rule.</caption>
<thead><tr><th scope="col">rule</th><th scope="col">level</th><th scope="col">status</th><th scope="col" class="num">checks</th><th scope="col">title</th></tr></thead>
${groups}
</table>`;
}

function findingBlock(f: ReportFinding, id: string): Html {
  return html`<article class="finding" id="${id}" aria-labelledby="${id}-h">
<h3 id="${id}-h">${badge(f.status)} ${f.rule} — ${f.title}</h3>
<p>Property family <code>${f.family || '—'}</code>, found after ${f.runsToFailure} sequence(s), shrunk ${f.shrinks} time(s). Finding id <code>${f.id}</code>.</p>
${f.sameCauseAs ? html`<p>Same cause as ${f.sameCauseAs.rule} (finding <code>${f.sameCauseAs.id}</code>): ${f.sameCauseAs.why}</p>` : ''}
${f.message ? html`<p>${f.message}</p>` : ''}
<h4>Minimal trace</h4>
<pre class="trace">${f.trace.join('\n')}</pre>
<dl>
<dt>failing op</dt><dd><code>${f.op ?? 'reset'}</code></dd>
<dt>expected</dt><dd>${f.expected.length > 0 ? f.expected.map((e, i) => html`${i > 0 ? ' or ' : ''}<code>${e}</code>`) : '—'}</dd>
<dt>observed</dt><dd><code class="observed">${f.observed}</code></dd>
</dl>
${f.replay ? html`<h4>Replay</h4>\n<pre class="replay"><code>${f.replay}</code></pre>` : ''}
</article>
`;
}

function coverageSection(r: Report): Html {
  const c = r.coverage;
  return html`<section aria-labelledby="h-coverage">
<h2 id="h-coverage">Coverage</h2>
<p>${c.sequences} sequences, ${c.steps} generated ops, skip rate ${(c.skipRate * 100).toFixed(2)}%.</p>
${coverageChart(c.ops)}
<table id="ops">
<thead><tr><th scope="col">op</th><th scope="col" class="num">total</th><th scope="col" class="num">of which probes</th><th scope="col">outcomes</th></tr></thead>
<tbody>${Object.entries(c.ops).map(([k, v]) => html`<tr><th scope="row">${k}</th><td class="num">${v.total}</td><td class="num">${v.probes}</td><td>${Object.entries(v.outcomes).map(([o, n]) => `${o} ${n}`).join(', ')}</td></tr>\n`)}</tbody>
</table>
<h3 id="gate">Coverage gate: ${r.gate.ok ? 'passed' : html`<span class="gate-failed">FAILED</span>`}</h3>
${r.gate.ok ? '' : html`<ul>${r.gate.problems.map((p) => html`<li>${p}</li>`)}</ul>`}
</section>`;
}

export function reportHtml(r: Report, ctx: RunContext = {}): string {
  const verdict = r.summary.exitCode === 0 ? 'PASS' : 'FAIL';
  const s = r.summary;
  const counts = COLUMNS.filter((k) => k === 'PASS' || k === 'FAIL' || s[k] > 0).map((k) => `${s[k]} ${k}`).join(', ');
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>iommu-conformance ${verdict}: ${r.adapter.name} ${r.adapter.version}</title>
<style>${new Html(STYLE)}</style>
</head>
<body>
<header>
<h1 id="verdict">iommu-conformance: ${badge(verdict)}</h1>
<p>${r.adapter.name} ${r.adapter.version} — ${r.rules.length} rules: ${counts}.${r.gate.ok ? '' : ' The coverage gate failed.'}</p>
${metadata(r, ctx)}
</header>
<main>
<section aria-labelledby="h-rules">
<h2 id="h-rules">Rules</h2>
${rulesTable(r)}
</section>
<section aria-labelledby="h-findings">
<h2 id="h-findings">Findings (${r.findings.length})</h2>
${r.findings.length > 0 ? r.findings.map((f, i) => findingBlock(f, findingId('finding', i))) : html`<p>None: no rule was broken.</p>`}
</section>
${r.quality.length > 0 ? html`<section aria-labelledby="h-quality">
<h2 id="h-quality">Quality warnings (${r.quality.length})</h2>
${r.quality.map((f, i) => findingBlock(f, findingId('quality', i)))}
</section>` : ''}
<section aria-labelledby="h-families">
<h2 id="h-families">Property families</h2>
${familiesTable(r)}
</section>
${coverageSection(r)}
</main>
<footer>Generated by iommu-conformance ${r.suiteVersion}.</footer>
</body>
</html>
`;
  return page.text;
}
