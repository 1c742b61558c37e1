// A hash of the sources the build compiles (src/, machines/, tsconfig.build.json and the tsconfig.json it extends): the build records it
// in dist/source-hash.txt, and in a clone the explore workers' entry module (explore/worker-entry.mjs)
// starts from the built JavaScript only when the sources still hash to it — the build is of exactly these
// sources — instead of loading the TypeScript through tsx (about twice the start). Plain Node, no loader.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The hash of the sources under `root` (a directory path): every file's path and bytes, in name order. */
export function sourceHash(root) {
  const h = createHash('sha256');
  const add = (rel) => {
    h.update(rel);
    h.update('\0');
    h.update(readFileSync(join(root, rel)));
    h.update('\0');
  };
  const walk = (rel) => {
    const entries = readdirSync(join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else add(p);
    }
  };
  walk('src');
  walk('machines');
  add('tsconfig.build.json');
  add('tsconfig.json');
  return h.digest('hex');
}

/** The file of the build that records the hash of what it was built from. */
export const SOURCE_HASH_FILE = 'source-hash.txt';

/** Whether `root`'s build (dist/) was made from exactly the sources under `root` now (false when they cannot be read). */
export function builtFromSources(root) {
  const stamp = join(root, 'dist', SOURCE_HASH_FILE);
  try {
    return existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === sourceHash(root);
  } catch {
    return false;
  }
}
