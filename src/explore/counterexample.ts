/**
 * A finding as an ordinary event log: the path re-executed from the initial state, every delivery a
 * record (the schedule is the recorded delivery order), then the `invariant.violation` records the
 * checks post in the violating state. The header names the schedule (`scheduler`: `explore`, its
 * strategy and seed, and the finding with the seq of its record) so `replay` checks it as exploration did
 * and `inspect` opens on that record. Every log written is replayed here before it is kept: one that
 * does not replay is a programming error, never a file left for a user to puzzle over.
 */
import { closingLine, headerLine, pluginRefs } from '../log/format.ts';
import { LogWriter } from '../log/writer.ts';
import { replayFile } from '../replay/replay.ts';
import type { Kinds } from '../runtime/kinds.ts';
import type { Delivered, EngineKind } from '../runtime/system.ts';
import type { Scenario } from '../scenario/types.ts';
import { ExploreModel, type TransitionRef } from './model.ts';
import type { Finding, Strategy } from './search.ts';

/** A finding's schedule re-executed: its records, and the seq of the record that shows it. */
export interface Trace {
  readonly records: readonly Delivered[];
  readonly seq: number;
  /** One more than the highest step whose input was delivered (the closing record's `steps`). */
  readonly steps: number;
}

/** How a counterexample is re-executed and written. */
export interface CounterexampleOptions {
  readonly kinds?: Kinds | undefined;
  readonly engine?: EngineKind | undefined;
  readonly strategy: Strategy;
  readonly seed?: number | undefined;
  /** PCT's depth (written in the header with the schedule's index, so the schedule can be run again). */
  readonly pctDepth?: number | undefined;
}

/** Re-execute a path from the initial state; the violations of its last state are reported as records. */
export function tracePath(scenario: Scenario, path: readonly TransitionRef[], finding: Finding, opts: Pick<CounterexampleOptions, 'kinds' | 'engine'> = {}): Trace {
  const records: Delivered[] = [];
  const model = new ExploreModel(scenario, { engine: opts.engine, kinds: opts.kinds, onRecord: (d) => records.push(d) });
  let last: Delivered | undefined;
  let steps = 0;
  for (const ref of path) {
    const t = model.find(ref);
    if (t === undefined) throw new Error(`explore: the counterexample's path is not enabled at step ${records.length + 1} (${JSON.stringify(ref)})`);
    if (t.stepIndex >= steps) steps = t.stepIndex + 1;
    const applied = model.apply(t);
    last = applied.delivered;
    if (finding.kind === 'invariant' && applied.violations.length > 0) {
      model.report(applied.violations, applied.delivered);
      break;
    }
  }
  if (last === undefined) throw new Error('explore: an empty counterexample');
  const seq = finding.kind === 'invariant' ? (records.find((d) => d.msg.type === 'invariant.violation')?.seq ?? last.seq) : last.seq;
  return { records, seq, steps };
}

/** Write a finding's log to `file` and check that it replays; returns the seq of its finding's record. */
export function writeCounterexample(file: string, scenario: Scenario, finding: Finding, opts: CounterexampleOptions): Trace {
  const trace = tracePath(scenario, finding.path, finding, opts);
  const scheduler = {
    name: 'explore',
    strategy: opts.strategy,
    ...(opts.strategy === 'bfs' ? {} : { seed: opts.seed ?? 0 }),
    ...(finding.schedule === undefined ? {} : { schedule: finding.schedule }),
    ...(opts.strategy === 'pct' ? { pctDepth: opts.pctDepth ?? 3 } : {}),
    finding: { seq: trace.seq, kind: finding.kind, what: finding.what, detail: finding.detail },
  };
  const writer = new LogWriter(file, headerLine(scenario, scenario.policy, opts.kinds ? pluginRefs(opts.kinds) : [], scheduler), 'step');
  for (const d of trace.records) writer.write(d);
  writer.end(closingLine(trace.records.length, trace.steps));
  const check = replayFile(file, { ...(opts.kinds ? { kinds: opts.kinds } : {}), ...(opts.engine ? { engine: opts.engine } : {}) });
  if (!check.identical) {
    throw new Error(`explore: the counterexample ${file} does not replay: seq ${check.seq} expected ${check.expected ?? '(end)'}, got ${check.actual ?? '(nothing)'}`);
  }
  return trace;
}
