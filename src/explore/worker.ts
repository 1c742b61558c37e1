/**
 * One worker of `explore --workers N` (a worker_threads thread): it searches its part of the scenario
 * (search.ts `shard` and `shared`) and reports progress, findings and its end to the thread that started
 * it (index.ts).
 *
 * Workers balance their load: one whose frontier runs dry says so (its `want` word) and waits; a busy one
 * that sees it hands over half of its frontier (search.ts `giveAway`, sent through the starting thread to
 * the idle worker's inbox port). The search is over when every worker is idle and no handed-over part is
 * on its way. The shared control words ({@link Control}) also stop every worker: 1 interrupted (Ctrl-C,
 * time), 2 another worker's finding ended the search, 3 another worker was bounded (a full visited set,
 * memory): a worker that stops for a reason of its own stops the others.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Scenario } from '../scenario/types.ts';
import type { Kinds } from '../runtime/kinds.ts';
import type { EngineKind } from '../runtime/system.ts';
import { ExploreModel } from './model.ts';
import { Control, SharedVisited } from './shared.ts';
import { heapFull, SHARE_AT_LEAST, Search, type Finding, type SearchOptions, type WorkPart } from './search.ts';

/** What a worker is started with. */
export interface WorkerInput {
  readonly scenario: Scenario;
  readonly engine?: EngineKind | undefined;
  readonly search: SearchOptions;
  readonly control: SharedArrayBuffer;
  readonly progressEveryMs: number;
  /** Where handed-over frontier parts arrive (bfs with a shared visited set). */
  readonly inbox?: MessagePort | undefined;
  /** Stop, bounded by `memory`, when this worker's heap reaches this (search.ts `heapFull`). */
  readonly maxHeapBytes?: number | undefined;
  /** Plugin files to load (absolute paths): the kinds the scenario names beyond svasim's. */
  readonly plugins?: readonly string[] | undefined;
}

/** What a worker posts. */
export type WorkerMessage =
  | { readonly type: 'started' }
  | { readonly type: 'progress'; readonly stats: ReturnType<Search['stats']> }
  | { readonly type: 'finding'; readonly finding: Finding }
  | { readonly type: 'work'; readonly to: number; readonly part: WorkPart | null }
  | { readonly type: 'done'; readonly stats: ReturnType<Search['stats']>; readonly boundedBy: readonly string[] }
  | { readonly type: 'error'; readonly message: string };

function run(input: WorkerInput, kinds: Kinds | undefined, post: (m: WorkerMessage) => void): void {
  const control = new Int32Array(input.control);
  const search = new Search(new ExploreModel(input.scenario, { engine: input.engine, kinds }), input.search);
  const me = input.search.shard?.k ?? 0;
  const n = input.search.shard?.n ?? 1;
  const inbox = input.inbox;
  let reported = 0;
  let last = performance.now();
  post({ type: 'started' });

  /** Hand half of the frontier to one idle worker, if there is one. */
  const share = (): void => {
    for (let k = 0; k < n; k++) {
      if (k === me || Atomics.compareExchange(control, Control.want + k, 1, 0) !== 1) continue;
      Atomics.add(control, Control.inFlight, 1);
      post({ type: 'work', to: k, part: search.giveAway() });
      return;
    }
  };

  /** Out of work: wait for a part (true) or the end of the search (false). */
  const waitForWork = (port: MessagePort): boolean => {
    Atomics.add(control, Control.idle, 1);
    Atomics.store(control, Control.want + me, 1);
    for (;;) {
      const got = receiveMessageOnPort(port);
      if (got !== undefined) {
        const part = got.message as WorkPart | null;
        if (part !== null) {
          // Busy again before the part stops counting as in flight: never all idle with nothing in flight.
          Atomics.sub(control, Control.idle, 1);
          Atomics.sub(control, Control.inFlight, 1);
          search.receive(part);
          return true;
        }
        Atomics.sub(control, Control.inFlight, 1);
        Atomics.store(control, Control.want + me, 1);
        continue;
      }
      if (Atomics.load(control, Control.stop) !== 0 || Atomics.load(control, Control.over) !== 0) return false;
      if (Atomics.load(control, Control.idle) === n && Atomics.load(control, Control.inFlight) === 0) {
        Atomics.store(control, Control.over, 1);
        return false;
      }
      Atomics.wait(control, Control.over, 0, 1);
    }
  };

  // The shared visited set, used only inside slices: it grows between them (shared.ts).
  const table = input.search.shared === undefined ? undefined : new SharedVisited(input.search.shared);
  for (;;) {
    table?.enter();
    let out: boolean;
    try {
      out = search.advance(2000);
    } finally {
      table?.leave();
    }
    table?.growIfNeeded();
    const found = search.findings();
    for (; reported < found.length; reported++) post({ type: 'finding', finding: found[reported] as Finding });
    const why = Atomics.load(control, Control.stop);
    if (why !== 0) search.stop(why === 2 ? 'first-finding' : 'interrupted');
    else if (!out && heapFull(input.maxHeapBytes)) search.stop('memory');
    if (search.stopped) {
      // Bounded here (a full visited set, memory, a finding): the others stop too, and none waits for this one.
      Atomics.compareExchange(control, Control.stop, 0, 3);
      break;
    }
    const now = performance.now();
    if (now - last >= input.progressEveryMs) {
      last = now;
      post({ type: 'progress', stats: search.stats() });
    }
    if (!out) {
      if (inbox !== undefined && search.sharing && search.frontierSize >= 2 * SHARE_AT_LEAST) share();
      continue;
    }
    // Out of work: a worker sharing the visited set waits for more; any other is done.
    if (inbox === undefined || !search.sharing || !waitForWork(inbox)) break;
  }
  post({ type: 'done', stats: search.stats(), boundedBy: search.boundedBy() });
}
if (parentPort !== null) {
  const port = parentPort;
  try {
    const input = workerData as WorkerInput;
    // Plugins (and the loader, which the CLI's other commands share) only when the scenario needs them.
    const kinds = input.plugins === undefined || input.plugins.length === 0 ? undefined : await (await import('../cli/plugins.ts')).loadPlugins(input.plugins);
    run(input, kinds, (m) => port.postMessage(m));
  } catch (e) {
    port.postMessage({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies WorkerMessage);
  }
}
