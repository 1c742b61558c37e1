/**
 * One worker of `explore --workers N` (a worker_threads thread): it searches its part of the scenario
 * (search.ts `shard` and `shared`) and reports progress, findings and its end to the thread that started
 * it (index.ts). A shared control word stops it: 1 interrupted (Ctrl-C, time), 2 another worker's
 * finding ended the search.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Scenario } from '../scenario/types.ts';
import type { EngineKind } from '../runtime/system.ts';
import { ExploreModel } from './model.ts';
import { Search, type Finding, type SearchOptions } from './search.ts';

/** What a worker is started with. */
export interface WorkerInput {
  readonly scenario: Scenario;
  readonly engine?: EngineKind | undefined;
  readonly search: SearchOptions;
  readonly control: SharedArrayBuffer;
  readonly progressEveryMs: number;
}

/** What a worker posts. */
export type WorkerMessage =
  | { readonly type: 'progress'; readonly stats: ReturnType<Search['stats']> }
  | { readonly type: 'finding'; readonly finding: Finding }
  | { readonly type: 'done'; readonly stats: ReturnType<Search['stats']>; readonly boundedBy: readonly string[] }
  | { readonly type: 'error'; readonly message: string };

function run(input: WorkerInput, post: (m: WorkerMessage) => void): void {
  const control = new Int32Array(input.control);
  const search = new Search(new ExploreModel(input.scenario, { engine: input.engine }), input.search);
  let reported = 0;
  let last = performance.now();
  for (;;) {
    const done = search.advance(2000);
    const found = search.findings();
    for (; reported < found.length; reported++) post({ type: 'finding', finding: found[reported] as Finding });
    if (done) break;
    const why = Atomics.load(control, 0);
    if (why !== 0) search.stop(why === 2 ? 'first-finding' : 'interrupted');
    const now = performance.now();
    if (now - last >= input.progressEveryMs) {
      last = now;
      post({ type: 'progress', stats: search.stats() });
    }
  }
  post({ type: 'done', stats: search.stats(), boundedBy: search.boundedBy() });
}

if (parentPort !== null) {
  const port = parentPort;
  try {
    run(workerData as WorkerInput, (m) => port.postMessage(m));
  } catch (e) {
    port.postMessage({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies WorkerMessage);
  }
}
