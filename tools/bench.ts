/**
 * svasim benchmark (`npm run bench`). Wall-clock timing lives here only, never in machines/ or src/.
 *
 * 1. Large workload: P processes x T threads that bind, submit ENQCMDs, unbind and exit (>= 1M messages),
 *    run with the event log written to a file: messages/s, log bytes/message, peak RSS. Run with the
 *    default compiled engine and with `engine: 'xstate'` (xstate's interpreter steps every actor).
 * 2. Baseline: a bare xstate `actor.send` loop on svasim's own thread machine (same machine size, no bus,
 *    no log), on one actor and round-robin over as many actors as (1) has threads: sends/s, and ratios.
 * 3. Scaling: messages/s of the same ENQCMD traffic with 10 and with 10,000 live threads.
 * 4. Memory: bytes per idle thread actor (heap delta over 10,000 threads, after GC).
 * 5. Replay of the large log: messages/s, checkpoint index build time and size, stateAt seek times.
 * 6. The inspector's first render of a ~100k-record log in chromium.
 * 7. Exploration (`svasim explore`): distinct states/s of an exhaustive search of more than a million
 *    states (idxd's release path against 2 threads × 3 ENQCMDs), bytes per visited state, the reduction
 *    factor of sleep sets, time to the first counterexample of the DMAR race per strategy, random
 *    schedules/s on a scenario of about 90 messages.
 *
 * Each measurement runs in a fresh Node process (`--part NAME`), so none pays for another's heap or JIT.
 * (1) under both engines, the one-actor part of (2) and the replay rate of (5) run interleaved in rounds, and the ratios
 * between them are taken within each round: this VM's speed drifts by ±20% over minutes.
 *
 * Options: --processes N (default 1000) --threads N (8) --enqcmds N (20) --quick (small sizes for a smoke run);
 * --only explore (just the exploration table).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { createActor, createMachine } from 'xstate';
import { threadMachine } from '../machines/thread.ts';
import type { Outgoing } from '../machines/protocol.ts';
import { runScenario } from '../src/runner/run.ts';
import type { Scenario, Step } from '../src/scenario/types.ts';
import { System, type EngineKind } from '../src/runtime/system.ts';
import { readLog } from '../src/log/reader.ts';
import { replayFile } from '../src/replay/replay.ts';
import { SeekableLog } from '../src/replay/checkpoints.ts';
import { chromium } from 'playwright-core';
import { lastValueFrom, toArray } from 'rxjs';
import { explore, tuneGcForLanes } from '../src/explore/index.ts';
import { ExploreModel } from '../src/explore/model.ts';
import { Search } from '../src/explore/search.ts';
import { loadScenarioFile, scenarioFromValue } from '../src/scenario/load.ts';
import { builtinPath } from '../src/scenarios/index.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../src/inspect/browser.ts';
import { builtFromSources } from '../src/source-hash.mjs';

const { values } = parseArgs({
  options: {
    processes: { type: 'string' },
    threads: { type: 'string' },
    enqcmds: { type: 'string' },
    quick: { type: 'boolean' },
    part: { type: 'string' },
    log: { type: 'string' },
    only: { type: 'string' },
  },
});
const quick = values.quick === true;
const P = Number(values.processes ?? (quick ? 50 : 1000));
const T = Number(values.threads ?? 8);
const E = Number(values.enqcmds ?? (quick ? 5 : 20));
const DEVICES = ['dsa0', 'dsa1', 'iax0', 'iax1'];

const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
};

function baseScenario(name: string, steps: Step[]): Scenario {
  return {
    scenario: 1,
    name,
    policy: { pasid: 'seed-2021', lam: 'poc-2022' },
    cpu: { enqcmd: true, lam: true },
    iommu: { pasidRange: [1, 0xfffff] },
    devices: DEVICES.map((d) => ({ name: d, wqSize: 128, threshold: 128, autoComplete: true })),
    steps,
    final: { pasid: {}, refs: {}, msr: {} },
    forbid: [],
  };
}

const threadName = (p: number, t: number): string => (t === 0 ? `p${p}` : `p${p}t${t}`);

/** All processes start, bind and clone first; then ENQCMDs round-robin over every thread; then unbind and exit. */
function workload(processes: number, threads: number, enqcmds: number): Scenario {
  const steps: Step[] = [];
  for (let p = 0; p < processes; p++) {
    const dev = DEVICES[p % DEVICES.length] ?? 'dsa0';
    steps.push({ op: 'spawn', process: threadName(p, 0) });
    steps.push({ op: 'bind', thread: threadName(p, 0), device: dev });
    for (let t = 1; t < threads; t++) steps.push({ op: 'clone', thread: threadName(p, 0), new: threadName(p, t) });
  }
  for (let i = 0; i < enqcmds; i++) {
    for (let p = 0; p < processes; p++) {
      const dev = DEVICES[p % DEVICES.length] ?? 'dsa0';
      for (let t = 0; t < threads; t++) steps.push({ op: 'enqcmd', thread: threadName(p, t), device: dev });
    }
  }
  for (let p = 0; p < processes; p++) {
    const dev = DEVICES[p % DEVICES.length] ?? 'dsa0';
    steps.push({ op: 'unbind', thread: threadName(p, 0), device: dev });
    for (let t = threads - 1; t >= 0; t--) steps.push({ op: 'exit', thread: threadName(p, t) });
  }
  return baseScenario(`bench ${processes}x${threads}x${enqcmds}`, steps);
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

// ---- 1. large workload with the log on ----
function bigRun(engine: EngineKind): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'svasim-bench-'));
  const logPath = join(dir, 'bench.jsonl');
  const big = workload(P, T, E);
  gc();
  const t0 = performance.now();
  const r = runScenario(big, { log: logPath, engine });
  const runMs = performance.now() - t0;
  const logBytes = statSync(logPath).size;
  rmSync(dir, { recursive: true, force: true });
  if (!r.ok) throw new Error(`bench workload failed: ${r.failures.slice(0, 3).map((f) => `${f.what}: ${f.got}`).join('; ')}`);
  return { messages: r.messages, rate: r.messages / (runMs / 1000), bytesPerMessage: logBytes / r.messages, peakRssMb: process.resourceUsage().maxRSS / 1024 };
}

// ---- 1b. replay, checkpoint index and seeks on the same large log ----
/** Write the large workload's log (in its own process, so the replay below starts as `svasim replay` does). */
function replayGen(logPath: string): Record<string, number> {
  const r = runScenario(workload(P, T, E), { log: logPath });
  return { messages: r.messages };
}

/** What `svasim replay` does: stream the log, checking and re-executing each record (nothing kept). */
function replayRate(logPath: string): Record<string, number> {
  gc();
  const t = performance.now();
  const r = replayFile(logPath);
  const replayMs = performance.now() - t;
  if (!r.identical) throw new Error(`bench log did not replay: seq ${r.seq}`);
  return { rate: r.records / (replayMs / 1000) };
}

/** Reading the whole log, building the checkpoint index, and seeking. */
function replayRun(logPath: string): Record<string, number> {
  gc();
  // Reading the whole log into memory (what seeking and the inspector start from).
  let t = performance.now();
  const log = readLog(logPath);
  const parseMs = performance.now() - t;
  t = performance.now();
  const seek = SeekableLog.open(logPath);
  const indexMs = performance.now() - t;
  const indexBytes = statSync(`${logPath}.idx`).size;
  // Seeks at seqs spread over the log (deterministic: a fixed stride, not Math.random).
  const n = log.records.length;
  const times: number[] = [];
  for (let k = 1; k <= 15; k++) {
    const seq = Math.floor((n * ((k * 7919) % 97)) / 97) + 1;
    t = performance.now();
    seek.stateAt(Math.min(seq, n));
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return {
    records: n,
    parseMs,
    indexMs,
    indexMb: indexBytes / 2 ** 20,
    checkpoints: seek.checkpoints.length,
    seekMedianMs: times[Math.floor(times.length / 2)] ?? 0,
    seekMaxMs: times[times.length - 1] ?? 0,
  };
}

// ---- 2. bare xstate actor.send loop on the thread machine ----
/**
 * `actors` thread actors driven round-robin with the ENQCMD cycle of the workload (enqcmd, accept,
 * complete): the cost of xstate alone, with no bus, scheduler, monitor or log.
 */
function bareSendRate(sends: number, actors: number): number {
  let emitted = 0;
  const pool = Array.from({ length: actors }, (_, i) => {
    const name = `bare${i}`;
    const a = createActor(threadMachine, { input: { name, process: 'bare', mm: 1 } });
    a.on('*', (_e: Outgoing) => {
      emitted++;
    });
    a.start();
    // Into the workload's steady state: #GP, fixup, accepted; from then on the MSR is valid.
    a.send({ type: 'insn.enqcmd', thread: name, device: 'dsa0' });
    a.send({ type: 'msr.write', thread: name, pasid: 1 });
    a.send({ type: 'gp.fixup', thread: name });
    a.send({ type: 'wq.accept', thread: name, pasid: 1, occupancy: 1 });
    return { a, enq: { type: 'insn.enqcmd', thread: name, device: 'dsa0' } as const, acc: { type: 'wq.accept', thread: name, pasid: 1, occupancy: 1 } as const, done: { type: 'wq.complete', thread: name, pasid: 1 } as const };
  });
  emitted = 0;
  const rounds = Math.floor(sends / 3);
  const start = performance.now();
  for (let i = 0; i < rounds; i++) {
    const t = pool[i % actors];
    if (t === undefined) continue;
    t.a.send(t.enq);
    t.a.send(t.acc);
    t.a.send(t.done);
  }
  const ms = performance.now() - start;
  if (emitted < rounds) throw new Error('bare loop did not run the machine');
  return (rounds * 3) / (ms / 1000);
}

/** The floor of xstate itself: a two-state machine with no guards, actions or context changes. */
function floorSendRate(sends: number): number {
  const m = createMachine({ initial: 'a', states: { a: { on: { go: 'b' } }, b: { on: { go: 'a' } } } });
  const a = createActor(m).start();
  const ev = { type: 'go' } as const;
  const start = performance.now();
  for (let i = 0; i < sends; i++) a.send(ev);
  const ms = performance.now() - start;
  if (a.getSnapshot().value !== (sends % 2 === 0 ? 'a' : 'b')) throw new Error('floor loop did not run the machine');
  return sends / (ms / 1000);
}

// ---- 3. scaling with live threads ----
function scalingRate(liveThreads: number, totalEnqcmds: number): number {
  const processes = Math.max(1, Math.floor(liveThreads / 10));
  const perProcess = Math.ceil(liveThreads / processes);
  const steps: Step[] = [];
  for (let p = 0; p < processes; p++) {
    steps.push({ op: 'spawn', process: threadName(p, 0) });
    steps.push({ op: 'bind', thread: threadName(p, 0), device: 'dsa0' });
    for (let t = 1; t < perProcess; t++) steps.push({ op: 'clone', thread: threadName(p, 0), new: threadName(p, t) });
  }
  const setup = steps.length;
  const all = processes * perProcess;
  for (let i = 0; i < totalEnqcmds; i++) {
    const k = i % all;
    steps.push({ op: 'enqcmd', thread: threadName(Math.floor(k / perProcess), k % perProcess), device: 'dsa0' });
  }
  const s = baseScenario(`scaling ${liveThreads}`, steps);
  let firstSeq = 0;
  let startMs = 0;
  let endMs = 0;
  let lastSeq = 0;
  runScenario(s, {
    onStep: (o) => {
      if (o.index === setup - 1) {
        startMs = performance.now();
      }
    },
    onRecord: (d) => {
      if (startMs === 0) firstSeq = d.seq;
      lastSeq = d.seq;
      endMs = performance.now();
    },
  });
  return (lastSeq - firstSeq) / ((endMs - startMs) / 1000);
}
const enqForScaling = quick ? 20_000 : 400_000;
const manyThreads = quick ? 1_000 : 10_000;

// ---- 4. bytes per idle thread actor ----
function bytesPerThread(n: number): number {
  const cfg = baseScenario('memory', []);
  const sys = new System({ policy: cfg.policy, cpu: cfg.cpu, pasidRange: cfg.iommu.pasidRange, devices: cfg.devices });
  sys.input({ type: 'sys.spawn', process: 'root' }, 'kernel', 0);
  sys.runToQuiescence();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) {
    sys.input({ type: 'sys.clone', thread: 'root', new: `t${i}` }, 'thread:root', 1);
    sys.runToQuiescence();
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  if (sys.thread(`t${n - 1}`) === undefined) throw new Error('threads were not created');
  return (after - before) / n;
}
// ---- each part in its own process ----
// ---- 6. the inspector: first render of a ~100k-message log in chromium ----
async function inspectRender(logPath: string): Promise<Record<string, number>> {
  // The server runs as users run it: `svasim inspect <log>` in its own process (so its work does not
  // delay the browser driver here). Open time: until it prints its URL (start-up and index build).
  let t = performance.now();
  const server = spawn(process.execPath, [fileURLToPath(new URL('../src/cli/svasim.mjs', import.meta.url)), 'inspect', logPath, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`svasim inspect exited (${code}) before printing its URL: ${out}`)));
  });
  const openMs = performance.now() - t;
  const records = readLog(logPath).records.length;
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    t = performance.now();
    await page.goto(url);
    await page.waitForSelector('#sequence .msg-row');
    await page.waitForSelector('#statecharts [data-actor]');
    const renderMs = performance.now() - t;
    // A jump to the middle of the log: every panel follows.
    const mid = Math.floor(records / 2);
    t = performance.now();
    await page.fill('#seq-input', String(mid));
    await page.click('#btn-jump');
    await page.waitForFunction((s) => (document.querySelector('#seq-current')?.textContent ?? '').trim() === String(s), mid);
    await page.waitForSelector(`#sequence .msg-row[data-seq="${mid}"]`);
    const jumpMs = performance.now() - t;
    return { records, openMs, renderMs, jumpMs };
  } finally {
    await browser.close();
    server.kill('SIGINT');
  }
}

// ---- 7. exploration ----
/** idxd's release path (open, mmap, close) against `threads` threads × `enqcmds` ENQCMDs, `completes` completions. */
function releaseRace(threads: number, enqcmds: number, completes: number): Scenario {
  const steps: unknown[] = [{ op: 'spawn', process: 'A' }, { op: 'open', thread: 'A', device: 'dsa0', fd: 'wq' }, { op: 'mmap', thread: 'A', fd: 'wq' }];
  for (let i = 1; i <= threads; i++) steps.push({ op: 'clone', thread: 'A', new: `W${i}` });
  for (let k = 0; k < enqcmds; k++) for (let i = 1; i <= threads; i++) steps.push({ op: 'enqcmd', thread: `W${i}`, device: 'dsa0' });
  for (let k = 0; k < completes; k++) steps.push({ op: 'complete', device: 'dsa0', count: 1 });
  steps.push({ op: 'close', thread: 'A', device: 'dsa0' });
  return scenarioFromValue(
    { scenario: 1, name: `release race ${threads}x${enqcmds}`, policy: { pasid: 'seed-2021', lam: 'poc-2022' }, devices: [{ name: 'dsa0', wqSize: 32, threshold: 16, autoComplete: false }], forbid: ['fault.dmar'], steps },
    'bench.json',
  );
}

function exhaust(s: Search): void {
  while (!s.advance(100_000));
}

const PARTS_EXPLORE: Record<string, () => Record<string, number> | Promise<Record<string, number>>> = {
  exploreBig: () => {
    const sc = quick ? releaseRace(2, 2, 1) : releaseRace(2, 3, 2);
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    const s = new Search(new ExploreModel(sc), { strategy: 'bfs' });
    // The heap's peak, sampled between slices (garbage not yet collected included).
    let peak = 0;
    while (!s.advance(100_000)) peak = Math.max(peak, getHeapStatistics().used_heap_size);
    const ms = performance.now() - t;
    const cpu = process.cpuUsage(cpu0);
    gc();
    const st = s.stats();
    if (s.boundedBy().length > 0 || s.findings().length > 0) throw new Error(`the release race was not searched to the end: ${s.boundedBy().join(', ')} ${s.findings().map((f) => f.what).join(', ')}`);
    // Cores busy: the search's thread and V8's garbage collector's helper threads.
    const cores = (cpu.user + cpu.system) / 1000 / ms;
    return { distinct: st.distinct, transitions: st.transitions, ms, rate: (st.distinct * 1000) / ms, tableBytesPerState: st.tableBytes / st.distinct, heapMb: (process.memoryUsage().heapUsed - heap0) / 2 ** 20, peakMb: (peak - heap0) / 2 ** 20, cores };
  },
  exploreWorkers: async () => {
    const sc = quick ? releaseRace(2, 2, 1) : releaseRace(2, 3, 2);
    // As `svasim explore --workers 2` runs (one worker, exploreBig, keeps V8's parallel young-generation collection).
    tuneGcForLanes();
    const events = await lastValueFrom(explore(sc, { workers: 2, progressEveryMs: 60_000 }).pipe(toArray()));
    const done = events.at(-1);
    if (done?.type !== 'done' || !done.summary.complete) throw new Error('the 2-worker search did not complete');
    const st = done.summary.stats;
    // startMs: the worker thread's start (it loads the model while the calling thread already searches).
    // The worker loads the clone's build when it is current (explore/worker-entry.mjs), else the TypeScript through tsx.
    const built = builtFromSources(fileURLToPath(new URL('..', import.meta.url))) ? 1 : 0;
    return { distinct: st.distinct, transitions: st.transitions, ms: st.elapsedMs, rate: st.rate, startMs: st.startMs, built };
  },
  exploreReduction: () => {
    const sc = releaseRace(2, 2, 1);
    let t = performance.now();
    const full = new Search(new ExploreModel(sc), { strategy: 'bfs', reduction: false });
    exhaust(full);
    const fullMs = performance.now() - t;
    t = performance.now();
    const reduced = new Search(new ExploreModel(sc), { strategy: 'bfs' });
    exhaust(reduced);
    const reducedMs = performance.now() - t;
    if (full.stats().distinct !== reduced.stats().distinct) throw new Error('sleep sets changed the states reached');
    return { distinct: full.stats().distinct, fullTransitions: full.stats().transitions, reducedTransitions: reduced.stats().transitions, fullMs, reducedMs };
  },
  exploreFirst: () => {
    const sc = loadScenarioFile(builtinPath('race-unbind-inflight') ?? '');
    const out: Record<string, number> = {};
    for (const strategy of ['bfs', 'random', 'pct'] as const) {
      const t = performance.now();
      const s = new Search(new ExploreModel(sc), { strategy, seed: 1, schedules: 100_000 });
      exhaust(s);
      out[`${strategy}Ms`] = performance.now() - t;
      out[`${strategy}Found`] = s.findings().length;
      out[`${strategy}Schedules`] = s.stats().schedules;
      out[`${strategy}Transitions`] = s.stats().transitions;
    }
    return out;
  },
  exploreRandom: () => {
    const sc = loadScenarioFile(builtinPath('race-release-enqcmd') ?? '');
    const warm = new Search(new ExploreModel(sc), { strategy: 'random', seed: 9, schedules: 300, continueAfterFinding: true });
    exhaust(warm);
    const n = quick ? 1000 : 5000;
    const t = performance.now();
    const s = new Search(new ExploreModel(sc), { strategy: 'random', seed: 1, schedules: n, continueAfterFinding: true });
    exhaust(s);
    const ms = performance.now() - t;
    return { schedules: s.stats().schedules, perSchedule: s.stats().transitions / s.stats().schedules, ms, rate: (s.stats().schedules * 1000) / ms };
  },
};

/** The exploration table (part 7), each figure from fresh processes. */
function exploreRows(): [string, string, string][] {
  // One worker and two, in alternating rounds (this VM's speed drifts): the ratio within each round.
  const pairs = Array.from({ length: quick ? 1 : 5 }, () => ({ one: runPart('exploreBig'), two: runPart('exploreWorkers') }));
  const ratios = pairs.map((p) => num(p.two, 'rate') / num(p.one, 'rate')).sort((a, b) => a - b);
  const starts = pairs.map((p) => num(p.two, 'startMs')).sort((a, b) => a - b);
  const big = [...pairs.map((p) => p.one)].sort((a, b) => num(a, 'rate') - num(b, 'rate'))[Math.floor(pairs.length / 2)] ?? {};
  const red = runPart('exploreReduction');
  const first = runPart('exploreFirst');
  const rnd = medianPart('exploreRandom', 'rate', quick ? 1 : 5);
  const firstRow = (k: string, what: string): [string, string, string] => [
    `time to the first counterexample of the DMAR race (race-unbind-inflight), ${what}`,
    num(first, `${k}Found`) > 0
      ? `${fmt(num(first, `${k}Ms`))} ms${k === 'bfs' ? `, ${fmt(num(first, `${k}Transitions`))} transitions` : `, ${fmt(num(first, `${k}Schedules`))} schedules`}`
      : `not found in ${fmt(num(first, `${k}Schedules`))} schedules (${fmt(num(first, `${k}Ms`) / 1000, 1)} s)`,
    '',
  ];
  return [
    ['exhaustive search: the release race, 2 threads × 3 ENQCMDs, 2 completions (distinct states)', fmt(num(big, 'distinct')), '≥ 1,000,000'],
    ['  distinct states/s, one worker (median of the rounds)', fmt(num(big, 'rate')), '≥ 50,000'],
    ['  transitions taken, and the time (s)', `${fmt(num(big, 'transitions'))}, ${fmt(num(big, 'ms') / 1000, 1)}`, ''],
    ['  bytes per visited state (the fingerprint table)', fmt(num(big, 'tableBytesPerState'), 1), '≤ 16'],
    ['  heap at its peak, over the start (MiB, sampled between slices, garbage included); kept after it (memoized steps)', `${fmt(num(big, 'peakMb'))}; ${fmt(num(big, 'heapMb'))}`, ''],
    ['2 workers vs 1 (distinct states/s end to end, the same search; median of the rounds\' ratios)', `${fmt(ratios[Math.floor(ratios.length / 2)] ?? 0, 2)}× (${pairs.map((p) => `${fmt(num(p.one, 'rate'))} → ${fmt(num(p.two, 'rate'))}`).join(', ')})`, '≥ 1.7×'],
    ['  cores one worker keeps busy (its thread, and the garbage collector\'s helpers on the other core)', fmt(num(big, 'cores'), 2), ''],
    ['  the rounds\' ratios, lowest to highest', ratios.map((r) => `${fmt(r, 2)}×`).join(', '), ''],
    [`  the worker thread's start (it loads the model while the calling thread searches: median ms; from ${pairs.every((p) => num(p.two, 'built') === 1) ? 'the clone\'s build' : 'the TypeScript, through tsx: the build was not current'})`, fmt(starts[Math.floor(starts.length / 2)] ?? 0), ''],
    [`reduction (race-release-enqcmd, ${fmt(num(red, 'distinct'))} states either way): transitions without / with sleep sets`, `${fmt(num(red, 'fullTransitions'))} / ${fmt(num(red, 'reducedTransitions'))} = ${fmt(num(red, 'fullTransitions') / num(red, 'reducedTransitions'), 2)}×`, 'beyond Spin\'s 15–25%'],
    ['  time without / with (s)', `${fmt(num(red, 'fullMs') / 1000, 1)} / ${fmt(num(red, 'reducedMs') / 1000, 1)}`, ''],
    firstRow('bfs', 'bfs'),
    firstRow('random', 'random (seed 1)'),
    firstRow('pct', 'PCT depth 3 (seed 1)'),
    [`random schedules/s (race-release-enqcmd, ${fmt(num(rnd, 'perSchedule'))} transitions a schedule; median of 5 runs)`, `${fmt(num(rnd, 'rate'))} (runs spread ${fmt(num(rnd, 'spread'), 2)}×)`, '≥ 3,000'],
  ];
}

const logArg = (): string => {
  if (values.log === undefined) throw new Error('this part needs --log');
  return values.log;
};
const PARTS: Record<string, () => Record<string, number> | Promise<Record<string, number>>> = {
  inspect: () => inspectRender(logArg()),
  big: () => bigRun('compiled'),
  bigXstate: () => bigRun('xstate'),
  replayGen: () => replayGen(logArg()),
  replay: () => replayRun(logArg()),
  replayRate: () => replayRate(logArg()),
  bare1: () => {
    bareSendRate(300_000, 1); // warm up
    return { rate: bareSendRate(3_000_000, 1) };
  },
  bareMany: () => {
    bareSendRate(300_000, 1);
    return { rate: bareSendRate(3_000_000, P * T) };
  },
  floor: () => {
    floorSendRate(300_000);
    return { rate: floorSendRate(3_000_000) };
  },
  scaleFew: () => {
    scalingRate(10, 5_000); // warm up
    return { rate: scalingRate(10, enqForScaling) };
  },
  scaleMany: () => {
    scalingRate(10, 5_000);
    return { rate: scalingRate(manyThreads, enqForScaling) };
  },
  memory: () => ({ bytesPerThread: bytesPerThread(10_000) }),
  ...PARTS_EXPLORE,
};

function runPart(name: string, extra: string[] = []): Record<string, number> {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), '--part', name, '--processes', String(P), '--threads', String(T), '--enqcmds', String(E), ...extra];
  if (quick) args.push('--quick');
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, number>;
}

/** Run a part `times` times (each in a fresh process) and keep the run with the median `key`: this
 * machine's timings vary by ±20% from run to run, so one sample says little. */
function medianPart(name: string, key: string, times = 3, extra: string[] = []): Record<string, number> & { spread: number } {
  const runs = Array.from({ length: times }, () => runPart(name, extra)).sort((a, b) => num(a, key) - num(b, key));
  const mid = runs[Math.floor(runs.length / 2)];
  const lo = runs[0];
  const hi = runs[runs.length - 1];
  if (!mid || !lo || !hi) throw new Error(`bench part ${name} gave no result`);
  return { ...mid, spread: num(hi, key) / num(lo, key) };
}

const num = (r: Record<string, number>, k: string): number => {
  const v = r[k];
  if (v === undefined) throw new Error(`bench part did not report ${k}`);
  return v;
};

if (values.part !== undefined) {
  const part = PARTS[values.part];
  if (!part) throw new Error(`unknown --part ${values.part}`);
  console.log(JSON.stringify(await part()));
} else if (values.only === 'explore') {
  printTable('exploration', exploreRows());
} else {
  if (values.only !== undefined) throw new Error(`--only expects explore, got ${values.only}`);
  // Live, bare and replay runs interleaved in rounds, each in a fresh process: this shared VM's speed
  // drifts by ±20% over minutes, so figures compared with each other (the ratios) are taken within a
  // round, and each reported figure is the median over the rounds.
  const dir = mkdtempSync(join(tmpdir(), 'svasim-bench-'));
  const logPath = join(dir, 'bench.jsonl');
  const ROUNDS = 5;
  const bareMany = num(medianPart('bareMany', 'rate'), 'rate');
  const floor = num(medianPart('floor', 'rate'), 'rate');
  // Few and many live threads, paired in rounds too (their ratio is a target).
  const scaling = Array.from({ length: ROUNDS }, () => ({ few: num(runPart('scaleFew'), 'rate'), many: num(runPart('scaleMany'), 'rate') }));
  const perThread = num(runPart('memory'), 'bytesPerThread');
  const rounds: { live: Record<string, number>; liveX: number; bare1: number; replay: number }[] = [];
  let rep: Record<string, number>;
  let insp: Record<string, number> | null;
  try {
    runPart('replayGen', ['--log', logPath]);
    for (let k = 0; k < ROUNDS; k++) {
      const live = runPart('big');
      const liveX = num(runPart('bigXstate'), 'rate');
      const bare1 = num(runPart('bare1'), 'rate');
      const replay = num(runPart('replayRate', ['--log', logPath]), 'rate');
      rounds.push({ live, liveX, bare1, replay });
    }
    rep = runPart('replay', ['--log', logPath]);
    rmSync(logPath, { force: true });
    rmSync(`${logPath}.idx`, { force: true });
    // The inspector on a ~100k-message log (80 processes: a tenth of the large workload).
    execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--part', 'replayGen', '--processes', String(Math.max(1, Math.round(P / 12.5))), '--threads', String(T), '--enqcmds', String(E), '--log', logPath]);
    insp = existsSync(CHROMIUM_PATH) ? medianPart('inspect', 'renderMs', 3, ['--log', logPath]) : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (xs: number[]): number => {
    const v = [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    if (v === undefined) throw new Error('no rounds');
    return v;
  };
  const lives = rounds.map((r) => num(r.live, 'rate'));
  const liveRate = med(lives);
  const big = rounds.find((r) => num(r.live, 'rate') === liveRate)?.live ?? {};
  const bare1 = med(rounds.map((r) => r.bare1));
  const rows: [string, string, string][] = [
    ['workload', `${fmt(P)} processes × ${T} threads × ${E} ENQCMDs (bind, submit, unbind, exit)`, ''],
    ['messages', fmt(num(big, 'messages')), '≥ 1,000,000'],
    [`messages/s, log written to a file (median of ${ROUNDS} rounds)`, fmt(liveRate), '≥ 100,000'],
    ['  each round', lives.map((x) => fmt(x)).join(' / '), ''],
    [`messages/s with \`--engine xstate\` (xstate's interpreter steps every actor; median of ${ROUNDS} rounds)`, fmt(med(rounds.map((r) => r.liveX))), ''],
    ['  each round', rounds.map((r) => fmt(r.liveX)).join(' / '), ''],
    ['bare xstate actor.send/s, 1 thread actor (no bus, no log)', fmt(bare1), ''],
    ['ratio svasim / bare send (1 actor), median of the rounds\' ratios', fmt(med(rounds.map((r) => num(r.live, 'rate') / r.bare1)), 2), '≥ 0.5'],
    ['  each round', rounds.map((r) => fmt(num(r.live, 'rate') / r.bare1, 2)).join(' / '), ''],
    ['ratio with `--engine xstate` / bare send (1 actor), median of the rounds\' ratios', fmt(med(rounds.map((r) => r.liveX / r.bare1)), 2), ''],
    [`bare xstate actor.send/s, ${fmt(P * T)} thread actors round-robin`, fmt(bareMany), ''],
    [`ratio svasim / bare send (${fmt(P * T)} actors)`, fmt(liveRate / bareMany, 2), ''],
    ['xstate floor: actor.send/s on a 2-state machine with no actions', fmt(floor), ''],
    ['log bytes/message', fmt(num(big, 'bytesPerMessage'), 1), ''],
    ['peak RSS (MiB)', fmt(num(big, 'peakRssMb')), ''],
    [`messages/s with 10 live threads (median of ${ROUNDS} rounds)`, fmt(med(scaling.map((r) => r.few))), ''],
    [`messages/s with ${fmt(manyThreads)} live threads (median of ${ROUNDS} rounds)`, fmt(med(scaling.map((r) => r.many))), ''],
    ['ratio many / few threads, median of the rounds\' ratios', fmt(med(scaling.map((r) => r.many / r.few)), 2), '≥ 0.8'],
    ['  each round', scaling.map((r) => fmt(r.many / r.few, 2)).join(' / '), ''],
    ['bytes per idle thread actor', fmt(perThread), ''],
    ['replay: messages/s, `svasim replay` of the large log (read, check, re-execute, streamed)', fmt(med(rounds.map((r) => r.replay))), '≥ live rate'],
    ['  each round', rounds.map((r) => fmt(r.replay)).join(' / '), ''],
    ['ratio replay / live, median of the rounds\' ratios', fmt(med(rounds.map((r) => r.replay / num(r.live, 'rate'))), 2), '≥ 1'],
    ['  each round', rounds.map((r) => fmt(r.replay / num(r.live, 'rate'), 2)).join(' / '), ''],
    ['reading and schema-checking the whole log into memory (s)', fmt(num(rep, 'parseMs') / 1000, 1), ''],
    [`checkpoint index: build time (s), ${fmt(num(rep, 'checkpoints'))} checkpoints`, fmt(num(rep, 'indexMs') / 1000, 1), ''],
    ['checkpoint index: size (MiB)', fmt(num(rep, 'indexMb'), 1), ''],
    ['stateAt at 15 spread seqs: median (ms)', fmt(num(rep, 'seekMedianMs')), '≤ 200'],
    ['stateAt: slowest of the 15 (ms)', fmt(num(rep, 'seekMaxMs')), ''],
    ...(insp
      ? ([
          [`inspect: open a ${fmt(num(insp, 'records'))}-record log (index build) (s)`, fmt(num(insp, 'openMs') / 1000, 1), ''],
          ['inspect: first render in chromium, cold browser (s, median of 3)', fmt(num(insp, 'renderMs') / 1000, 2), '< 2'],
          ['inspect: jump to the middle seq, every panel updated (ms)', fmt(num(insp, 'jumpMs')), ''],
        ] as [string, string, string][])
      : ([['inspect: first render', `not measured: ${CHROMIUM_PATH} is missing`, '< 2']] as [string, string, string][])),
  ];
  printTable('runtime', rows);
  printTable('exploration', exploreRows());
}

function printTable(what: string, rows: readonly [string, string, string][]): void {
  console.log(`svasim bench (${what}) — node ${process.version} ${process.execArgv.filter((a) => a.startsWith('--no-') || a.startsWith('--max')).join(' ')}, ${quick ? 'quick sizes' : 'full sizes'}, each part in a fresh process\n`);
  console.log('| measure | value | target |');
  console.log('|---|---|---|');
  for (const [k, v, target] of rows) console.log(`| ${k} | ${v} | ${target} |`);
  console.log('');
}
