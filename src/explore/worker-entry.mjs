// The module an `explore --workers` thread starts from. The package's build copies it next to the built
// worker (dist/src/explore/), where it loads worker.js with plain Node; in a clone, from src/explore/, it
// registers tsx (a dev dependency) in this thread and loads the TypeScript source, as svasim.mjs does.
import { existsSync } from 'node:fs';

const built = new URL('./worker.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./worker.ts');
}
