// The rule catalogue is data the whole suite hangs on: findings name rules, families claim them,
// policies select them, docs/rules.md is generated from them. Keep all of that consistent.

import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { CAPABILITIES, FAMILIES, POLICY_DEFS, POLICY_KEYS, RULES, type Rule, ruleById, rulesOfFamily } from '../spec/index.ts';
import { rulesMarkdown } from '../spec/rules/markdown.ts';
import { FAMILIES_OF_PROPERTIES } from '../properties/families.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const IDS = new Set(RULES.map((r) => r.id));
/** Families whose MUST and POLICY rules the property families must cover (adapter rules are the transport's). */
const CHECKED_FAMILIES = FAMILIES.filter((f) => f !== 'adapter');

test('every rule has an ID, a family, a level, a title, a statement and sources', () => {
  expect(RULES.length).toBeGreaterThan(30);
  for (const r of RULES) {
    expect(r.id, JSON.stringify(r)).toMatch(/^[A-Z]+(-[A-Z0-9]+)*$/);
    expect(FAMILIES).toContain(r.family);
    expect(['MUST', 'SHOULD', 'POLICY']).toContain(r.level);
    expect(r.title.trim().length, r.id).toBeGreaterThan(0);
    expect(r.statement.trim().length, r.id).toBeGreaterThan(40);
    expect(r.sources.length, r.id).toBeGreaterThan(0);
  }
});

test('rule IDs are unique and ruleById finds each one', () => {
  expect(IDS.size).toBe(RULES.length);
  for (const r of RULES) expect(ruleById(r.id)).toBe(r);
  expect(ruleById('NO-SUCH-RULE')).toBeUndefined();
});

test('each family lists exactly its own rules, in catalogue order', () => {
  for (const f of FAMILIES) expect(rulesOfFamily(f)).toEqual(RULES.filter((r) => r.family === f));
  expect(FAMILIES.flatMap((f) => rulesOfFamily(f)).length).toBe(RULES.length);
});

test('sources use the documented prefixes', () => {
  for (const r of RULES) {
    for (const s of r.sources) {
      expect(s, r.id).toMatch(/^(seed|linux|commit|spec|doc):\S/);
      if (s.startsWith('seed:')) expect(s, r.id).toMatch(/^seed:\d{3}_[0-9a-f]{16}\.txt$/);
      if (s.startsWith('commit:')) expect(s, r.id).toMatch(/^commit:[0-9a-f]{12} "/);
    }
  }
});

test('policies and capabilities named by rules exist; POLICY rules name a policy', () => {
  for (const r of RULES) {
    for (const p of r.policies) expect(POLICY_KEYS, r.id).toContain(p);
    for (const c of r.capabilities) expect(CAPABILITIES, r.id).toContain(c);
    if (r.level === 'POLICY') expect(r.policies.length, r.id).toBeGreaterThan(0);
  }
});

test('every rule a property family names exists', () => {
  for (const fam of FAMILIES_OF_PROPERTIES) {
    for (const id of fam.rules) expect(IDS.has(id), `${fam.id} names ${id}`).toBe(true);
  }
  expect(new Set(FAMILIES_OF_PROPERTIES.map((f) => f.id)).size).toBe(FAMILIES_OF_PROPERTIES.length);
});

test('every MUST and POLICY rule outside the adapter family is named by a property family', () => {
  const named = new Set(FAMILIES_OF_PROPERTIES.flatMap((f) => f.rules));
  const missing = RULES.filter((r: Rule) => (CHECKED_FAMILIES as readonly string[]).includes(r.family) && r.level !== 'SHOULD' && !named.has(r.id)).map((r) => r.id);
  expect(missing).toEqual([]);
});

test('every policy selects a catalogued rule that lists the policy', () => {
  for (const def of POLICY_DEFS) {
    const rule = ruleById(def.rule);
    expect(rule, `${def.key} -> ${def.rule}`).toBeDefined();
    if (!rule) continue;
    expect(rule.policies, `${def.key} -> ${def.rule}`).toContain(def.key);
    expect(Object.keys(def.lineage).sort(), def.key).toEqual([...def.values].sort());
  }
});

test('every rule ID the reference and the checker name is in the catalogue', () => {
  const dirs = ['impl/reference', 'properties'];
  const named = new Set<string>();
  for (const dir of dirs) {
    for (const file of readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(ROOT, dir, file), 'utf8');
      for (const m of text.matchAll(/'([A-Z]+(?:-[A-Z0-9]+)+|ISOLATION)'/g)) named.add(m[1]!);
    }
  }
  expect(named.size).toBeGreaterThan(30);
  expect([...named].filter((id) => !IDS.has(id))).toEqual([]);
});

test('rulesMarkdown is deterministic and mentions every rule once', () => {
  const md = rulesMarkdown(RULES);
  expect(rulesMarkdown(RULES)).toBe(md);
  for (const r of RULES) expect(md.split(`\n### ${r.id} — `).length - 1, r.id).toBe(1);
  expect(md.endsWith('\n')).toBe(true);
  expect(md.endsWith('\n\n')).toBe(false);
});

test('docs/rules.md is up to date with the catalogue', () => {
  const onDisk = readFileSync(join(ROOT, 'docs', 'rules.md'), 'utf8');
  expect(onDisk === rulesMarkdown(RULES), 'docs/rules.md is stale: regenerate it with `npm run rules:doc`').toBe(true);
});
