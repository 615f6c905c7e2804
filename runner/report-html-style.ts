// The look of the HTML report, inlined so the page needs nothing beside it. Every badge carries
// its status as text; the colour only repeats it.

export const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f23; --bg: #fff; --muted: #57606a; --line: #d0d7de; --code: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9da7b3; --line: #30363d; --code: #161b22; } }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; padding: 1.5rem; max-width: 72rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 0 0 .5rem; }
h4 { font-size: .95rem; margin: .75rem 0 .25rem; }
code, pre { font: 13px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { background: var(--code); border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; overflow-x: auto; white-space: pre; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid var(--line); padding: .25rem .6rem; text-align: left; vertical-align: top; }
thead th { background: var(--code); }
tbody th[scope=rowgroup] { background: var(--code); font-size: .9rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 1rem 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 4px; font-size: .8rem; font-weight: 600; letter-spacing: .02em; color: #fff; background: #57606a; white-space: nowrap; }
h1 .badge { font-size: 1.2rem; vertical-align: middle; }
.s-PASS { background: #1a7f37; }
.s-FAIL { background: #cf222e; }
.s-ADAPTER_ERROR, .s-CRASH, .s-TIMEOUT { background: #8250df; }
.s-QUALITY_WARNING { background: #f2cc60; color: #1b1f23; }
.s-NOT_SUPPORTED, .s-UNCHECKED, .s-INTERRUPTED { background: #6e7781; }
article.finding { border: 1px solid var(--line); border-left-width: 4px; border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0; }
article.finding dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; }
article.finding dd { margin: 0; overflow-wrap: anywhere; }
.chart { max-width: 100%; height: auto; }
.chart text { font: 13px ui-monospace, monospace; fill: var(--fg); dominant-baseline: middle; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; }
.legend .swatch { display: inline-block; width: .9em; height: .9em; margin-right: .35em; vertical-align: -.1em; border-radius: 2px; }
.gate-failed { color: #cf222e; font-weight: 600; }
footer { margin-top: 2rem; color: var(--muted); font-size: .85rem; }
`;
