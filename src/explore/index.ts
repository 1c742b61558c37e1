/**
 * `explore(scenario, options)`: every interleaving of a scenario (or a sample of them), as an rxjs
 * Observable of progress, findings and a summary. The search runs in slices between which the event loop
 * turns: a subscriber sees progress as it goes, and unsubscribing stops the search.
 *
 * The only clock is `options.clock` (default `performance.now`): it paces progress events and enforces
 * `timeMs`, and is never read by anything that decides a state, a verdict of an unbounded search or a log.
 */
import { Observable } from 'rxjs';
import type { Kinds } from '../runtime/kinds.ts';
import type { EngineKind, SystemOptions } from '../runtime/system.ts';
import type { Scenario } from '../scenario/types.ts';
import { ExploreModel } from './model.ts';
import { Search, type Bound, type Finding, type SearchOptions, type SearchStats, type Strategy } from './search.ts';

export type { Bound, Finding, SearchStats, Strategy } from './search.ts';
export { STRATEGIES } from './search.ts';
export type { TransitionRef } from './model.ts';
export { writeCounterexample, tracePath, type Trace } from './counterexample.ts';
export { minimize, type Minimized } from './minimize.ts';

/** How {@link explore} searches. */
export interface ExploreOptions extends Omit<SearchOptions, 'strategy'> {
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
  /** Variants of svasim's machines (tests of the model's invariants). */
  readonly machines?: SystemOptions['machines'];
  /** Transitions per slice between turns of the event loop (default 2000). */
  readonly slice?: number | undefined;
  /** Stop the search (Ctrl-C): it ends with a `done` event, bounded by `interrupted`. */
  readonly signal?: AbortSignal | undefined;
}

/** Counts so far, the time taken and the rate. */
export interface ExploreProgress extends SearchStats {
  readonly elapsedMs: number;
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

/** Explore a scenario's interleavings (README "Exploring interleavings"). */
export function explore(scenario: Scenario, options: ExploreOptions = {}): Observable<ExploreEvent> {
  return new Observable<ExploreEvent>((subscriber) => {
    const clock = options.clock ?? defaultClock;
    const strategy = options.strategy ?? 'bfs';
    const model = new ExploreModel(scenario, { engine: options.engine, kinds: options.kinds, machines: options.machines });
    const search = new Search(model, { ...options, strategy });
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
      return { ...stats, elapsedMs, rate: elapsedMs > 0 ? (n * 1000) / elapsedMs : 0 };
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
        if (search.finished) {
          const stats = progress();
          const boundedBy = search.boundedBy();
          subscriber.next({
            type: 'done',
            summary: {
              strategy,
              ...(strategy === 'bfs' ? {} : { seed: options.seed ?? 0 }),
              complete: strategy === 'bfs' && boundedBy.length === 0,
              boundedBy,
              stats,
              findings: search.findings(),
              collisionProbability: Math.min(1, (stats.distinct * stats.distinct) / 2 ** 63),
              ...(strategy === 'bfs' && options.shard !== undefined ? { fingerprints: search.fingerprints() } : {}),
            },
          });
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
