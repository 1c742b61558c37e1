// Example: actors of your own simulation driving svasim — a workload generator and a fault injector.
//
//   node workload.mjs [LOG]        (LOG: where to write the event log, default workload.jsonl)
//
// workload-plugin.mjs registers two kinds: "workload" (load:w submits ENQCMDs from thread A, the next one
// when it hears the previous one finish) and "injector" (inject:u makes A unbind the device at the third
// accepted ENQCMD). workload.json declares them in `actors`; its steps only spawn A and bind dsa0: the
// rest is the actors' doing. This script runs the scenario twice — as written (the injector unbinds),
// and with the injector closing the device instead — writing a log of each, replays both with the
// plugin's kinds, and prints what became of the descriptors. It exits 1 when anything is off, else 0.
// The CLI does the same with
//   npx svasim run workload.json --plugin workload-plugin.mjs --log workload.jsonl
//   npx svasim replay workload.jsonl --plugin workload-plugin.mjs
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadPlugins, replayFile, runScenario, scenarioFromValue } from 'svasim';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const log = process.argv[2] ?? 'workload.jsonl';
const closeLog = log.replace(/(\.jsonl)?$/, '-close.jsonl');
const problems = [];
const check = (cond, what) => {
  if (!cond) problems.push(what);
};

const kinds = await loadPlugins([here('workload-plugin.mjs')]);
const file = here('workload.json');
const written = JSON.parse(readFileSync(file, 'utf8'));
// The variant: the same scenario, the injector closing the device (what the program's close(2) does).
const closing = structuredClone(written);
closing.name = 'a workload of your own; a fault injector closes the device under it';
closing.actors[1].options.syscall = 'close';
closing.steps[1].expect = { result: 'ok', events: ['pasidtable.set', 'wq.complete', 'sys.close', 'wq.drain', 'pasidtable.clear', 'signal.sigsegv'], noEvents: ['fault.dmar'] };
closing.final = { pasid: { A: 1 }, msr: { A: 1 } };

/** Run one scenario value with the plugin's kinds; what its actors reported, and the problems. */
function run(value, source, logFile) {
  const reports = {};
  let dmar = 0;
  const result = runScenario(scenarioFromValue(value, source, undefined, { kinds }), {
    kinds,
    log: logFile,
    onRecord: (d) => {
      if (d.msg.type === 'load.done' || d.msg.type === 'inject.fired') reports[d.msg.type] = { seq: d.seq, ...d.msg };
      // The observers hear copies of fault.dmar (to load:w); the fault itself is the one to the queue.
      if (d.msg.type === 'fault.dmar' && d.to.startsWith('wq:')) dmar += 1;
    },
  });
  for (const f of result.failures) problems.push(`${source}: step ${f.step ?? 'final'}: ${f.what}: expected ${f.expected}, got ${f.got}`);
  const replayed = replayFile(logFile, { kinds });
  check(replayed.identical, `${source}: the replay of ${logFile} with the plugin is identical`);
  check(reports['load.done'] !== undefined, `${source}: load:w reported load.done`);
  check(reports['inject.fired'] !== undefined, `${source}: inject:u fired`);
  const done = reports['load.done'] ?? {};
  const fired = reports['inject.fired'] ?? {};
  console.log(`${source}: ${result.messages} messages, ${result.ok ? 'every expectation holds' : `${result.failures.length} failed`}, log ${logFile}, replay ${replayed.identical ? 'identical' : 'DIVERGED'}`);
  const syscall = value.actors[1].options.syscall;
  console.log(fired.seq === undefined ? '  inject:u never fired' : `  #${fired.seq} inject:u: ${syscall} of ${fired.device} after accepted ENQCMD ${fired.after}`);
  console.log(done.seq === undefined ? '  load:w never reported' : `  #${done.seq} load:w: submitted ${done.submitted}, completed ${done.completed}, lost to DMAR faults ${done.faulted} (${dmar} faults), SIGSEGV ${done.signalled ? 'yes' : 'no'}`);
  return done;
}

const unbound = run(written, 'workload.json', log);
const closed = run(closing, 'workload.json (injector closes)', closeLog);

// What it shows: after an unbind the program goes on submitting into a queue that accepts (ZF=0) and
// silently loses each descriptor; after a close the next ENQCMD faults on the unmapped portal.
check(unbound.completed === 3 && unbound.faulted === 3 && unbound.signalled === false, 'after the unbind: 3 completed, 3 lost to DMAR faults, no signal');
check(closed.completed === 3 && closed.faulted === 0 && closed.signalled === true, 'after the close: 3 completed, then SIGSEGV');
console.log(`learned: unbind under a running workload loses descriptors without telling the program (${unbound.faulted} of ${unbound.submitted});`);
console.log('         close unmaps the portal first, so the program learns it at its next ENQCMD (SIGSEGV).');

if (problems.length > 0) {
  for (const p of problems) console.error(`workload: ${p}`);
  process.exit(1);
}
console.log('workload: OK');
