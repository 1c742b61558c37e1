// The module an `explore --workers` thread starts from. The package's build copies it next to the built
// worker (dist/src/explore/), where it loads worker.js with plain Node. In a clone, from src/explore/, it
// loads the clone's build (dist/, which `npm ci` makes) when that was built from exactly the sources
// there now (source-hash.mjs) and the search loads no plugin (a plugin may be TypeScript); otherwise it
// registers tsx (a dev dependency) in this thread and loads the TypeScript source, as svasim.mjs does.
// The built worker starts in about half the time (measured: README, "Benchmark").
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { workerData } from 'node:worker_threads';

const beside = new URL('./worker.js', import.meta.url);
if (existsSync(beside)) {
  await import(beside.href);
} else {
  const root = new URL('../../', import.meta.url);
  const built = new URL('dist/src/explore/worker.js', root);
  const { builtFromSources } = await import('../source-hash.mjs');
  const plugins = workerData?.plugins ?? [];
  const current = plugins.length === 0 && existsSync(built) && builtFromSources(fileURLToPath(root));
  if (current) {
    await import(built.href);
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    await import('./worker.ts');
  }
}
