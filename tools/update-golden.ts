/**
 * Regenerates the golden logs in test/fixtures/golden/ from the built-in scenarios. Run it only when a
 * model change is intended (then bump MODEL_VERSION in src/version.ts): `node --import tsx tools/update-golden.ts`.
 * It also writes test/fixtures/format0-seed-b.jsonl: the seed-b golden's records in log format 0 (nested
 * `msg`, no model, no closing record), so the format-0 upcaster is tested against today's model.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  // Format 0: the header without `model`, each record's message nested under `msg`, no closing record.
  const lines = readFileSync(join(GOLDEN_DIR, 'seed-b-fixup-then-dmar.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
  const head = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
  const out = [JSON.stringify({ log: head['log'], version: 0, policy: head['policy'], scenario: head['scenario'] })];
  for (const line of lines.slice(1, -1)) {
    const { seq, type, from, to, cause, step, ...payload } = JSON.parse(line) as Record<string, unknown>;
    out.push(JSON.stringify({ seq, from, to, ...(cause === undefined ? {} : { cause }), step, msg: { type, ...payload } }));
  }
  writeFileSync(join(GOLDEN_DIR, '..', 'format0-seed-b.jsonl'), `${out.join('\n')}\n`);
  console.log(`ok   format0-seed-b: ${out.length - 1} records in format 0`);
}
