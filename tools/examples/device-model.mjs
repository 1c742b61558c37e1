// Example: a device model of your own, declared in a scenario, run, logged and replayed with the library.
//
//   node device-model.mjs [LOG]        (LOG: where to write the event log, default device-model.jsonl)
//
// iax-plugin.mjs registers the kind "iax" (an xstate machine with its own accept rule: one slot per PASID);
// device-model.json declares `{ "name": "iax0", "kind": "iax", … }` next to svasim's own queue dsa0. This
// script loads the plugin into a kind registry, runs the scenario with it (writing the log), replays the
// log with the same kinds and without them, and prints what the run shows. It exits 1 when anything is
// off (an expectation, the replay, what the log holds), 0 otherwise. The CLI does the same with
//   npx svasim run device-model.json --plugin iax-plugin.mjs --log device-model.jsonl
//   npx svasim replay device-model.jsonl --plugin iax-plugin.mjs
import { fileURLToPath } from 'node:url';
import { loadPlugins, loadScenario, LogError, replayFile, runScenario } from 'svasim';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const log = process.argv[2] ?? 'device-model.jsonl';
const problems = [];
const check = (cond, what) => {
  if (!cond) problems.push(what);
};

// 1. The plugin's kinds, in a registry that also holds svasim's own (thread, mm, iommu, wq, kernel).
const kinds = await loadPlugins([here('iax-plugin.mjs')]);
console.log(`kinds: ${kinds.names().join(', ')} (iax from plugin ${kinds.get('iax')?.definition?.origin?.name})`);

// 2. The scenario names the kind: the loader checks it against the registry (a typo is bad input).
const scenario = loadScenario(here('device-model.json'), undefined, { kinds });

// 3. Run it; every delivered message passes through onRecord. Count each device's answers to ENQCMD.
const answers = { iax0: { accept: 0, retry: 0 }, dsa0: { accept: 0, retry: 0 } };
const result = runScenario(scenario, {
  kinds,
  log,
  onRecord: (d) => {
    const device = d.from.startsWith('wq:') ? d.from.slice(3) : undefined;
    if (device in answers && (d.msg.type === 'wq.accept' || d.msg.type === 'wq.retry')) answers[device][d.msg.type.slice(3)] += 1;
  },
});
for (const f of result.failures) problems.push(`step ${f.step ?? 'final'}: ${f.what}: expected ${f.expected}, got ${f.got}`);
console.log(`run: ${result.messages} messages, ${result.ok ? 'every expectation holds' : `${result.failures.length} failed`}; log ${log}`);
for (const [device, n] of Object.entries(answers)) console.log(`  ${device}: accepted ${n.accept}, retried ${n.retry}`);

// What the run teaches: the same two threads of one process (one PASID) are refused by iax0 (one slot
// per PASID) and accepted by svasim's queue (which counts occupancy only).
const steps = result.steps;
const a1 = (device) => steps.filter((s) => s.step.op === 'enqcmd' && s.step.thread === 'A1' && s.step.device === device).map((s) => s.result);
console.log(`  A1's ENQCMDs: iax0 ${a1('iax0').join(', ')}; dsa0 ${a1('dsa0').join(', ')}`);
check(answers.iax0.retry === 1 && answers.dsa0.retry === 0, 'iax0 retried once and dsa0 never');
check(a1('iax0')[0] === 'retry' && a1('dsa0')[0] === 'accepted', "A1's first ENQCMD: retry by iax0, accepted by dsa0");
check(result.violations.length === 0, 'no invariant violation (svasim\'s and the plugin\'s IAX1)');

// 4. Replay the log with the same kinds: it reproduces every record (seq, cause, payload).
const again = replayFile(log, { kinds });
console.log(`replay with the plugin: ${again.identical ? 'identical' : `diverged at #${again.seq}: logged ${again.expected}, replayed ${again.actual}`} (${again.records} records)`);
check(again.identical, 'the replay with the plugin is identical');

// 5. Without the plugin the log is refused in one line naming it (instead of diverging).
try {
  replayFile(log);
  problems.push('a replay without the plugin was not refused');
} catch (e) {
  if (!(e instanceof LogError)) throw e;
  console.log(`replay without it: refused: ${e.message}`);
  check(/plugin iax-example 1\.0\.0/.test(e.message), 'the refusal names the plugin');
}

if (problems.length > 0) {
  for (const p of problems) console.error(`device-model: ${p}`);
  process.exit(1);
}
console.log('device-model: OK');
