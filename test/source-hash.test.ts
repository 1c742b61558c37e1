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

  it('a changed, added or removed source, or a changed build config, makes it stale', () => {
    const edited = clone();
    writeFileSync(join(edited, 'src/explore/search.ts'), 'export const a = 3;\n');
    expect(builtFromSources(edited)).toBe(false);
    const added = clone();
    writeFileSync(join(added, 'machines/new.ts'), '\n');
    expect(builtFromSources(added)).toBe(false);
    const removed = clone();
    rmSync(join(removed, 'machines/mm.ts'));
    expect(builtFromSources(removed)).toBe(false);
    const config = clone();
    writeFileSync(join(config, 'tsconfig.build.json'), '{"compilerOptions":{}}\n');
    expect(builtFromSources(config)).toBe(false);
    const base = clone();
    writeFileSync(join(base, 'tsconfig.json'), '{"compilerOptions":{"target":"es2020"}}\n');
    expect(builtFromSources(base)).toBe(false);
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
