/**
 * Regenerates the golden logs in test/fixtures/golden/ from the built-in scenarios. Run it only when a
 * model change is intended (then bump MODEL_VERSION in src/version.ts): `node --import tsx tools/update-golden.ts`.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenarioFile } from '../src/scenario/load.ts';
import { runScenario } from '../src/runner/run.ts';
import { builtinPath } from '../src/scenarios/index.ts';

export const GOLDEN = ['seed-a-unbind-dmar', 'seed-b-fixup-then-dmar', 'merged-b', 'fork-exec-clone', 'exit-teardown-silent', 'lam-v6.4', 'wq-retry'];
export const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'golden');

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(GOLDEN_DIR, { recursive: true });
  for (const name of GOLDEN) {
    const path = builtinPath(name);
    if (!path) throw new Error(`no built-in ${name}`);
    const r = runScenario(loadScenarioFile(path), { log: join(GOLDEN_DIR, `${name}.jsonl`) });
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${name}: ${r.messages} records`);
  }
}
