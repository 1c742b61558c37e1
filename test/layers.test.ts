/**
 * The code's layers, checked on the sources' own imports (issue 12 item 9: layers a newcomer can see).
 *
 * Every relative import of every .ts module under machines/ and src/ counts: `import … from`,
 * `import type`, `export … from`, `import x = require(…)` and `import('…')` types (dynamic `import()`
 * calls are not counted: none of these modules uses one for another module). The rules:
 *
 *   1. No import cycle among modules, type-only imports included.
 *   2. Each module belongs to one layer of LAYERS and imports only from its own layer or a lower one.
 *      From the bottom:
 *        machines      machines/: the statecharts and their protocol (pure: nothing from src/)
 *        data          src/version.ts, src/scenarios/index.ts (imports nothing)
 *        runtime       src/runtime/: the bus, engines, schedulers, monitors, state (nothing from log,
 *                      scenario, replay, inspect, cli)
 *        scenario      src/scenario/: the scenario format (types, zod schemas, loader, JSON Schema)
 *        log           src/log/: format, writer, reader (may read a header's scenario with the loader,
 *                      and use runtime types such as `Delivered`; nothing from replay, inspect, cli)
 *        runner        src/runner/: runs a scenario on the runtime and writes its log
 *        replay        src/replay/
 *        interop       src/interop/: svasim as an xstate actor, svasim's machines in an xstate system
 *                      (runtime and runner; nothing from inspect, cli)
 *        explore       src/explore/: exploration of interleavings (writes counterexamples as logs and
 *                      checks them with replay; nothing from inspect, cli)
 *        inspect       src/inspect/ (the page under page/ included)
 *        cli           src/cli/
 *        api           src/index.ts, src/machines.ts, src/protocol.ts: the package's entry points,
 *                      imported by no module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Module → the modules it imports (paths relative to the repository, `/`-separated). */
type Graph = ReadonlyMap<string, readonly string[]>;

/** One import the graph could not place: not a .ts module under machines/ or src/. */
interface Unresolved {
  readonly from: string;
  readonly specifier: string;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The relative module specifiers a source file imports statically (see the header for which count). */
function relativeImports(path: string): string[] {
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const add = (spec: ts.Node | undefined): void => {
    if (spec && ts.isStringLiteralLike(spec) && spec.text.startsWith('.')) out.push(spec.text);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

/** The import graph of machines/ and src/, and the imports it could not resolve to one of their modules. */
function importGraph(): { graph: Graph; unresolved: Unresolved[] } {
  const files = [...tsFiles(join(ROOT, 'machines')), ...tsFiles(join(ROOT, 'src'))];
  const rel = (p: string): string => relative(ROOT, p).split('\\').join('/');
  const known = new Set(files.map(rel));
  const graph = new Map<string, string[]>();
  const unresolved: Unresolved[] = [];
  for (const f of files) {
    const deps: string[] = [];
    for (const spec of relativeImports(f)) {
      const target = rel(resolve(dirname(f), spec));
      if (known.has(target)) deps.push(target);
      else unresolved.push({ from: rel(f), specifier: spec });
    }
    graph.set(rel(f), [...new Set(deps)]);
  }
  return { graph, unresolved };
}

/**
 * The import cycles of `graph`, one per strongly connected component that has one (Tarjan), each as
 * the files along it, the first repeated at the end: `a.ts → b.ts → a.ts`.
 */
function importCycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string | undefined;
    do {
      w = stack.pop();
      if (w === undefined) throw new Error('Tarjan: the stack ran out before its root');
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);
  return components.map((c) => cycleThrough(graph, new Set(c)));
}

/** One cycle inside a strongly connected component: the shortest way from its first file (sorted) back to it. */
function cycleThrough(graph: Graph, component: ReadonlySet<string>): string[] {
  const start = [...component].sort()[0] ?? '';
  const from = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i] ?? '';
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(from.get(path[0] ?? '') ?? start);
        return [...path, start];
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  throw new Error(`no cycle through ${start} in its component`);
}

/** The layers, bottom first (the header says what each holds and why). */
const LAYERS: readonly { readonly name: string; readonly holds: (file: string) => boolean }[] = [
  { name: 'machines', holds: (f) => f.startsWith('machines/') },
  { name: 'data', holds: (f) => f === 'src/version.ts' || f.startsWith('src/scenarios/') },
  { name: 'runtime', holds: (f) => f.startsWith('src/runtime/') },
  { name: 'scenario', holds: (f) => f.startsWith('src/scenario/') },
  { name: 'log', holds: (f) => f.startsWith('src/log/') },
  { name: 'runner', holds: (f) => f.startsWith('src/runner/') },
  { name: 'replay', holds: (f) => f.startsWith('src/replay/') },
  { name: 'interop', holds: (f) => f.startsWith('src/interop/') },
  { name: 'explore', holds: (f) => f.startsWith('src/explore/') },
  { name: 'inspect', holds: (f) => f.startsWith('src/inspect/') },
  { name: 'cli', holds: (f) => f.startsWith('src/cli/') },
  { name: 'api', holds: (f) => f === 'src/index.ts' || f === 'src/machines.ts' || f === 'src/protocol.ts' },
];

/** The layer of `file` (its index in LAYERS), or -1 when no layer or more than one holds it. */
function layerOf(file: string): number {
  const holding = LAYERS.flatMap((l, i) => (l.holds(file) ? [i] : []));
  return holding.length === 1 ? (holding[0] ?? -1) : -1;
}

/** The imports that go up the layers: `from (layer) → to (layer)`. */
function upwardImports(graph: Graph, layer: (file: string) => number, name: (layer: number) => string): string[] {
  const out: string[] = [];
  for (const [from, deps] of graph) {
    for (const to of deps) {
      if (layer(to) > layer(from)) out.push(`${from} (${name(layer(from))}) imports ${to} (${name(layer(to))}, a higher layer)`);
    }
  }
  return out.sort();
}

const layerName = (i: number): string => LAYERS[i]?.name ?? 'no layer';

describe('the checks themselves', () => {
  it('find a cycle, with its files in order, and only real ones', () => {
    const g: Graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts', 'd.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
    ]);
    expect(importCycles(g)).toStrictEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts'], ['e.ts', 'e.ts']]);
    expect(importCycles(new Map([['a.ts', ['b.ts']], ['b.ts', []]]))).toStrictEqual([]);
  });

  it('find an import that goes up a layer', () => {
    const g: Graph = new Map([
      ['low.ts', ['high.ts']],
      ['high.ts', ['low.ts', 'high2.ts']],
      ['high2.ts', []],
    ]);
    const level = (f: string): number => (f === 'low.ts' ? 0 : 1);
    expect(upwardImports(g, level, (i) => ['bottom', 'top'][i] ?? '')).toStrictEqual(['low.ts (bottom) imports high.ts (top, a higher layer)']);
  });

  it('read every kind of static import, type-only ones included', () => {
    const { graph } = importGraph();
    // import … from
    expect(graph.get('src/cli/main.ts')).toContain('src/cli/commands/run.ts');
    // import type … from
    expect(graph.get('src/log/format.ts')).toContain('src/scenario/types.ts');
    // export … from (the public entry points re-export)
    expect(graph.get('src/protocol.ts')).toContain('machines/refusals.ts');
    expect(graph.size).toBeGreaterThan(50);
  });
});

describe('layers', () => {
  const { graph, unresolved } = importGraph();

  it('every relative import names a .ts module under machines/ or src/', () => {
    expect(unresolved).toStrictEqual([]);
  });

  it('no import cycle among modules (type-only imports included)', () => {
    expect(importCycles(graph).map((c) => c.join(' → '))).toStrictEqual([]);
  });

  it('every module is in exactly one layer', () => {
    expect([...graph.keys()].filter((f) => layerOf(f) < 0)).toStrictEqual([]);
  });

  it('each module imports only from its own layer or a lower one', () => {
    expect(upwardImports(graph, layerOf, layerName)).toStrictEqual([]);
  });

  it('machines/ imports nothing from src/; src/runtime/ nothing from log, scenario, replay, inspect, cli; src/log/ nothing from replay, inspect, cli', () => {
    // Implied by the layers above; said on its own so that a change to the table cannot drop it.
    const bad = [...graph].flatMap(([from, deps]) =>
      deps
        .filter(
          (to) =>
            (from.startsWith('machines/') && to.startsWith('src/')) ||
            (from.startsWith('src/runtime/') && /^src\/(log|scenario|replay|interop|inspect|cli)\//.test(to)) ||
            (from.startsWith('src/log/') && /^src\/(replay|interop|inspect|cli)\//.test(to)),
        )
        .map((to) => `${from} imports ${to}`),
    );
    expect(bad).toStrictEqual([]);
  });
});
