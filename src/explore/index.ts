/**
 * `explore(scenario, options)`: every interleaving of a scenario (or a sample of them), as an rxjs
 * Observable of progress, findings and a summary. The search runs in slices between which the event loop
 * turns: a subscriber sees progress as it goes, and unsubscribing stops the search.
 *
 * The only clock is `options.clock` (default `performance.now`): it paces progress events and enforces
 * `timeMs`, and is never read by anything that decides a state, a verdict of an unbounded search or a log.
 */
import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { Observable } from 'rxjs';
import type { Kinds } from '../runtime/kinds.ts';
import type { EngineKind, SystemOptions } from '../runtime/system.ts';
import type { Scenario } from '../scenario/types.ts';
import { ExploreModel } from './model.ts';
import { Search, type Bound, type Finding, type SearchOptions, type SearchStats, type Strategy } from './search.ts';
import { Control, controlBuffer, SharedVisited } from './shared.ts';
import { Lane } from './lane.ts';
import type { WorkerInput, WorkerMessage } from './worker.ts';

export type { Bound, Finding, SearchStats, Strategy } from './search.ts';
export { STRATEGIES } from './search.ts';
export type { TransitionRef } from './model.ts';
export { writeCounterexample, tracePath, type Trace } from './counterexample.ts';
export { minimize, type Minimized } from './minimize.ts';

/** How {@link explore} searches (the lanes' own options, a shared visited set and joining, are not a caller's). */
export interface ExploreOptions extends Omit<SearchOptions, 'strategy' | 'shared' | 'join' | 'accept'> {
  /** `bfs` (exhaustive, default), `random` or `pct`. */
  readonly strategy?: Strategy | undefined;
  /** Stop after this many milliseconds (a bounded search). */
  readonly timeMs?: number | undefined;
  /** How often a `progress` event comes (default 1000 ms). */
  readonly progressEveryMs?: number | undefined;
  /** The clock that paces progress and `timeMs` (default `performance.now`). */
  readonly clock?: (() => number) | undefined;
  readonly engine?: EngineKind | undefined;
  /** The kinds beyond svasim's that the scenario's devices and actors name (plugins). */
  readonly kinds?: Kinds | undefined;
  /**
   * The plugin files `kinds` was loaded from (`loadPlugins`): worker threads load them again (a registry
   * of functions cannot be sent to another thread). Needed with `workers` when `kinds` has registered kinds.
   */
  readonly pluginFiles?: readonly string[] | undefined;
  /** Variants of svasim's machines (tests of the model's invariants). */
  readonly machines?: SystemOptions['machines'];
  /** Transitions per slice between turns of the event loop (default 2000). */
  readonly slice?: number | undefined;
  /**
   * Stop, bounded by `memory`, when a searching thread's heap reaches this many bytes; it can only lower
   * the default, 85% of Node's old-generation limit (`--max-old-space-size`; each worker has a heap of
   * its own).
   */
  readonly maxHeapBytes?: number | undefined;
  /** Stop the search (Ctrl-C): it ends with a `done` event, bounded by `interrupted`. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Search on this many threads (default 1): the calling thread (lane 0, between turns of its event loop,
   * from the start) and `workers - 1` worker threads, which join once they have loaded the model (lane.ts).
   * bfs: they share one visited set (shared.ts: it grows as needed, up to `maxStates` when given) and
   * balance their load; random and PCT: each runs its share of the schedules. With registered kinds,
   * give `pluginFiles`; machine variants cannot be given to workers.
   */
  readonly workers?: number | undefined;
  /** The shared visited set's first size in slots (default 2^20); it doubles as needed. Tests give a small one. */
  readonly firstSharedSlots?: number | undefined;
}

/** Counts so far, the time taken and the rate. */
export interface ExploreProgress extends SearchStats {
  readonly elapsedMs: number;
  /** The process's resident memory (every thread's heap, the shared visited set), in bytes. */
  readonly memoryBytes: number;
  /**
   * Of `elapsedMs`, the time before every searching thread had begun: the worker threads' start (each
   * loads the model's modules and builds its model), while the calling thread already searches; 0 on
   * one thread, whose model is built before.
   */
  readonly startMs: number;
  /** Distinct states per second (bfs), or transitions per second (random, PCT). */
  readonly rate: number;
}

/** The end of a search: what it covered, what bounded it, what it found. */
export interface ExploreSummary {
  readonly strategy: Strategy;
  readonly seed?: number;
  /** An exhaustive search that saw every reachable state (nothing bounded it). */
  readonly complete: boolean;
  /** What stopped it short (empty for a complete search; `schedules` for a sampling run that did them all). */
  readonly boundedBy: readonly Bound[];
  readonly stats: ExploreProgress;
  readonly findings: readonly Finding[];
  /**
   * The chance that two distinct states shared a fingerprint and one was never explored (the visited set
   * keeps 62 bits of each state's 64-bit hash): about n²/2⁶³ for n distinct states, as TLC estimates it.
   */
  readonly collisionProbability: number;
  /** A bfs shard's visited set (pairs of 32-bit words), for `--merge` to count the shards' union exactly. */
  readonly fingerprints?: Uint32Array;
}

export type ExploreEvent =
  | { readonly type: 'progress'; readonly progress: ExploreProgress }
  | { readonly type: 'finding'; readonly finding: Finding }
  | { readonly type: 'done'; readonly summary: ExploreSummary };

const defaultClock = (): number => performance.now();

/** A search's end, as the `done` event carries it. */
function summaryOf(strategy: Strategy, seed: number | undefined, boundedBy: readonly Bound[], stats: ExploreProgress, findings: readonly Finding[], fingerprints: Uint32Array | undefined): ExploreSummary {
  return {
    strategy,
    ...(strategy === 'bfs' ? {} : { seed: seed ?? 0 }),
    complete: strategy === 'bfs' && boundedBy.length === 0,
    boundedBy,
    stats,
    findings,
    collisionProbability: Math.min(1, (stats.distinct * stats.distinct) / 2 ** 63),
    ...(fingerprints === undefined ? {} : { fingerprints }),
  };
}

/**
 * Tune this process's garbage collector for lanes (`workers` ≥ 2): each thread collects its young
 * generation alone, instead of with V8's helper threads. With as many lanes as cores, a lane's parallel
 * collection waits for helper threads the other lanes keep off the cores: 6% of two cores stood idle
 * (measured; a search on 2 lanes finishes about 5% sooner without it, while one lane alone gains from
 * the helpers: README, "Benchmark > Exploration"). It changes the whole process (V8's
 * `--no-parallel-scavenge`), for good: the `svasim` command calls it for `explore --workers N`; a program
 * of your own may call it before {@link explore}, or start node with that flag.
 */
export function tuneGcForLanes(): void {
  setFlagsFromString('--no-parallel-scavenge');
}

/** Explore a scenario's interleavings (README "Exploring interleavings"). */
export function explore(scenario: Scenario, options: ExploreOptions = {}): Observable<ExploreEvent> {
  if ((options.workers ?? 1) > 1) return exploreWorkers(scenario, options);
  return new Observable<ExploreEvent>((subscriber) => {
    const clock = options.clock ?? defaultClock;
    const strategy = options.strategy ?? 'bfs';
    const model = new ExploreModel(scenario, { engine: options.engine, kinds: options.kinds, machines: options.machines });
    // Only the search's own options (a caller's object may carry more: it is not passed on as it is).
    const search = new Search(model, { ...pickSearch(options), ...(options.shard === undefined ? {} : { shard: options.shard }), strategy });
    const start = clock();
    const every = options.progressEveryMs ?? 1000;
    const slice = options.slice ?? 2000;
    let lastProgress = start;
    let reported = 0;
    let stopped = false;
    const progress = (): ExploreProgress => {
      const stats = search.stats();
      const elapsedMs = clock() - start;
      const n = strategy === 'bfs' ? stats.distinct : stats.transitions;
      return { ...stats, elapsedMs, rate: elapsedMs > 0 ? (n * 1000) / elapsedMs : 0, memoryBytes: process.memoryUsage().rss, startMs: 0 };
    };
    const turn = (): void => {
      if (stopped) return;
      try {
        if (options.signal?.aborted === true) search.stop('interrupted');
        const done = search.advance(slice);
        const found = search.findings();
        for (; reported < found.length; reported++) subscriber.next({ type: 'finding', finding: found[reported] as Finding });
        const now = clock();
        if (!done && options.timeMs !== undefined && now - start >= options.timeMs) search.stop('time');
        // The heap full: waiting states are let go (rebuilt later from their paths) while that helps.
        if (!done && search.outOfMemory(options.maxHeapBytes)) search.stop('memory');
        if (search.finished) {
          const stats = progress();
          const boundedBy = search.boundedBy();
          const fingerprints = strategy === 'bfs' && options.shard !== undefined ? search.fingerprints() : undefined;
          subscriber.next({ type: 'done', summary: summaryOf(strategy, options.seed, boundedBy, stats, search.findings(), fingerprints) });
          subscriber.complete();
          return;
        }
        if (now - lastProgress >= every) {
          lastProgress = now;
          subscriber.next({ type: 'progress', progress: progress() });
        }
      } catch (e) {
        subscriber.error(e);
        return;
      }
      setImmediate(turn);
    };
    setImmediate(turn);
    return () => {
      // Unsubscribed (or interrupted): the search stops between slices.
      stopped = true;
      search.stop('interrupted');
    };
  });
}

/** The worker threads' entry module (it loads the built worker, or in a clone the TypeScript through tsx). */
const WORKER_ENTRY = new URL('./worker-entry.mjs', import.meta.url);

/** {@link explore} on `options.workers` threads: this one (lane 0) and worker threads (lanes 1..n-1). */
function exploreWorkers(scenario: Scenario, options: ExploreOptions): Observable<ExploreEvent> {
  const n = options.workers ?? 1;
  if (!Number.isSafeInteger(n) || n < 2) throw new RangeError(`workers: expected an integer of at least 2, got ${n}`);
  if (options.kinds?.hasRegistered === true && (options.pluginFiles === undefined || options.pluginFiles.length === 0)) {
    throw new Error('explore: workers load the plugins themselves: give pluginFiles (the files kinds was loaded from)');
  }
  if (options.machines !== undefined) throw new Error('explore: workers cannot take machine variants');
  if (options.shard !== undefined) throw new Error('explore: a shard runs in one worker (give --shard or --workers, not both)');
  return new Observable<ExploreEvent>((subscriber) => {
    const clock = options.clock ?? defaultClock;
    const strategy = options.strategy ?? 'bfs';
    const start = clock();
    const every = options.progressEveryMs ?? 1000;
    const control = controlBuffer(n);
    const ctl = new Int32Array(control);
    const shared = strategy === 'bfs' ? SharedVisited.create(options.maxStates, options.firstSharedSlots, n) : undefined;
    const latest: (SearchStats | null)[] = Array.from({ length: n }, () => null);
    // bfs: lane 0 searches from the initial state and the others join, taking parts of its frontier;
    // random and PCT: lane k runs schedules k, k+n, k+2n...
    const laneSearch = (k: number): Omit<SearchOptions, 'strategy'> => ({ ...pickSearch(options), ...(shared === undefined ? { shard: { k, n } } : { shared, join: k > 0 }) });
    /** When each lane began searching. */
    const started: (number | null)[] = Array.from({ length: n }, () => null);
    const bounds = new Set<Bound>();
    const findings = new Map<string, Finding>();
    let finished = 0;
    const ended: boolean[] = [];
    let over = false;
    const workers: Worker[] = [];
    const inboxes: MessagePort[] = [];
    const total = (): ExploreProgress => {
      let transitions = 0, slept = 0, depth = 0, frontier = 0, finals = 0, schedules = 0, distinct = 0, shed = 0;
      for (const st of latest) {
        if (st === null) continue;
        transitions += st.transitions; slept += st.slept; frontier += st.frontier; finals += st.finals; schedules += st.schedules; shed += st.shed;
        if (st.depth > depth) depth = st.depth;
      }
      // bfs: the states in the shared visited set (each lane's own count is the same set's size).
      if (shared !== undefined) distinct = new SharedVisited(shared).size;
      const elapsedMs = clock() - start;
      const rate = elapsedMs > 0 ? ((strategy === 'bfs' ? distinct : transitions) * 1000) / elapsedMs : 0;
      const startMs = started.every((t) => t !== null) ? Math.max(...(started as number[])) - start : elapsedMs;
      return { transitions, distinct, slept, depth, frontier, finals, schedules, tableBytes: shared?.byteLength ?? 0, shed, elapsedMs, rate, memoryBytes: process.memoryUsage().rss, startMs };
    };
    let lastProgress = start;
    const timer = setInterval(() => {
      if (options.signal?.aborted === true || (options.timeMs !== undefined && clock() - start >= options.timeMs)) {
        // Not once the search is over (it ran to its end just before the limit), nor over another stop.
        if (Atomics.load(ctl, Control.over) === 0 && Atomics.compareExchange(ctl, Control.stop, 0, 1) === 0) {
          bounds.add(options.signal?.aborted === true ? 'interrupted' : 'time');
        }
      }
      const now = clock();
      if (now - lastProgress >= every) {
        lastProgress = now;
        subscriber.next({ type: 'progress', progress: total() });
      }
    }, 50);
    /** Lane 0, searched in this thread between turns of the event loop: 'search', 'idle' or 'done'. */
    let mine: 'search' | 'idle' | 'done' = 'search';
    /** Lane 0's next turn, when one is queued (never two: one chain of turns). */
    let queued: { readonly at: 'now' | 'soon'; readonly cancel: () => void } | null = null;
    const end = (): void => {
      over = true;
      clearInterval(timer);
      for (const w of workers) void w.terminate();
      for (const p of inboxes) p.close();
    };
    const fail = (e: unknown): void => {
      if (over) return;
      end();
      subscriber.error(e);
    };
    /** A lane's report (lane 0's come from this thread, the others' from their workers). */
    const onMessage = (k: number, m: WorkerMessage): void => {
      if (over) return;
      if (m.type === 'started') started[k] = clock();
      else if (m.type === 'progress') latest[k] = m.stats;
      else if (m.type === 'work') {
        if (m.to !== 0) inboxes[m.to - 1]?.postMessage(m.part);
        else if (mine === 'idle') {
          try {
            if (lane.take(m.part)) {
              mine = 'search';
              queueTurn();
            }
          } catch (e) {
            fail(e);
          }
        } else if (Atomics.load(ctl, Control.stop) === 0) {
          // Work is handed only to a lane that said it wants some: anything else would be lost.
          fail(new Error(`explore: a frontier part reached lane 0 while it was ${mine}`));
        }
      } else if (m.type === 'finding') {
        const key = `${m.finding.kind}:${m.finding.what}`;
        if (!findings.has(key)) {
          findings.set(key, m.finding);
          subscriber.next({ type: 'finding', finding: m.finding });
        }
        if (options.continueAfterFinding !== true) {
          Atomics.compareExchange(ctl, Control.stop, 0, 2);
          bounds.add('first-finding');
        }
      } else if (m.type === 'error') {
        fail(new Error(`explore worker ${k}: ${m.message}`));
      } else {
        latest[k] = m.stats;
        for (const b of m.boundedBy) if (b !== 'first-finding' && b !== 'interrupted') bounds.add(b as Bound);
        if (ended[k] === true) {
          fail(new Error(`explore: lane ${k} ended twice`));
          return;
        }
        ended[k] = true;
        if (++finished === n) {
          const stats = total();
          const boundedBy = [...bounds];
          end();
          subscriber.next({ type: 'done', summary: summaryOf(strategy, options.seed, boundedBy, stats, [...findings.values()], undefined) });
          subscriber.complete();
        }
      }
    };
    try {
      for (let k = 1; k < n; k++) {
        const search: SearchOptions = { ...laneSearch(k), strategy };
        // bfs: each worker's inbox for the frontier parts others hand it (passed on from here).
        const channel = shared === undefined ? undefined : new MessageChannel();
        if (channel !== undefined) inboxes.push(channel.port2);
        const input: WorkerInput = { scenario, engine: options.engine, search, lane: k, lanes: n, control, progressEveryMs: Math.max(50, Math.min(every, 250)), maxHeapBytes: options.maxHeapBytes, inbox: channel?.port1, plugins: options.pluginFiles?.map((f) => resolve(f)) };
        const w = new Worker(WORKER_ENTRY, { workerData: input, transferList: channel === undefined ? [] : [channel.port1] });
        workers.push(w);
        w.on('message', (m: WorkerMessage) => onMessage(k, m));
        w.on('error', fail);
        // A worker gone without its end reported (a plugin calling process.exit, say) would be waited for forever.
        w.on('exit', (code) => {
          if (ended[k] !== true) fail(new Error(`explore worker ${k} exited (code ${code}) before it ended its search`));
        });
      }
    } catch (e) {
      // Workers that could not start (data that cannot be sent to a thread): the timer and those started stop too.
      fail(e);
      return;
    }
    const turn = (): void => {
      queued = null;
      if (over) return;
      try {
        if (mine === 'search') {
          const e = lane.slice(options.slice ?? 2000);
          if (e === 'idle') {
            lane.goIdle();
            mine = 'idle';
          } else if (e === 'done') mine = 'done';
        }
        if (mine === 'idle' && lane.over()) mine = 'done';
        if (mine === 'done') {
          lane.finish();
          return;
        }
      } catch (e) {
        fail(e);
        return;
      }
      queueTurn();
    };
    /** Queue lane 0's next turn: at once while it searches; idle, a look again in a millisecond (a part comes as a message). */
    function queueTurn(): void {
      const at = mine === 'search' ? 'now' : 'soon';
      if (queued !== null) {
        if (queued.at === at) return;
        queued.cancel();
      }
      if (at === 'now') {
        const h = setImmediate(turn);
        queued = { at, cancel: () => clearImmediate(h) };
      } else {
        const h = setTimeout(turn, 1);
        queued = { at, cancel: () => clearTimeout(h) };
      }
    }
    // Lane 0 searches from now on (its model is built once the workers are on their way: they load meanwhile).
    let lane: Lane;
    try {
      const search0 = new Search(new ExploreModel(scenario, { engine: options.engine, kinds: options.kinds }), { ...laneSearch(0), strategy });
      lane = new Lane(search0, control, shared, 0, n, 0, options.maxHeapBytes, (m) => onMessage(0, m));
    } catch (e) {
      fail(e);
      return;
    }
    started[0] = start;
    queueTurn();
    return () => {
      if (!over) end();
    };
  });
}

/** The search options a worker takes (plain data: no functions, no signal). */
function pickSearch(o: ExploreOptions): Omit<SearchOptions, 'strategy'> {
  return {
    ...(o.seed === undefined ? {} : { seed: o.seed }),
    ...(o.schedules === undefined ? {} : { schedules: o.schedules }),
    ...(o.pctDepth === undefined ? {} : { pctDepth: o.pctDepth }),
    ...(o.maxDepth === undefined ? {} : { maxDepth: o.maxDepth }),
    ...(o.maxStates === undefined ? {} : { maxStates: o.maxStates }),
    ...(o.reduction === undefined ? {} : { reduction: o.reduction }),
    ...(o.continueAfterFinding === undefined ? {} : { continueAfterFinding: o.continueAfterFinding }),
    ...(o.checkFinal === undefined ? {} : { checkFinal: o.checkFinal }),
  };
}
