/**
 * A counterexample made smaller: the scenario's steps that the finding does not need are dropped, one at
 * a time from the last (a step stays when without it an exhaustive search, within a bound, no longer
 * finds the same invariant or forbidden type), and the finding's shortest schedule in what is left is
 * taken (breadth first: fewest deliveries). The result is a scenario of its own — the log written for it
 * carries it in its header, so `replay` and `inspect` take it as they take any log.
 */
import type { Scenario } from '../scenario/types.ts';
import { ExploreModel, type ModelOptions } from './model.ts';
import { Search, type Finding } from './search.ts';

/** A smaller scenario with the same kind of finding, and which of the original steps it kept. */
export interface Minimized {
  readonly scenario: Scenario;
  readonly finding: Finding;
  /** Indices (in the original scenario) of the steps kept, in order. */
  readonly kept: readonly number[];
  /** Searches run to decide. */
  readonly searches: number;
}

/**
 * The same finding: the same invariant; for a forbidden type, the same message (sender, receiver,
 * content) — a SIGSEGV for another reason is another finding, not a smaller one; for a final state, the
 * same values found (a step dropped that created the process would differ trivially).
 */
function same(f: Finding, finding: Finding): boolean {
  if (f.kind !== finding.kind || f.what !== finding.what) return false;
  if (f.kind === 'final') return f.detail === finding.detail;
  const m = finding.message;
  return m === undefined || (f.message !== undefined && f.message.from === m.from && f.message.to === m.to && f.message.json === m.json);
}

/** The first such finding in a bounded exhaustive search of `scenario`, or undefined. */
function findAgain(scenario: Scenario, finding: Finding, maxStates: number, opts: ModelOptions): Finding | undefined {
  const s = new Search(new ExploreModel(scenario, opts), { strategy: 'bfs', continueAfterFinding: true, maxStates, checkFinal: finding.kind === 'final', accept: (f) => same(f, finding) });
  while (!s.advance(50_000)) {
    const hit = s.findings().find((f) => same(f, finding));
    if (hit) return hit;
  }
  return s.findings().find((f) => same(f, finding));
}

/**
 * Drop the steps `finding` does not need. `maxStates` bounds each search (a removal whose search does
 * not meet the finding within it is kept out of caution: the result is smaller, never wrong).
 */
export function minimize(scenario: Scenario, finding: Finding, opts: ModelOptions & { readonly maxStates?: number | undefined } = {}): Minimized {
  const maxStates = opts.maxStates ?? 200_000;
  let kept = scenario.steps.map((_, i) => i);
  let best: Finding = findAgain(scenario, finding, maxStates, opts) ?? finding;
  let searches = 1;
  // The smaller scenario: its steps without their `expect`, and no `final` (both describe the original
  // run, and a `final` may name a process a dropped step created) — unless the finding is about `final`.
  const build = (indices: readonly number[]): Scenario => ({
    ...scenario,
    name: indices.length === scenario.steps.length ? scenario.name : `${scenario.name} (minimized: steps ${indices.join(', ')} of ${scenario.steps.length})`,
    steps: indices.map((i) => {
      const { expect: _, ...step } = scenario.steps[i] as Scenario['steps'][number];
      return step as Scenario['steps'][number];
    }),
    final: finding.kind === 'final' ? scenario.final : { pasid: {}, refs: {}, msr: {} },
  });
  for (let j = kept.length - 1; j >= 0; j--) {
    if (kept.length <= 1) break;
    const candidate = kept.filter((_, x) => x !== j);
    if (!namesCreated(scenario, candidate)) continue;
    searches++;
    const hit = findAgain(build(candidate), finding, maxStates, opts);
    if (hit !== undefined) {
      kept = candidate;
      best = hit;
    }
  }
  return { scenario: build(kept), finding: best, kept, searches };
}

/** Whether every thread the kept steps name is created by one of them (a scenario's own rule). */
function namesCreated(scenario: Scenario, indices: readonly number[]): boolean {
  const created = new Set<string>();
  for (const i of indices) {
    const s = scenario.steps[i];
    if (s === undefined) continue;
    if (s.op === 'spawn') created.add(s.process);
    else if (s.op === 'clone' || s.op === 'fork') created.add(s.new);
  }
  for (const i of indices) {
    const s = scenario.steps[i];
    if (s !== undefined && 'thread' in s && !created.has(s.thread)) return false;
  }
  return true;
}
