/**
 * The package as users install it: tools/pack-check.mjs packs the project, installs the tarball into a
 * fresh project from the npm cache, and there imports the three entry points with plain node, type-checks
 * a TypeScript file against the installed types (default nodenext settings) and runs the CLI (list, run,
 * replay, report, inspect). ~15 s alone; `npm run test:package` runs it by itself with its output.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the npm package', () => {
  it('packs, installs into a fresh project, and works there without TypeScript sources or tsx', () => {
    const p = spawnSync(process.execPath, ['tools/pack-check.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
    const out = `${p.stdout}${p.stderr}`;
    expect(p.error, out).toBeUndefined();
    expect(out).not.toContain('FAILED');
    expect(p.status, out).toBe(0);
    for (const check of ['npm pack', 'declarations import', 'npm ci', 'plain node: the README', 'plain node: the three', 'tsc --module nodenext', 'npx svasim: list', 'npx svasim inspect']) {
      expect(out, out).toContain(`ok   ${check}`);
    }
  }, 240_000);
});
