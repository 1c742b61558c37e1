#!/usr/bin/env node
/**
 * Builds the package into dist/ (generated, gitignored; `npm run build`, and `prepare`, so `npm ci` in a
 * clone, `npm pack` and `npm install` of a git URL all build it): JavaScript and `.d.ts` by tsc
 * (tsconfig.build.json: `.ts` import specifiers rewritten to `.js`), then what the built code reads at
 * run time besides its modules: the built-in scenarios, the inspector page (its app bundled here by
 * esbuild, so neither esbuild nor TypeScript is needed at run time) and the CLI's launcher; and, for
 * editors, the scenario JSON Schema (scenario.schema.json, at the package root, also generated).
 * Plain Node, no TypeScript loader.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
// Built beside dist/ and swapped in at the end, so a running `svasim` (or a test's) never finds dist/
// half written or gone while a build (npm pack's prepack, in the package test) is under way.
const OUT = join(ROOT, `dist.building.${process.pid}`);
const fail = (why) => {
  rmSync(OUT, { recursive: true, force: true });
  process.stderr.write(`build: ${why}\n`);
  process.exit(1);
};

rmSync(OUT, { recursive: true, force: true });

// The sources' hash, taken before they are compiled (a file changed during the build then differs from
// what the build recorded): in a clone, explore's workers start from this build only while it is current.
const { sourceHash, SOURCE_HASH_FILE } = await import(pathToFileURL(join(ROOT, 'src/source-hash.mjs')).href);
const builtFrom = sourceHash(ROOT);

// 1. JavaScript and declarations.
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', OUT], { stdio: 'inherit' });
if (r.status !== 0) fail(`tsc failed (exit ${r.status ?? r.signal})`);

// tsc rewrites `.ts` specifiers in the JavaScript it emits but keeps them in declarations; a consumer's
// type-check with default settings refuses a `.ts` specifier, so declarations get the `.js` the
// JavaScript has. Only relative specifiers, in import/export clauses and `import("…")` types.
const SPEC = /((?:from\s+|import\(\s*)["'])(\.{1,2}\/[^"']*?)\.ts(["'])/g;
for (const file of walk(OUT)) {
  if (!file.endsWith('.d.ts')) continue;
  const text = readFileSync(file, 'utf8');
  const fixed = text.replace(SPEC, '$1$2.js$3');
  if (fixed !== text) writeFileSync(file, fixed);
}

// 2. The built-in scenarios: src/scenarios/index.ts lists the JSON files next to it.
for (const f of readdirSync(join(ROOT, 'src/scenarios'))) {
  if (f.endsWith('.json')) copyFileSync(join(ROOT, 'src/scenarios', f), join(OUT, 'src/scenarios', f));
}

// 3. The inspector page: the server serves page/app.js when it is there (else bundles page/app.ts).
const pageSrc = join(ROOT, 'src/inspect/page/');
const pageOut = join(OUT, 'src/inspect/page/');
mkdirSync(pageOut, { recursive: true });
const { bundlePageScript } = await import(pathToFileURL(join(OUT, 'src/inspect/server.js')).href);
writeFileSync(join(pageOut, 'app.js'), bundlePageScript(pageSrc));
for (const f of ['index.html', 'style.css']) copyFileSync(join(pageSrc, f), join(pageOut, f));

// 4. The CLI launcher (bin): next to the built main.js it runs that, with no TypeScript loader.
// The explore workers' entry module, beside the built worker.
copyFileSync(join(ROOT, 'src/explore/worker-entry.mjs'), join(OUT, 'src/explore/worker-entry.mjs'));
const launcher = join(OUT, 'src/cli/svasim.mjs');
copyFileSync(join(ROOT, 'src/cli/svasim.mjs'), launcher);
chmodSync(launcher, 0o755);

// 5. The scenario format's JSON Schema, generated from the built zod schemas, at the package root: an
// editor finds it by path (`"$schema": "./node_modules/svasim/scenario.schema.json"`), and the
// package exports it under the same name (`svasim/scenario.schema.json`).
const { scenarioJsonSchemaText } = await import(pathToFileURL(join(OUT, 'src/scenario/json-schema.js')).href);
writeFileSync(join(ROOT, 'scenario.schema.json'), scenarioJsonSchemaText());

writeFileSync(join(OUT, SOURCE_HASH_FILE), `${builtFrom}\n`);

// 6. Swap the new build in: the old one is renamed away first (rename cannot replace a directory).
const OLD = join(ROOT, `dist.old.${process.pid}`);
try {
  renameSync(DIST, OLD);
} catch (e) {
  if (e.code !== 'ENOENT') throw e;
}
renameSync(OUT, DIST);
rmSync(OLD, { recursive: true, force: true });

function* walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else yield p;
  }
}
