/**
 * A worker thread of `explore --workers N`: it runs one lane of the search (lane.ts), lanes 1..n-1; lane
 * 0 runs in the thread that started the workers (index.ts). A worker posts the lane's reports to that
 * thread and, once out of work, waits for a frontier part in its inbox port (blocking: nothing else runs
 * in this thread).
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Scenario } from '../scenario/types.ts';
import type { Kinds } from '../runtime/kinds.ts';
import type { EngineKind } from '../runtime/system.ts';
import { Lane, type LaneMessage } from './lane.ts';
import { ExploreModel } from './model.ts';
import { Search, type SearchOptions, type WorkPart } from './search.ts';
import { Control } from './shared.ts';

/** What a worker is started with. */
export interface WorkerInput {
  readonly scenario: Scenario;
  readonly engine?: EngineKind | undefined;
  readonly search: SearchOptions;
  /** This worker's lane, of how many. */
  readonly lane: number;
  readonly lanes: number;
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
export type WorkerMessage = LaneMessage;

function run(input: WorkerInput, kinds: Kinds | undefined, post: (m: WorkerMessage) => void): void {
  const search = new Search(new ExploreModel(input.scenario, { engine: input.engine, kinds }), input.search);
  const lane = new Lane(search, input.control, input.search.shared, input.lane, input.lanes, input.progressEveryMs, input.maxHeapBytes, post);
  const control = new Int32Array(input.control);
  post({ type: 'started' });

  /** Out of work: wait for a part (true) or the end of the search (false). */
  const waitForWork = (port: MessagePort): boolean => {
    lane.goIdle();
    for (;;) {
      const got = receiveMessageOnPort(port);
      if (got !== undefined) {
        if (lane.take(got.message as WorkPart | null)) return true;
        continue;
      }
      if (lane.over()) return false;
      // Woken early when the search is over; otherwise look at the inbox again within a millisecond.
      Atomics.wait(control, Control.over, 0, 1);
    }
  };

  for (;;) {
    const end = lane.slice(2000);
    if (end === 'more') continue;
    if (end === 'done' || input.inbox === undefined || !waitForWork(input.inbox)) break;
  }
  lane.finish();
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
