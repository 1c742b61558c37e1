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

/** The first finding of `finding`'s kind in a bounded exhaustive search of `scenario`, or undefined. */
function findAgain(scenario: Scenario, finding: Finding, maxStates: number, opts: ModelOptions): Finding | undefined {
  const s = new Search(new ExploreModel(scenario, opts), { strategy: 'bfs', continueAfterFinding: true, maxStates });
  while (!s.advance(50_000)) {
    const hit = s.findings().find((f) => f.kind === finding.kind && f.what === finding.what);
    if (hit) return hit;
  }
  return s.findings().find((f) => f.kind === finding.kind && f.what === finding.what);
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
  const build = (indices: readonly number[]): Scenario => ({
    ...scenario,
    name: indices.length === scenario.steps.length ? scenario.name : `${scenario.name} (minimized: steps ${indices.join(', ')} of ${scenario.steps.length})`,
    steps: indices.map((i) => scenario.steps[i] as Scenario['steps'][number]),
  });
  for (let j = kept.length - 1; j >= 0; j--) {
    if (kept.length <= 1) break;
    const candidate = kept.filter((_, x) => x !== j);
    searches++;
    const hit = findAgain(build(candidate), finding, maxStates, opts);
    if (hit !== undefined) {
      kept = candidate;
      best = hit;
    }
  }
  return { scenario: build(kept), finding: best, kept, searches };
}
