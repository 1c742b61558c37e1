/**
 * Exploration: the search reaches the same states with and without its reduction, finds the races the
 * built-in race scenarios stage, proves the release path safe, and writes counterexamples that replay and
 * that inspect opens on their finding; random and PCT schedules are reproducible from their seed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import fc from 'fast-check';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { MACHINES } from '../../machines/index.ts';
import { explore, minimize, writeCounterexample, type ExploreEvent, type ExploreSummary } from '../../src/explore/index.ts';
import { ExploreModel } from '../../src/explore/model.ts';
import { heapFull, Search, type SearchOptions } from '../../src/explore/search.ts';
import { SharedVisited } from '../../src/explore/shared.ts';
import { memoize } from '../../src/explore/memo.ts';
import { loadPlugins } from '../../src/cli/plugins.ts';
import type { Behavior } from '../../src/runtime/actor.ts';
import { LogSession } from '../../src/inspect/session.ts';
import { readLog } from '../../src/log/reader.ts';
import { replayFile } from '../../src/replay/replay.ts';
import { RandomScheduler } from '../../src/runtime/scheduler.ts';
import { System } from '../../src/runtime/system.ts';
import { systemConfig } from '../../src/runner/run.ts';
import { loadScenarioFile, scenarioFromValue } from '../../src/scenario/load.ts';
import type { Scenario } from '../../src/scenario/types.ts';
import { builtinPath } from '../../src/scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'svasim-explore-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const builtin = (name: string): Scenario => {
  const p = builtinPath(name);
  if (!p) throw new Error(`no built-in ${name}`);
  return loadScenarioFile(p);
};

type Machines = NonNullable<ConstructorParameters<typeof ExploreModel>[1]>['machines'];

function search(scenario: Scenario, opts: Partial<SearchOptions> = {}, machines?: Machines): Search {
  const s = new Search(new ExploreModel(scenario, { machines }), { strategy: 'bfs', continueAfterFinding: true, ...opts });
  while (!s.advance(50_000));
  return s;
}

async function summaryOf(scenario: Scenario, opts: Parameters<typeof explore>[1] = {}): Promise<{ events: ExploreEvent[]; summary: ExploreSummary }> {
  const events = await lastValueFrom(explore(scenario, opts).pipe(toArray()));
  const done = events.at(-1);
  if (done?.type !== 'done') throw new Error('no done event');
  return { events, summary: done.summary };
}

describe('exhaustive search', () => {
  it('sleep sets prune transitions, never states: the same distinct states and findings as the unreduced search, with a reduction factor', () => {
    for (const name of ['close-release', 'race-unbind-inflight', 'race-exit-enqcmd', 'exec-cloexec']) {
      const sc = builtin(name);
      const full = search(sc, { reduction: false });
      const reduced = search(sc);
      expect(full.boundedBy(), name).toStrictEqual([]);
      expect(reduced.stats().distinct, name).toBe(full.stats().distinct);
      expect(reduced.findings().map((f) => `${f.kind}:${f.what}@${f.depth}`), name).toStrictEqual(full.findings().map((f) => `${f.kind}:${f.what}@${f.depth}`));
      expect(full.stats().slept).toBe(0);
      // The reduction factor: transitions the unreduced search takes per transition the reduced one takes.
      const factor = full.stats().transitions / reduced.stats().transitions;
      expect(factor, `${name}: ${full.stats().transitions} vs ${reduced.stats().transitions} transitions`).toBeGreaterThan(1.4);
    }
  });

  it('property: on random small scenarios of two threads, the reduced search reaches exactly the unreduced one\'s states', () => {
    const op = fc.constantFrom(
      { op: 'enqcmd', device: 'dsa0' },
      { op: 'bind', device: 'dsa0' },
      { op: 'unbind', device: 'dsa0' },
      { op: 'close', device: 'dsa0' },
      { op: 'exit' },
      { op: 'arch_prctl', code: 'ARCH_ENABLE_TAGGED_ADDR', arg: 6 },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 2 }), fc.array(op, { maxLength: 2 }), fc.constantFrom('seed-2021', 'merged'), fc.boolean(), (a, b, pasid, complete) => {
        const steps = [
          { op: 'spawn', process: 'A' },
          { op: 'bind', thread: 'A', device: 'dsa0' },
          { op: 'clone', thread: 'A', new: 'B' },
          ...a.map((s) => ({ ...s, thread: 'A' })),
          ...b.map((s) => ({ ...s, thread: 'B' })),
          ...(complete ? [{ op: 'complete', device: 'dsa0' }] : []),
        ];
        const sc = scenarioFromValue(
          { scenario: 1, name: 'p', policy: { pasid, lam: 'poc-2022' }, devices: [{ name: 'dsa0', wqSize: 4, threshold: 4, autoComplete: false }], steps },
          'p.json',
        );
        const full = search(sc, { reduction: false, maxStates: 200_000 });
        const reduced = search(sc, { maxStates: 200_000 });
        expect(full.boundedBy()).toStrictEqual([]);
        expect(reduced.stats().distinct).toBe(full.stats().distinct);
        expect(reduced.stats().transitions).toBeLessThanOrEqual(full.stats().transitions);
      }),
      { numRuns: 25, seed: 14 },
    );
  });

  it('the release path racing ENQCMDs from two threads is proved safe: every reachable state checked, nothing found', async () => {
    const { summary } = await summaryOf(builtin('race-release-enqcmd'));
    expect(summary.complete).toBe(true);
    expect(summary.findings).toStrictEqual([]);
    expect(summary.stats.distinct).toBeGreaterThan(100_000);
  });

  it('LAM enable against a bind in another thread: mutual exclusion holds under both LAM policies', async () => {
    for (const name of ['race-lam-bind-v6.4', 'race-lam-bind-poc-2022']) {
      const { summary } = await summaryOf(builtin(name));
      expect(summary.complete, name).toBe(true);
      expect(summary.findings, name).toStrictEqual([]);
    }
  });

  it('a model whose release skips the drain breaks G10 in some interleaving (the invariant is checked in every state)', () => {
    const noDrain = MACHINES.file.provide({ guards: { drainsOnRelease: () => false } });
    const sc = builtin('drain-after-unbind');
    expect(search(sc).findings()).toStrictEqual([]);
    const s = search(sc, {}, { file: noDrain });
    expect(s.findings().map((f) => f.what)).toContain('G10');
  });

  it('bounds say what stopped the search', () => {
    const sc = builtin('race-release-enqcmd');
    expect(search(sc, { maxStates: 500 }).boundedBy()).toStrictEqual(['max-states']);
    const d = search(sc, { maxDepth: 5 });
    expect(d.boundedBy()).toStrictEqual(['max-depth']);
    expect(d.stats().depth).toBe(5);
  });

  it('a memory bound counts the paths and frontier words kept outside the heap; explore passes on only its search options', async () => {
    const used = getHeapStatistics().used_heap_size;
    expect(heapFull(used + 64 * 2 ** 20)).toBe(false);
    expect(heapFull(used + 64 * 2 ** 20, 128 * 2 ** 20)).toBe(true);
    const s = search(builtin('race-release-enqcmd'), { maxStates: 5000 });
    expect(s.offHeapBytes).toBeGreaterThan(5000 * 8);
    // A lane's options given to explore (a visited set to share, joining with no work) are not passed on:
    // it still searches, and finds the race.
    const options = { shared: new SharedArrayBuffer(1 << 16), join: true };
    const events = await lastValueFrom(explore(builtin('race-unbind-inflight'), options as object).pipe(toArray()));
    expect(events.filter((e) => e.type === 'finding')).toHaveLength(1);
  });
});

describe('counterexamples', () => {
  it('the unbind racing a queued descriptor: found, shortest first, written as a log that replays and inspect opens on the fault', async () => {
    const sc = builtin('race-unbind-inflight');
    const { summary, events } = await summaryOf(sc);
    expect(summary.findings.map((f) => `${f.kind}:${f.what}`)).toStrictEqual(['forbid:fault.dmar']);
    expect(events.filter((e) => e.type === 'finding')).toHaveLength(1);
    const f = summary.findings[0];
    if (!f) throw new Error('no finding');
    const file = join(dir, 'race.jsonl');
    const trace = writeCounterexample(file, sc, f, { strategy: 'bfs' });
    expect(trace.records.at(-1)?.msg.type).toBe('fault.dmar');
    expect(trace.seq).toBe(trace.records.length);
    expect(replayFile(file)).toStrictEqual({ identical: true, records: trace.records.length, truncated: 0 });
    const log = readLog(file);
    expect(log.header.scheduler).toMatchObject({ name: 'explore', strategy: 'bfs', finding: { seq: trace.seq, kind: 'forbid', what: 'fault.dmar' } });
    // Shortest: no schedule of fewer transitions reaches a DMAR fault.
    const shorter = search(sc, { maxDepth: f.depth - 1 });
    expect(shorter.findings()).toStrictEqual([]);
    const session = new LogSession(file);
    expect((await session.info()).selected).toBe(trace.seq);
  });

  it('an invariant counterexample carries the invariant.violation records replay reproduces; the same search writes the same bytes', () => {
    const noDrain = MACHINES.file.provide({ guards: { drainsOnRelease: () => false } });
    const sc = builtin('drain-after-unbind');
    const f = search(sc, {}, { file: noDrain }).findings().find((x) => x.what === 'G10');
    if (!f) throw new Error('no finding');
    // Logs of a variant model replay with that model only: write and check through tracePath's records.
    const model = new ExploreModel(sc, { machines: { file: noDrain } });
    let last;
    for (const ref of f.path) {
      const t = model.find(ref);
      if (!t) throw new Error('path not enabled');
      last = model.apply(t);
    }
    expect(last?.violations.map((v) => v.invariant)).toContain('G10');
    const a = join(dir, 'g10-a.jsonl');
    const b = join(dir, 'g10-b.jsonl');
    const sc2 = builtin('race-unbind-inflight');
    const f2 = search(sc2).findings()[0];
    if (!f2) throw new Error('no finding');
    writeCounterexample(a, sc2, f2, { strategy: 'bfs' });
    writeCounterexample(b, sc2, f2, { strategy: 'bfs' });
    expect(readFileSync(a, 'utf8')).toBe(readFileSync(b, 'utf8'));
  });

  it('minimized: the steps a finding does not need are dropped; the smaller log replays', () => {
    const race = builtin('race-unbind-inflight');
    const padded: Scenario = {
      ...race,
      steps: [
        ...race.steps.slice(0, 2),
        { op: 'spawn', process: 'B' },
        { op: 'arch_prctl', thread: 'A', code: 0x4003 },
        ...race.steps.slice(2),
        { op: 'exit', thread: 'B' },
      ],
    };
    const f = search(padded, { continueAfterFinding: false }).findings()[0];
    if (!f) throw new Error('no finding');
    const m = minimize(padded, f);
    expect(m.kept).toStrictEqual([0, 1, 4, 5, 6, 7]);
    expect(m.scenario.steps.map((x) => x.op)).toStrictEqual(race.steps.map((x) => x.op));
    expect(m.finding.what).toBe('fault.dmar');
    expect(m.finding.depth).toBeLessThan(f.depth);
    const file = join(dir, 'min.jsonl');
    const t = writeCounterexample(file, m.scenario, m.finding, { strategy: 'bfs' });
    expect(replayFile(file)).toStrictEqual({ identical: true, records: t.records.length, truncated: 0 });
    expect(readLog(file).scenario.name).toContain('(minimized: steps 0, 1, 4, 5, 6, 7 of 9)');
  });

  it('random and PCT: the same seed gives the same schedules and findings; shards split the schedules; PCT finds the race', () => {
    const sc = builtin('race-unbind-inflight');
    // PCT runs the device's completion late when the queue's priority is low: the race needs exactly that.
    expect(search(sc, { strategy: 'pct', seed: 7, schedules: 300 }).findings().map((f) => f.what)).toStrictEqual(['fault.dmar']);
    for (const strategy of ['random', 'pct'] as const) {
      const one = search(sc, { strategy, seed: 7, schedules: 300, continueAfterFinding: true });
      const two = search(sc, { strategy, seed: 7, schedules: 300, continueAfterFinding: true });
      expect(two.findings()).toStrictEqual(one.findings());
      expect(two.stats()).toStrictEqual(one.stats());
      const other = search(sc, { strategy, seed: 8, schedules: 300, continueAfterFinding: true });
      expect(other.stats().transitions, strategy).not.toBe(one.stats().transitions);
      const shards = [0, 1, 2].map((k) => search(sc, { strategy, seed: 7, schedules: 300, shard: { k, n: 3 } }).stats().schedules);
      expect(shards).toStrictEqual([100, 100, 100]);
    }
  });
});

describe('workers', () => {
  it('2 workers sharing the visited set reach the same states and findings as one (bfs), and split schedules (pct)', async () => {
    for (const name of ['race-release-enqcmd', 'race-unbind-inflight', 'exec-cloexec']) {
      const one = await summaryOf(builtin(name), { continueAfterFinding: true });
      const two = await summaryOf(builtin(name), { continueAfterFinding: true, workers: 2 });
      expect(two.summary.stats.distinct, name).toBe(one.summary.stats.distinct);
      expect(two.summary.complete, name).toBe(true);
      expect(two.summary.findings.map((f) => `${f.kind}:${f.what}`), name).toStrictEqual(one.summary.findings.map((f) => `${f.kind}:${f.what}`));
    }
    const pct = await summaryOf(builtin('race-unbind-inflight'), { strategy: 'pct', seed: 7, schedules: 300, workers: 2 });
    expect(pct.summary.findings.map((f) => f.what)).toStrictEqual(['fault.dmar']);
  });

  it('frontier parts handed from a busy worker to an idle one are rebuilt and searched: together they reach every state once (also when they let go of waiting states)', () => {
    for (const shedding of [false, true]) {
    // Two workers' searches in one thread, advanced in turn (the handing over the threads do, made deterministic).
    const sc = builtin('race-release-enqcmd');
    const one = search(sc);
    const buffer = SharedVisited.create(1 << 20);
    const parts = [0, 1].map((k) => new Search(new ExploreModel(sc), { strategy: 'bfs', shared: buffer, join: k > 0 }));
    let handed = 0;
    let nodes = 0;
    for (let turn = 0; turn < 100_000; turn++) {
      // As a full heap makes a lane do: its waiting states let go, then rebuilt from their paths (handed over too).
      if (shedding && turn % 5 === 0) for (const p of parts) p.shed();
      const idle = parts.map((p) => p.advance(300));
      if (idle.every(Boolean)) break;
      for (const k of [0, 1]) {
        const busy = parts[1 - k] as Search;
        if (!idle[k] || !(parts[k] as Search).sharing || idle[1 - k]) continue;
        const part = busy.giveAway();
        if (part === null) continue;
        handed++;
        nodes += part.nodes.length / 6;
        (parts[k] as Search).receive(part);
        expect((parts[k] as Search).finished).toBe(false);
      }
    }
    expect(handed).toBeGreaterThan(0);
    expect(nodes).toBeGreaterThanOrEqual(64);
    expect(parts.every((p) => p.finished && !p.stopped)).toBe(true);
    expect(new SharedVisited(buffer).size).toBe(one.stats().distinct);
    // Every transition either taken by one of them or asleep, as one search does (no state expanded twice).
    const taken = parts.reduce((n, p) => n + p.stats().transitions, 0);
    expect(taken).toBeLessThanOrEqual(one.stats().transitions * 1.05);
    expect(parts.reduce((n, p) => n + p.stats().shed, 0) > 1000, `shedding ${shedding}`).toBe(shedding);
    }
  });

  it('waiting states let go to free memory are rebuilt from their paths: the same search, state for state', () => {
    for (const name of ['race-release-enqcmd', 'race-unbind-inflight']) {
      const sc = builtin(name);
      const plain = search(sc);
      const s = new Search(new ExploreModel(sc), { strategy: 'bfs', continueAfterFinding: true });
      let slices = 0;
      while (!s.advance(700)) if (slices++ % 3 === 0) s.shed();
      expect(s.stats().shed, name).toBeGreaterThan(name === 'race-unbind-inflight' ? 10 : 10_000);
      // Everything else exactly as without: states, transitions taken and slept, depth, finals, findings and their paths.
      expect({ ...s.stats(), shed: 0 }, name).toStrictEqual({ ...plain.stats(), shed: 0 });
      expect(s.findings(), name).toStrictEqual(plain.findings());
    }
    // Under a heap that is always full, explore lets go of waiting states until its arrays outside the
    // heap reach the limit, then stops bounded by memory (with a limit they do not reach, it would finish).
    const full = search(builtin('race-release-enqcmd'), { strategy: 'bfs' });
    expect(full.outOfMemory(1)).toBe(true);
  });

  it('the shared visited set grows between slices: every state kept, the same search (in one thread, and with 2 workers)', async () => {
    const sc = builtin('race-release-enqcmd');
    const one = search(sc);
    const buffer = SharedVisited.create(undefined, 4096);
    const table = new SharedVisited(buffer);
    const parts = [0, 1].map((k) => new Search(new ExploreModel(sc), { strategy: 'bfs', shared: buffer, join: k > 0 }));
    let grew = 0;
    for (let turn = 0; turn < 100_000; turn++) {
      const idle = parts.map((p) => {
        table.enter();
        const over = p.advance(300);
        table.leave();
        if (table.growIfNeeded()) grew++;
        return over;
      });
      if (idle.every(Boolean)) break;
      for (const k of [0, 1]) {
        if (!idle[k] || idle[1 - k] || !(parts[k] as Search).sharing) continue;
        const part = (parts[1 - k] as Search).giveAway();
        if (part !== null) (parts[k] as Search).receive(part);
      }
    }
    expect(grew).toBeGreaterThanOrEqual(5);
    expect(table.capacity).toBeGreaterThanOrEqual(4096 * 2 ** 5);
    expect(table.size).toBe(one.stats().distinct);
    expect(table.fingerprints().length).toBe(2 * one.stats().distinct);
    const two = await summaryOf(sc, { workers: 2, firstSharedSlots: 4096 });
    expect(two.summary.complete).toBe(true);
    expect(two.summary.stats.distinct).toBe(one.stats().distinct);
    expect(two.summary.stats.tableBytes).toBeGreaterThan(4096 * 12 * 2 ** 5);
  });

  it('workers with registered kinds load the plugin files themselves, so the files must be given', async () => {
    const kinds = await loadPlugins(join(dirname(fileURLToPath(import.meta.url)), '../../tools/examples/iax-plugin.mjs'));
    expect(() => explore(builtin('close-release'), { kinds, workers: 2 })).toThrow(/give pluginFiles/);
  });

  it('a growth that fails (no memory for it) lets the other lanes go on: the set is as it was, and the error is thrown', () => {
    const buffer = SharedVisited.create(undefined, 4096);
    const table = new SharedVisited(buffer);
    table.enter();
    for (let i = 1; table.size < 4096 * 0.75; i++) table.visit(Math.imul(i, 0x9e3779b1), i * 7 + 1, 0);
    table.flush();
    table.leave();
    const before = table.size;
    const grow = buffer.grow.bind(buffer);
    buffer.grow = () => {
      throw new RangeError('out of memory (a stand-in)');
    };
    try {
      expect(() => table.growIfNeeded()).toThrow(/out of memory/);
    } finally {
      buffer.grow = grow;
    }
    expect(table.growing).toBe(false);
    expect(table.capacity).toBe(4096);
    expect(table.size).toBe(before);
    // And it grows when it can.
    expect(table.growIfNeeded()).toBe(true);
    expect(table.capacity).toBe(8192);
  });

  it('a lane that never leaves its slice (a worker that died in it) makes the growth an error, not a hang', () => {
    const buffer = SharedVisited.create(undefined, 4096);
    const dead = new SharedVisited(buffer);
    const table = new SharedVisited(buffer);
    table.enter();
    for (let i = 1; table.size < 4096 * 0.75; i++) table.visit(Math.imul(i, 0x9e3779b1), i * 7 + 1, 0);
    table.flush();
    table.leave();
    dead.enter();
    expect(() => table.growIfNeeded(50)).toThrow(/a lane has not left its slice of search for 0.05 s/);
    expect(table.growing).toBe(false);
    dead.leave();
    expect(table.growIfNeeded(50)).toBe(true);
  });

  it('workers that cannot be started (a scenario that cannot be sent to a thread) end the search with an error', async () => {
    const sc = { ...builtin('race-release-enqcmd'), extra: () => 0 } as unknown as ReturnType<typeof builtin>;
    await expect(lastValueFrom(explore(sc, { workers: 3 }))).rejects.toThrow(/could not be cloned|clone/i);
  });

  it('a lane that joins starts with no work and takes what it is handed; a search is a shard or shares a visited set, not both', () => {
    const sc = builtin('race-release-enqcmd');
    const buffer = SharedVisited.create(1 << 20);
    const joined = new Search(new ExploreModel(sc), { strategy: 'bfs', shared: buffer, join: true });
    expect(joined.advance(100)).toBe(true);
    expect(joined.sharing).toBe(true);
    expect(joined.stats().transitions).toBe(0);
    expect(() => new Search(new ExploreModel(sc), { strategy: 'bfs', shared: buffer, shard: { k: 0, n: 2 } })).toThrow(/not both/);
  });

  it('a full shared visited set bounds the search (max-states), and says so', async () => {
    const { summary } = await summaryOf(builtin('race-release-enqcmd'), { workers: 2, maxStates: 5_000 });
    expect(summary.complete).toBe(false);
    expect(summary.boundedBy).toContain('max-states');
  });
});

describe('memoized behaviors', () => {
  it('an actor born with the same input and address starts from one state object; steps are answered from the first time', () => {
    const births: string[] = [];
    const steps: string[] = [];
    const base: Behavior<{ readonly n: number; readonly who: string }> = {
      initial: (input, self) => {
        births.push(self);
        return { n: (input as { n: number }).n, who: self };
      },
      step: (state, message, out) => {
        steps.push(message.type);
        out.push({ type: 'ping', to: 'user' } as never);
        return { ...state, n: state.n + 1 };
      },
      persist: (state) => state,
      restore: (p) => p as { n: number; who: string },
      value: () => 'on',
      context: (state) => state,
    };
    const m = memoize(base as Behavior);
    const a = m.initial({ n: 1 }, 'thread:A');
    expect(m.initial({ n: 1 }, 'thread:A')).toBe(a);
    expect(m.initial({ n: 2 }, 'thread:A')).not.toBe(a);
    expect(m.initial({ n: 1 }, 'thread:B')).not.toBe(a);
    expect(births).toStrictEqual(['thread:A', 'thread:A', 'thread:B']);
    const out1: unknown[] = [];
    const out2: unknown[] = [];
    const next = m.step(a, { type: 'go' } as never, out1 as never, 'thread:A', 'user');
    expect(m.step(a, { type: 'go' } as never, out2 as never, 'thread:A', 'user')).toBe(next);
    expect(out2).toStrictEqual(out1);
    expect(m.step(a, { type: 'other' } as never, [] as never, 'thread:A', 'user')).not.toBe(next);
    expect(steps).toStrictEqual(['go', 'other']);
  });
});

describe('the bus under any interleaving', () => {
  it('a message to an actor whose birth is pending waits for it: random schedules of a spawn and a bind never reach "no actor"', () => {
    const sc = builtin('race-unbind-inflight');
    for (let seed = 0; seed < 200; seed++) {
      const sys = new System(systemConfig(sc), new RandomScheduler(seed));
      sys.input({ type: 'sys.spawn', process: 'A' }, 'kernel', 0);
      sys.input({ type: 'sys.spawn', process: 'B' }, 'kernel', 1);
      expect(() => sys.runToQuiescence()).not.toThrow();
      expect(sys.processes().map(([p]) => p).sort()).toStrictEqual(['A', 'B']);
    }
  });
});
