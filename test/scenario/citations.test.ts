/**
 * What users read cites only what they can follow: the built-in scenarios' names, descriptions and
 * notes (shown by `svasim list`, in every log header, the inspector and the README), and the strings the
 * code shows (help, errors, page text) cite kernel sources, public documents and the README, never the
 * project's private notes (kernel-semantics.md and its § numbers, reference/NNN copies, the spec).
 * An invariant or hazard id they use is one the README's "Invariants and hazards" states, and a README
 * section or Fidelity item they point to exists.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import type { Scenario } from '../../src/scenario/types.ts';
import { builtinNames, builtinPath } from '../../src/scenarios/index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** References to documents that are not in the repository. */
const PRIVATE = /kernel-semantics|reference\/\d|\bSPEC\b\s*(?:§|\.md)|\bseed\s*§/i;

/**
 * A problem with one piece of text a user reads, or `null`. A "§" may only number a section of a
 * public specification (e.g. "Intel DSA Architecture Specification §3.3.1"); a bare "§3.15" was a
 * section of the private notes.
 */
function citationProblem(text: string): string | null {
  const priv = PRIVATE.exec(text);
  if (priv) return `cites "${priv[0]}", a document users do not have`;
  for (const m of text.matchAll(/§/g)) {
    if (!/Specification\s*$/.test(text.slice(0, m.index))) return `a "§" not after "Specification": …${text.slice(Math.max(0, m.index - 30), m.index + 10)}…`;
  }
  for (const m of text.matchAll(/README(?:'s)? '([^']+)'(?: item (\d+))?/g)) {
    const [, section = '', item] = m;
    if (!README.includes(`\n## ${section}\n`)) return `points to README section '${section}', which does not exist`;
    if (item !== undefined) {
      const body = README.slice(README.indexOf(`\n## ${section}\n`) + 1).split('\n## ')[0] ?? '';
      if (!new RegExp(`^${item}\\. `, 'm').test(body)) return `points to README '${section}' item ${item}, which does not exist`;
    }
  }
  return null;
}

/** The process and thread names a scenario's steps use (they look like ids: A1, W2, Q1). */
function actorNames(s: Scenario): Set<string> {
  const names = new Set<string>();
  for (const step of s.steps) {
    if ('process' in step) names.add(step.process);
    if ('thread' in step) names.add(step.thread);
    if ('new' in step) names.add(step.new);
  }
  return names;
}

/**
 * Each short id in the text (capital letter and digits: G7, H2, S1) that is not one of the scenario's
 * actors must be an invariant or hazard the README states in its own table row. This catches ids of the
 * private notes that the README does not define (their ambiguity list A1–A11, B1–B5).
 */
function unknownIds(text: string, actors: ReadonlySet<string>): string[] {
  const ids = [...text.matchAll(/\b([A-Z]\d+)\b/g)].map((m) => m[1] ?? '');
  return ids.filter((id) => !actors.has(id) && !README.split('\n').some((l) => l.startsWith(`| ${id} |`)));
}

const scenarios = builtinNames().map((name) => {
  const path = builtinPath(name);
  if (!path) throw new Error(`no built-in ${name}`);
  return [name, loadScenarioFile(path)] as const;
});

describe('built-in scenario texts', () => {
  it('there are built-in scenarios with descriptions and notes to check', () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(18);
    expect(scenarios.filter(([, s]) => s.description !== undefined).length).toBeGreaterThanOrEqual(18);
    expect(scenarios.flatMap(([, s]) => s.steps.filter((st) => st.note !== undefined)).length).toBeGreaterThan(50);
  });

  it.each(scenarios)('%s cites only what a user can follow, and only invariants and hazards the README states', (_name, s) => {
    const actors = actorNames(s);
    const texts: [string, string][] = [['name', s.name], ['description', s.description ?? '']];
    s.steps.forEach((st, i) => texts.push([`step ${i} note`, st.note ?? '']));
    for (const [where, text] of texts) {
      expect(citationProblem(text), where).toBeNull();
      expect(unknownIds(text, actors), `${where}: ids the README does not state`).toStrictEqual([]);
    }
  });
});

/** Every file under src/, machines/ and tools/ with text in it (the screenshot PNGs are left out). */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (['.ts', '.mjs', '.js', '.html', '.css', '.json', '.md'].includes(extname(e.name))) out.push(p);
    }
  };
  for (const d of ['src', 'machines', 'tools']) walk(join(ROOT, d));
  return out;
}

/** The string literals and template-literal texts of a TypeScript/JavaScript file: what it can print. */
function stringLiterals(path: string): { line: number; text: string }[] {
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: { line: number; text: string }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      out.push({ line: file.getLineAndCharacterOfPosition(node.getStart()).line + 1, text: node.text });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

describe('strings the code shows', () => {
  const files = sourceFiles();

  it('finds the sources, and in them the help text and the inspector page', () => {
    const rel = files.map((f) => relative(ROOT, f));
    expect(rel).toContain('src/cli/main.ts');
    expect(rel).toContain('src/inspect/page/index.html');
    expect(stringLiterals(join(ROOT, 'src/cli/main.ts')).some((s) => s.text.includes('usage: svasim'))).toBe(true);
  });

  it('no string literal, page or data file cites a document users do not have', () => {
    const bad: string[] = [];
    for (const f of files) {
      const texts = /\.(ts|mjs|js)$/.test(f) ? stringLiterals(f) : [{ line: 0, text: readFileSync(f, 'utf8') }];
      for (const { line, text } of texts) {
        const problem = citationProblem(text);
        if (problem) bad.push(`${relative(ROOT, f)}:${line}: ${problem}`);
      }
    }
    expect(bad).toStrictEqual([]);
  });

  it('no comment cites the private kernel notes either (the kernel sources they stand for are cited instead)', () => {
    const bad = files.filter((f) => /kernel-semantics|reference\/\d{3}/i.test(readFileSync(f, 'utf8'))).map((f) => relative(ROOT, f));
    expect(bad).toStrictEqual([]);
  });

  it('catches each kind of reference it is about', () => {
    expect(citationProblem('kernel-semantics.md §3.15: idxd release')).toMatch(/kernel-semantics/);
    expect(citationProblem('reference/000: Unbind removes the entry')).toMatch(/reference\/0/);
    expect(citationProblem('SPEC §4 applies the same gate')).toMatch(/SPEC §/);
    expect(citationProblem('unbind never touches MSRs (§8 A9)')).toMatch(/not after "Specification"/);
    expect(citationProblem("see README 'Fidelity' item 99")).toMatch(/item 99/);
    expect(citationProblem("see the README's 'Roadmap'")).toMatch(/Roadmap/);
    expect(citationProblem("Intel DSA Architecture Specification §3.3.1; README 'Fidelity' item 4")).toBeNull();
    expect(unknownIds('nothing is programmed (A2), hazard H2, thread W1', new Set(['W1']))).toStrictEqual(['A2']);
  });
});
