#!/usr/bin/env node
/**
 * The package as a user gets it (`npm run test:package`; CI runs it as its own step, see .ci/run).
 *
 * Packs the project (`npm pack`, which builds it through `prepare`), checks what the tarball holds,
 * installs it into a fresh temporary project — from the npm cache: the project's lock file gives the
 * dependencies' exact versions and integrity, so nothing is resolved against the registry (with
 * `--offline`; only if a tarball is missing from the cache is the registry asked, `--prefer-offline`) —
 * and then, with plain `node` and no TypeScript loader installed:
 *   - imports `svasim`, `svasim/machines` and `svasim/protocol`, runs a scenario, writes its log and
 *     replays it;
 *   - type-checks a TypeScript file against the installed types with default `nodenext` settings
 *     (`tsc --module nodenext --moduleResolution nodenext --strict --noEmit`, no skipLibCheck);
 *   - runs the CLI through `npx svasim`: list, run, replay, report, and inspect (serving its page);
 *   - copies the composition examples (tools/examples: plain JavaScript importing `svasim` by its package
 *     name, with their plugins and scenarios) into the project, runs each with `node`, replays the logs
 *     they wrote with `npx svasim replay --plugin` (and without the plugin: refused in one line, exit 2),
 *     runs their scenarios with `npx svasim run --plugin` and inspects a plugin's log.
 * Prints one line per check; exits 1 at the first failure, naming it. `--keep` keeps the directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const keep = process.argv.includes('--keep');
const started = Date.now();
const tmp = mkdtempSync(join(tmpdir(), 'svasim-pack-'));
const app = join(tmp, 'consumer');
mkdirSync(app);

// The children get a clean environment: no loader or option inherited from whoever runs this check.
const env = { ...process.env, NO_COLOR: '1', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
delete env.NODE_OPTIONS;

class CheckFailed extends Error {}
const fail = (what, detail = '') => {
  throw new CheckFailed(`${what}${detail ? `\n${detail.trimEnd()}` : ''}`);
};
const ok = (what) => process.stdout.write(`ok   ${what}\n`);

/** Run a command to completion; fail (with its output) unless it exits `expect`. */
function run(what, cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: app, env, encoding: 'utf8', timeout: 180_000, maxBuffer: 64 << 20, ...opts });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error) fail(`${what}: ${r.error.message}`, out);
  if (r.status !== (opts.expect ?? 0)) fail(`${what}: exit ${r.status ?? r.signal}`, out);
  return r;
}

function main() {
  // 1. Pack (prepare builds dist/).
  const packed = run('npm pack', 'npm', ['pack', '--json', '--pack-destination', tmp], { cwd: ROOT });
  const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')))[0];
  const files = info.files.map((f) => f.path);
  const outside = files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE', 'scenario.schema.json'].includes(f));
  if (outside.length > 0) fail('the tarball holds files users do not run', outside.join('\n'));
  const sources = files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'));
  if (sources.length > 0) fail('the tarball holds TypeScript sources', sources.join('\n'));
  for (const need of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/machines.d.ts', 'dist/src/protocol.d.ts', 'dist/src/cli/svasim.mjs', 'dist/src/inspect/page/app.js', 'dist/src/inspect/page/index.html', 'dist/src/inspect/page/style.css', 'dist/src/scenarios/seed-a-unbind-dmar.json', 'scenario.schema.json']) {
    if (!files.includes(need)) fail(`the tarball lacks ${need}`);
  }
  ok(`npm pack: ${info.filename}, ${files.length} files, all under dist/ (besides package.json, README.md, scenario.schema.json)`);

  // Declarations name the files the package ships (\`./x.js\`, next to \`./x.d.ts\`), as the JavaScript
  // does: TypeScript 5 also resolves a \`.ts\` specifier to the \`.d.ts\`, but other readers of
  // declarations (older TypeScript, declaration bundlers) look for the file named.
  const tsSpecifiers = [];
  const extract = spawnSync('tar', ['-xzf', join(tmp, info.filename), '-C', tmp], { encoding: 'utf8' });
  if (extract.status !== 0) fail('cannot unpack the tarball', extract.stderr);
  for (const f of files.filter((p) => p.endsWith('.d.ts'))) {
    const text = readFileSync(join(tmp, 'package', f), 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\(\s*)["'](\.{1,2}\/[^"']*\.ts)["']/g)) tsSpecifiers.push(`${f}: ${m[1]}`);
  }
  if (tsSpecifiers.length > 0) fail('declarations import .ts files the package does not ship', tsSpecifiers.slice(0, 10).join('\n'));
  rmSync(join(tmp, 'package'), { recursive: true, force: true });
  ok('declarations import ./*.js (no .ts specifiers)');

  // 2. Install into a fresh project, from the cache. The consumer's lock is svasim's own, minus its dev
  // dependencies (same versions, same layout), plus svasim itself and what the type-check needs.
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
  const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const tarball = `file:../${info.filename}`;
  const forTypes = ['typescript', '@types/node'];
  // The examples write their machines with xstate and their message schemas with zod: a user depends on
  // them directly (the versions svasim depends on, so one copy of each is installed).
  const forExamples = ['xstate', 'zod'];
  const packages = {
    '': {
      name: 'consumer',
      dependencies: {
        svasim: tarball,
        ...Object.fromEntries(forExamples.map((n) => [n, own.dependencies[n]])),
        ...Object.fromEntries(forTypes.map((n) => [n, own.devDependencies[n]])),
      },
    },
    'node_modules/svasim': { version: info.version, resolved: tarball, integrity: info.integrity, license: own.license, dependencies: own.dependencies, bin: own.bin, engines: own.engines },
  };
  const wanted = new Set(forTypes.map((n) => `node_modules/${n}`));
  // What the type-check's packages need, transitively (e.g. @types/node → undici-types).
  for (const p of wanted) for (const d of Object.keys(lock.packages[p]?.dependencies ?? {})) wanted.add(`node_modules/${d}`);
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '') continue;
    if (entry.dev === true && !wanted.has(path)) continue;
    const { dev: _dev, devOptional: _devOptional, ...rest } = entry;
    packages[path] = rest;
  }
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: packages[''].dependencies }, null, 2)}\n`);
  writeFileSync(join(app, 'package-lock.json'), `${JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
  let mode = '--offline';
  let install = spawnSync('npm', ['ci', '--offline', '--ignore-scripts'], { cwd: app, env, encoding: 'utf8', timeout: 180_000 });
  if (install.status !== 0 && /ENOTCACHED/.test(`${install.stdout}${install.stderr}`)) {
    mode = '--prefer-offline (a tarball was not in the npm cache)';
    install = spawnSync('npm', ['ci', '--prefer-offline', '--ignore-scripts'], { cwd: app, env, encoding: 'utf8', timeout: 180_000 });
  }
  if (install.status !== 0) fail(`npm ci of the tarball: exit ${install.status ?? install.signal}`, `${install.stdout}${install.stderr}`);
  for (const devOnly of ['tsx', 'esbuild', 'vitest']) {
    if (existsSync(join(app, 'node_modules', devOnly))) fail(`installing svasim installed ${devOnly}, a dev tool`);
  }
  ok(`npm ci ${mode}: svasim and its dependencies, no tsx or esbuild`);

  // 3. Plain node imports every entry point and uses it.
  writeFileSync(
    join(app, 'use.mjs'),
    `import assert from 'node:assert/strict';
import * as svasim from 'svasim';
import * as machines from 'svasim/machines';
import * as protocol from 'svasim/protocol';
const { loadScenario, runScenario, replayFile, readLog, replay, SeekableLog, System, FifoScheduler, builtinNames } = svasim;
for (const name of ['runScenario', 'loadScenario', 'replay', 'replayFile', 'System', 'FifoScheduler', 'ChoiceScheduler', 'readLog', 'streamLog', 'LogWriter', 'SeekableLog']) {
  assert.ok(name in svasim, 'svasim exports ' + name);
}
for (const name of ['threadMachine', 'mmMachine', 'iommuMachine', 'wqMachine', 'kernelMachine']) {
  assert.equal(typeof machines[name]?.transition, 'function', 'svasim/machines exports the statechart ' + name);
}
assert.equal(protocol.threadAddr('A1'), 'thread:A1');
assert.ok(protocol.MESSAGE_TYPES.includes('fault.dmar'));
assert.ok(builtinNames().includes('seed-a-unbind-dmar'));
const scenario = loadScenario('seed-a-unbind-dmar');
const result = runScenario(scenario, { log: 'lib.jsonl' });
assert.equal(result.ok, true, 'the scenario passes');
assert.ok(result.counts['fault.dmar'] >= 1);
assert.equal(replayFile('lib.jsonl').identical, true, 'replayFile reproduces the log');
assert.equal(replay(readLog('lib.jsonl')).identical, true, 'replay reproduces the log');
const seekable = SeekableLog.open('lib.jsonl', { writeIndex: false });
assert.equal(seekable.log.records.length, result.messages);
const sys = new System({ policy: protocol.DEFAULT_POLICY, cpu: protocol.DEFAULT_CPU, pasidRange: protocol.DEFAULT_PASID_RANGE, devices: [] }, new FifoScheduler());
assert.ok(sys);
assert.throws(() => loadScenario('no-such-scenario'), svasim.ScenarioError);
// explore, as the library: the DMAR race found, the search's summary at its end.
const events = await new Promise((resolve, reject) => {
  const got = [];
  svasim.explore(loadScenario('race-unbind-inflight')).subscribe({ next: (e) => got.push(e), error: reject, complete: () => resolve(got) });
});
assert.deepEqual(events.filter((e) => e.type === 'finding').map((e) => e.finding.what), ['fault.dmar'], 'explore finds the DMAR race');
assert.equal(events.at(-1).type, 'done');
console.log('used: ' + result.messages + ' messages, replayed identical; explore found ' + events.filter((e) => e.type === 'finding').length + ' race');
`,
  );
  // The README's example, as written.
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const example = /```js\n(\/\/ example\.mjs[\s\S]*?)```/.exec(readme)?.[1];
  if (example === undefined) fail("README.md has no ```js block starting with // example.mjs (the Library section's example)");
  writeFileSync(join(app, 'example.mjs'), example);
  const ex = run("node example.mjs (the README's Library example)", process.execPath, ['example.mjs']);
  if (!/every expectation holds/.test(ex.stdout) || !/replay identical: true/.test(ex.stdout)) fail("the README's example did not print what it should", ex.stdout);
  ok("plain node: the README's Library example runs");
  const used = run('node use.mjs (plain node imports svasim, svasim/machines, svasim/protocol and runs a scenario)', process.execPath, ['use.mjs']);
  ok(`plain node: the three entry points import; ${used.stdout.trim()}`);

  // The scenario JSON Schema: resolvable by its export, and the same file an editor finds by the path
  // the README gives ("$schema": "./node_modules/svasim/scenario.schema.json").
  writeFileSync(
    join(app, 'schema.mjs'),
    `import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
const path = createRequire(import.meta.url).resolve('svasim/scenario.schema.json');
assert.equal(fileURLToPath(import.meta.resolve('svasim/scenario.schema.json')), path);
assert.equal(realpathSync(path), realpathSync('node_modules/svasim/scenario.schema.json'));
const schema = JSON.parse(readFileSync(path, 'utf8'));
assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
assert.equal(schema.$id, 'urn:svasim:scenario:1');
assert.deepEqual(schema.required, ['scenario', 'name', 'steps']);
console.log(readFileSync(path, 'utf8').length + ' bytes');
`,
  );
  const schema = run('node schema.mjs (svasim/scenario.schema.json resolves)', process.execPath, ['schema.mjs']);
  ok(`svasim/scenario.schema.json resolves (createRequire, import.meta.resolve) to node_modules/svasim/scenario.schema.json, ${schema.stdout.trim()}`);

  // 4. TypeScript against the installed types, default nodenext settings (no skipLibCheck).
  writeFileSync(
    join(app, 'check.ts'),
    `import { loadScenario, runScenario, replayFile, type RunResult, type Scenario, type Delivered, type Scheduler } from 'svasim';
import { DEFER, Kinds, definePlugin, fromDecider, fromMachine, type KindDefinition } from 'svasim';
import { threadMachine, mmMachine, type ThreadInput, type MmInput, type ActorKind } from 'svasim/machines';
import { threadAddr, type Address, type Message, type MessageOf } from 'svasim/protocol';
import { createMachine } from 'xstate';
import { z } from 'zod';

const scenario: Scenario = loadScenario('seed-a-unbind-dmar', { pasid: 'merged' });
const result: RunResult = runScenario(scenario, { onRecord: (d: Delivered) => void d.msg.type });
const ok: boolean = result.ok && replayFile('lib.jsonl').identical;
const input: ThreadInput = { name: 'A', process: 'A', mm: 1 };
const kind: ActorKind = 'thread';
const to: Address = threadAddr(input.name);
const msg: Message = { type: 'insn.enqcmd', thread: 'A', device: 'dsa0' };
const fault: MessageOf<'fault.dmar'>['type'] = 'fault.dmar';
let scheduler: Scheduler | undefined;
// The types are real, not any: each line below must be an error.
// @ts-expect-error 'gen' is not an address
const bad: Address = 'gen';
// @ts-expect-error no such message type
const badMsg: Message = { type: 'no.such' };
// @ts-expect-error a scenario is not a number
runScenario(42);
void [ok, kind, to, msg, fault, scheduler, bad, badMsg, threadMachine.id, mmMachine.id, {} as MmInput];

// Kinds of your own: a decider that hears copies of svasim's completions and answers with a message type
// of its own (with its zod schema), and a device model that is an xstate machine.
interface Ticks { readonly seen: number }
const ticker: KindDefinition<Ticks> = {
  name: 'ticker',
  prefix: 'tick',
  observes: ['wq.complete'],
  messages: { 'tick.seen': z.strictObject({ type: z.literal('tick.seen'), seen: z.number().int() }) },
  behavior: fromDecider<Ticks>({
    initialState: () => ({ seen: 0 }),
    decide: (m, s) => (m.type === 'wq.complete' ? [{ type: 'tick.seen', seen: s.seen + 1, to: 'user' }] : DEFER),
    evolve: (s, m) => (m.type === 'wq.complete' ? { seen: s.seen + 1 } : s),
  }),
};
const quiet = createMachine({ id: 'quiet', initial: 'on', states: { on: { on: { 'wq.submit': {} } } } });
const kinds: Kinds = new Kinds([ticker, { name: 'quiet', device: true, behavior: fromMachine(quiet) }]);
const withKinds: boolean = runScenario(loadScenario('mine.json', undefined, { kinds }), { kinds }).ok && replayFile('mine.jsonl', { kinds }).identical;
export default definePlugin({ name: 'mine', version: '1.0.0', kinds: [ticker] });
// @ts-expect-error a kind needs a behavior
const noBehavior: KindDefinition = { name: 'x', prefix: 'x' };
// @ts-expect-error a message a decider sends names where it goes (to)
fromDecider<Ticks>({ initialState: () => ({ seen: 0 }), decide: () => [{ type: 'tick.seen' }], evolve: (s) => s });
void [withKinds, noBehavior];

// svasim inside your xstate machine (its output typed as a RunResult, its records as SvasimRecord), and
// svasim's machines in your xstate system through the router.
import { assign, createActor, setup } from 'xstate';
import { createSvasimSystem, fromSvasim, type SvasimRecord } from 'svasim';
const parent = setup({
  types: { context: {} as { seen: number; ok: boolean | null }, events: {} as SvasimRecord },
  actors: { svasim: fromSvasim({ forward: ['fault.dmar'] }) },
}).createMachine({
  context: { seen: 0, ok: null },
  invoke: {
    src: 'svasim',
    input: { scenario },
    onDone: { actions: assign({ ok: ({ event }) => (event.output as RunResult).ok }) },
  },
  on: { 'fault.dmar': { actions: assign({ seen: ({ context, event }) => context.seen + (event.seq > 0 ? 1 : 0) }) } },
});
const routed = createSvasimSystem({ policy: scenario.policy, cpu: scenario.cpu, pasidRange: scenario.iommu.pasidRange, devices: scenario.devices });
void [createActor(parent), routed];
`,
  );
  run('tsc --module nodenext --moduleResolution nodenext --strict --noEmit check.ts', process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '--module', 'nodenext', '--moduleResolution', 'nodenext', '--strict', '--noEmit', 'check.ts']);
  ok('tsc --module nodenext --moduleResolution nodenext --strict --noEmit: check.ts (entry points; kinds of its own: KindDefinition, fromDecider, fromMachine, definePlugin; svasim as an xstate actor and the router) type-checks against the installed types');

  // 5. The CLI, as installed.
  const list = run('npx svasim list', 'npx', ['--no-install', 'svasim', 'list']);
  if (!list.stdout.includes('seed-a-unbind-dmar')) fail('npx svasim list does not list seed-a-unbind-dmar', list.stdout);
  const r = run('npx svasim run seed-a-unbind-dmar --no-log', 'npx', ['--no-install', 'svasim', 'run', 'seed-a-unbind-dmar', '--no-log']);
  if (!r.stdout.includes('PASS')) fail('npx svasim run seed-a-unbind-dmar --no-log does not pass', r.stdout);
  run('npx svasim run seed-a-unbind-dmar --log cli.jsonl', 'npx', ['--no-install', 'svasim', 'run', 'seed-a-unbind-dmar', '--log', 'cli.jsonl', '--quiet']);
  run('npx svasim replay cli.jsonl', 'npx', ['--no-install', 'svasim', 'replay', 'cli.jsonl']);
  run('npx svasim report cli.jsonl --out report.html', 'npx', ['--no-install', 'svasim', 'report', 'cli.jsonl', '--out', 'report.html']);
  const report = readFileSync(join(app, 'report.html'), 'utf8');
  if (!report.includes('window.SVASIM_DATA') || report.length < 20_000) fail('the report does not inline the page and its data');
  const printed = run('npx svasim schema', 'npx', ['--no-install', 'svasim', 'schema']);
  if (printed.stdout !== readFileSync(join(app, 'node_modules/svasim/scenario.schema.json'), 'utf8')) fail('npx svasim schema does not print the shipped scenario.schema.json');
  writeFileSync(join(app, 'mine.json'), '{ "$schema": "./node_modules/svasim/scenario.schema.json", "scenario": 1, "name": "t", "steps": [{ "op": "spawn", "process": "A" }] }\n');
  run('npx svasim run mine.json --no-log (a scenario with the README\'s "$schema")', 'npx', ['--no-install', 'svasim', 'run', 'mine.json', '--no-log']);
  ok('npx svasim: list, run --no-log (PASS), run --log, replay, report, schema (the shipped file), run of a scenario with "$schema"');
  // explore from the package: the race found and its log replayed; 2 worker threads (their entry module ships).
  const found = run('npx svasim explore race-unbind-inflight --out cex', 'npx', ['--no-install', 'svasim', 'explore', 'race-unbind-inflight', '--out', 'cex', '--quiet'], { expect: 1 });
  if (!found.stdout.includes('FOUND: forbidden fault.dmar delivered')) fail('npx svasim explore race-unbind-inflight does not find the DMAR race', found.stdout);
  run('npx svasim replay cex/race-unbind-inflight.fault.dmar.jsonl', 'npx', ['--no-install', 'svasim', 'replay', 'cex/race-unbind-inflight.fault.dmar.jsonl']);
  const two = run('npx svasim explore race-lam-bind-v6.4 --workers 2', 'npx', ['--no-install', 'svasim', 'explore', 'race-lam-bind-v6.4', '--workers', '2', '--quiet']);
  if (!two.stdout.includes('NOTHING FOUND')) fail('npx svasim explore --workers 2 does not prove race-lam-bind-v6.4 safe', two.stdout);
  ok('npx svasim explore: the race found, its log replays; --workers 2 from the package');
  examples();
  return inspectAll();
}

/**
 * The composition examples (tools/examples), each with the plugin it loads, its scenario, the logs it
 * writes and the plugin's name and version as the log header records them. Every example script there
 * must be listed (a new one is not skipped silently).
 */
const EXAMPLES = [
  { script: 'device-model.mjs', plugin: 'iax-plugin.mjs', scenario: 'device-model.json', logs: ['device-model.jsonl'], names: 'iax-example 1.0.0' },
  { script: 'workload.mjs', plugin: 'workload-plugin.mjs', scenario: 'workload.json', logs: ['workload.jsonl', 'workload-close.jsonl'], names: 'workload-example 1.0.0' },
];

/** 6. The examples as a user runs them: copied into the project, plain `node`, then the CLI on their logs. */
function examples() {
  const dir = join(ROOT, 'tools/examples');
  const scripts = readdirSync(dir).filter((f) => f.endsWith('.mjs') && !f.endsWith('-plugin.mjs'));
  const unlisted = scripts.filter((f) => !EXAMPLES.some((e) => e.script === f));
  if (unlisted.length > 0) fail(`tools/examples: ${unlisted.join(', ')} not listed in pack-check's EXAMPLES (its plugin, scenario and logs)`);
  cpSync(dir, join(app, 'examples'), { recursive: true });
  for (const e of EXAMPLES) {
    const name = e.script.replace(/\.mjs$/, '');
    const r = run(`node examples/${e.script}`, process.execPath, [`examples/${e.script}`]);
    if (!r.stdout.includes(`${name}: OK`)) fail(`node examples/${e.script} did not print "${name}: OK"`, `${r.stdout}${r.stderr}`);
  }
  ok(`plain node: the examples run and check themselves (${EXAMPLES.map((e) => e.script).join(', ')})`);

  for (const e of EXAMPLES) {
    const plugin = `examples/${e.plugin}`;
    for (const log of e.logs) {
      const r = run(`npx svasim replay ${log} --plugin ${plugin}`, 'npx', ['--no-install', 'svasim', 'replay', log, '--plugin', plugin]);
      if (!/^identical: /m.test(r.stdout)) fail(`npx svasim replay ${log} --plugin ${plugin} does not say identical`, r.stdout);
      const without = run(`npx svasim replay ${log} (without its plugin: exit 2)`, 'npx', ['--no-install', 'svasim', 'replay', log], { expect: 2 });
      const lines = without.stderr.trimEnd().split('\n');
      const want = `${log}:1: the log needs plugin ${e.names} `;
      if (lines.length !== 1 || !lines[0].startsWith(want) || !lines[0].includes('--plugin FILE')) {
        fail(`npx svasim replay ${log} without its plugin: not one line starting "${want}" and naming --plugin FILE`, without.stderr);
      }
    }
  }
  ok(`npx svasim replay --plugin: the examples' logs (${EXAMPLES.flatMap((e) => e.logs).join(', ')}) replay identical; without the plugin, one line naming it, exit 2`);

  for (const e of EXAMPLES) {
    const plugin = `examples/${e.plugin}`;
    const log = `cli-${e.logs[0]}`;
    const what = `npx svasim run examples/${e.scenario} --plugin ${plugin}`;
    const r = run(what, 'npx', ['--no-install', 'svasim', 'run', `examples/${e.scenario}`, '--plugin', plugin, '--log', log, '--quiet']);
    if (!r.stdout.includes('PASS')) fail(`${what} does not pass`, r.stdout);
    // The same scenario and kinds make the same log, by the CLI as by the library.
    if (readFileSync(join(app, log), 'utf8') !== readFileSync(join(app, e.logs[0]), 'utf8')) fail(`${what}: its log differs from the one examples/${e.script} wrote (${e.logs[0]})`);
  }
  ok(`npx svasim run --plugin: the examples' scenarios pass, each log byte for byte the one the example wrote with the library`);
}

/** `npx svasim inspect`: a built-in scenario live, and an example's log with its plugin. */
async function inspectAll() {
  await inspect(['seed-a-unbind-dmar'], async (url) => {
    const page = await fetchText(url);
    if (!/<script[^>]*src="\/?app\.js"/.test(page)) fail('inspect: / is not the inspector page', page.slice(0, 500));
    const js = await fetchText(`${url}app.js`);
    if (js.length < 20_000) fail(`inspect: /app.js is ${js.length} bytes, not the bundled app`);
    await fetchText(`${url}style.css`);
    const session = JSON.parse(await fetchText(`${url}api/session`));
    if (typeof session !== 'object' || session === null) fail('inspect: /api/session is not a JSON object');
    ok(`npx svasim inspect: serves the page, app.js (${js.length} bytes), style.css and /api/session`);
  });
  await inspect(['device-model.jsonl', '--plugin', 'examples/iax-plugin.mjs'], async (url) => {
    const session = JSON.parse(await fetchText(`${url}api/session`));
    const iax = session.actors?.find((a) => a.address === 'wq:iax0');
    if (iax?.kind !== 'iax') fail('inspect device-model.jsonl --plugin: the session has no actor wq:iax0 of kind iax', JSON.stringify(session.actors));
    if (session.machines?.iax === undefined) fail('inspect device-model.jsonl --plugin: the session has no statechart for the kind iax (an xstate machine)', Object.keys(session.machines ?? {}).join(', '));
    ok(`npx svasim inspect device-model.jsonl --plugin examples/iax-plugin.mjs: wq:iax0 is the plugin's kind, its statechart is drawn (${session.machines.iax.nodes?.length} states)`);
  });
}

/** Start `npx svasim inspect ARGS --port 0`, wait for its URL, hand it to `use`, then stop the server. */
async function inspect(args, use) {
  const child = spawn('npx', ['--no-install', 'svasim', 'inspect', ...args, '--port', '0'], { cwd: app, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (out += b));
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new CheckFailed(`npx svasim inspect ${args.join(' ')}: no URL within 60 s\n${out}`)), 60_000);
      const look = () => {
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      child.stdout.on('data', look);
      child.on('exit', (code) => reject(new CheckFailed(`npx svasim inspect ${args.join(' ')} exited (${code}) before serving\n${out}`)));
    });
    await use(url);
  } finally {
    // npx and the node it started are one process group: end that group (ours, by its id).
    if (child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
  }
}

function fetchText(url) {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new CheckFailed(`inspect: GET ${url}: ${res.statusCode}\n${body}`))));
    }).on('error', (e) => reject(new CheckFailed(`inspect: GET ${url}: ${e.message}`)));
  });
}

try {
  await main();
  process.stdout.write(`package check passed in ${((Date.now() - started) / 1000).toFixed(1)} s${keep ? ` (kept ${tmp})` : ''}\n`);
} catch (e) {
  process.stderr.write(`package check FAILED: ${e instanceof CheckFailed ? e.message : (e?.stack ?? String(e))}\n`);
  if (keep) process.stderr.write(`(kept ${tmp})\n`);
  process.exitCode = 1;
} finally {
  if (!keep) rmSync(tmp, { recursive: true, force: true });
}
