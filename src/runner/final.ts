/**
 * A scenario's `final` against the state a system ends in: what `run` checks after its one schedule, and
 * `explore --final` in every final state it reaches (Spin's end states).
 */
import type { System } from '../runtime/system.ts';
import type { Scenario } from '../scenario/types.ts';

/** One `final` entry that does not hold: its JSON path (`final.refs.1`), the value wanted and the one found. */
export interface FinalMismatch {
  readonly what: string;
  readonly expected: string;
  readonly got: string;
}

const show = (v: unknown): string => (v === undefined ? '(nothing)' : JSON.stringify(v));

/** The scenario's `final` entries that do not hold in `sys` now, in the order the scenario gives them. */
export function finalMismatches(sys: System, s: Scenario): FinalMismatch[] {
  const out: FinalMismatch[] = [];
  const fail = (what: string, expected: unknown, got: unknown): void => {
    out.push({ what, expected: show(expected), got: show(got) });
  };
  for (const [proc, want] of Object.entries(s.final.pasid)) {
    const got = sys.processMm(proc)?.context.pasid ?? null;
    if (got !== want) fail(`final.pasid.${proc}`, want, got);
  }
  if (s.policy.pasid === 'seed-2021') {
    const refs = sys.iommu().context.refs;
    for (const [p, want] of Object.entries(s.final.refs)) {
      const got = refs[p] ?? 0;
      if (got !== want) fail(`final.refs.${p}`, want, got);
    }
  }
  for (const [t, want] of Object.entries(s.final.msr)) {
    const got = sys.thread(t)?.context.msr ?? null;
    if (got !== want) fail(`final.msr.${t}`, want, got);
  }
  return out;
}
