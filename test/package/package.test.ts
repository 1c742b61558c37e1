/**
 * The package as users install it: tools/pack-check.mjs packs the project, installs the tarball into a
 * fresh project from the npm cache, and there imports the three entry points with plain node, type-checks
 * a TypeScript file against the installed types (default nodenext settings), runs the CLI (list, run,
 * replay, report, inspect), and runs the composition examples of tools/examples with plain node, then the
 * CLI on their logs and scenarios with their plugins. ~30 s alone; `npm run test:package` runs it by itself
 * with its output.
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
    const examples = ['plain node: the examples run', 'npx svasim replay --plugin', 'npx svasim run --plugin', 'npx svasim inspect device-model.jsonl --plugin'];
    for (const check of ['npm pack', 'declarations import', 'npm ci', 'plain node: the README', 'plain node: the three', 'tsc --module nodenext', 'npx svasim: list', 'npx svasim inspect', ...examples]) {
      expect(out, out).toContain(`ok   ${check}`);
    }
  }, 240_000);
});
