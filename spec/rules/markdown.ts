// Renders the rule catalogue as docs/rules.md. Pure and deterministic: the same rules give the
// same bytes, so the generated file can be checked for staleness.

import { FAMILIES, type Family, type Rule } from './types.ts';

const FAMILY_TITLES: { readonly [F in Family]: string } = {
  map: 'Map',
  unmap: 'Unmap',
  xlate: 'Translation and isolation',
  iotlb: 'IOTLB invalidation',
  domain: 'Domains',
  attach: 'Attach and detach',
  pasid: 'PASID allocation and lifetime',
  sva: 'Shared virtual addressing',
  fault: 'Resource failure',
  virtio: 'virtio-iommu device',
  adapter: 'Adapter protocol',
};

/** `text` as an inline code span, with a fence longer than any backtick run inside it. */
function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function list(items: readonly string[]): string {
  return items.length === 0 ? 'none' : items.map(code).join(', ');
}

export function rulesMarkdown(rules: readonly Rule[]): string {
  const out: string[] = [
    '# IOMMU conformance rules',
    '',
    'This file is generated from `spec/rules/` by `npm run rules:doc`; do not edit it by hand. ' +
      'Each rule has a stable ID that findings and reports refer to, a level (MUST: a violation is FAIL; ' +
      'SHOULD: a QUALITY_WARNING; POLICY: the implementation declares one of the legal outcomes and is held to it), ' +
      'the policies that select its outcome, the capabilities it needs, and the sources it comes from.',
  ];
  for (const family of FAMILIES) {
    const ofFamily = rules.filter((r) => r.family === family);
    if (ofFamily.length === 0) continue;
    out.push('', `## ${FAMILY_TITLES[family]} (\`${family}\`)`);
    for (const r of ofFamily) {
      out.push(
        '',
        `### ${r.id} — ${r.title}`,
        '',
        `Level: **${r.level}** · Policies: ${list(r.policies)} · Capabilities: ${list(r.capabilities)}`,
        '',
        r.statement,
        '',
        'Sources:',
        '',
        ...r.sources.map((s) => `- ${code(s)}`),
      );
    }
  }
  return out.join('\n') + '\n';
}
