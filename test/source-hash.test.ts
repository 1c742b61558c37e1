import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { builtFromSources, sourceHash, SOURCE_HASH_FILE } from '../src/source-hash.mjs';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A tree shaped like a clone: sources, the build config, and a build that records the sources' hash. */
function clone(): string {
  const root = mkdtempSync(join(tmpdir(), 'svasim-hash-'));
  dirs.push(root);
  mkdirSync(join(root, 'src/explore'), { recursive: true });
  mkdirSync(join(root, 'machines'), { recursive: true });
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'src/explore/search.ts'), 'export const a = 1;\n');
  writeFileSync(join(root, 'machines/mm.ts'), 'export const b = 2;\n');
  writeFileSync(join(root, 'tsconfig.build.json'), '{}\n');
  writeFileSync(join(root, 'tsconfig.json'), '{}\n');
  writeFileSync(join(root, 'dist', SOURCE_HASH_FILE), `${sourceHash(root)}\n`);
  return root;
}

describe('the build is used only while it was built from the sources as they are (explore workers in a clone)', () => {
  it('a build of these very sources is current', () => {
    expect(builtFromSources(clone())).toBe(true);
  });

  // What makes a build stale: each change, made to a fresh clone.
  const changes: readonly (readonly [string, (root: string) => void])[] = [
    ['a source edited', (r) => writeFileSync(join(r, 'src/explore/search.ts'), 'export const a = 3;\n')],
    ['a source added', (r) => writeFileSync(join(r, 'machines/new.ts'), '\n')],
    ['a source removed', (r) => rmSync(join(r, 'machines/mm.ts'))],
    ['the build config changed', (r) => writeFileSync(join(r, 'tsconfig.build.json'), '{"compilerOptions":{}}\n')],
    ['the config it extends changed', (r) => writeFileSync(join(r, 'tsconfig.json'), '{"compilerOptions":{"target":"es2020"}}\n')],
  ];
  it.each(changes)('%s: the build is stale', (_what, change) => {
    const root = clone();
    change(root);
    expect(builtFromSources(root)).toBe(false);
  });

  it('no build, or sources that cannot be read, is not current (the worker then loads the TypeScript)', () => {
    const none = clone();
    rmSync(join(none, 'dist'), { recursive: true });
    expect(builtFromSources(none)).toBe(false);
    const unreadable = clone();
    rmSync(join(unreadable, 'tsconfig.json'));
    expect(builtFromSources(unreadable)).toBe(false);
  });
});
