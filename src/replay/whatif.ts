/**
 * What-if: re-run a log's scenario under another policy and compare, step by step, what the kernel did:
 * the step's result and its notable events (traps, fixups, signals, refcounts, frees, table entries,
 * queue answers, DMAR faults). The log's own run is read from its records, not re-executed.
 *
 * Why a step was refused is read from its `sys.return` (`reason`, set by the machine whose check
 * refused), in the log and in the re-run alike; it is shown, but a step counts as different only when
 * what the kernel did differs — two refusals with the same errno and events are the same outcome,
 * whichever check gave them (and a log of an older model has no reasons at all).
 */
import { isBuiltinMessage, type Policy } from '../../machines/protocol.ts';
import { describeRefusal, type Refusal } from '../../machines/refusals.ts';
import type { ParsedLog } from '../log/reader.ts';
import type { Delivered } from '../runtime/system.ts';
import { describeStep, runScenario, stepResult } from '../runner/run.ts';

export interface StepDigest {
  readonly result: string;
  /** The kernel check that refused the step (machines/refusals.ts), as its record says, when it did. */
  readonly reason?: Refusal;
  /** Notable events in delivery order, compact: `pasid.get(refs 2)`, `fault.dmar(0x59)`. */
  readonly events: readonly string[];
}

export interface WhatIfRow {
  readonly index: number;
  readonly step: string;
  readonly logged: StepDigest;
  readonly rerun: StepDigest;
  readonly differs: boolean;
}

/** A what-if: the logged and re-run policies, one row per step, how many differ, totals. */
export interface WhatIfResult {
  readonly logged: Policy;
  readonly rerun: Policy;
  readonly rows: readonly WhatIfRow[];
  readonly differing: number;
  /** Totals of the kernel-visible outcomes, logged vs re-run. */
  readonly totals: readonly { readonly what: string; readonly logged: number; readonly rerun: number }[];
}

function notable(d: Delivered): string | null {
  const m = d.msg;
  if (d.copy === true || !isBuiltinMessage(m)) return null;
  switch (m.type) {
    case 'trap.gp':
    case 'trap.ud':
    case 'signal.sigill':
    case 'gp.fixup':
    case 'wq.accept':
    case 'wq.retry':
    case 'wq.complete':
      return m.type;
    case 'signal.sigsegv':
      return `signal.sigsegv(${m.reason})`;
    case 'msr.write':
      return `msr.write(${m.pasid})`;
    case 'pasid.alloc':
      return `pasid.alloc(${m.pasid})`;
    case 'pasid.get':
    case 'pasid.put':
      return `${m.type}(refs ${m.refs})`;
    case 'pasid.free':
      return `pasid.free(${m.pasid})`;
    case 'pasidtable.set':
      return `pasidtable.set(${m.device})`;
    case 'pasidtable.clear':
      return `pasidtable.clear(${m.device}${m.silent ? ', silent' : ''})`;
    case 'fault.dmar':
      return `fault.dmar(0x${m.reason.toString(16)}${m.suppressed ? ', suppressed' : ''})`;
    case 'invariant.violation':
      return `invariant.violation(${m.invariant})`;
    default:
      return null;
  }
}

const TOTALS: readonly [string, (d: Delivered) => boolean][] = [
  ['DMAR faults reported', (d) => d.msg.type === 'fault.dmar' && d.msg.suppressed !== true],
  ['DMAR faults suppressed', (d) => d.msg.type === 'fault.dmar' && d.msg.suppressed === true],
  ['SIGSEGV', (d) => d.msg.type === 'signal.sigsegv'],
  ['SIGILL', (d) => d.msg.type === 'signal.sigill'],
  ['#GP fixups', (d) => d.msg.type === 'gp.fixup'],
  ['PASID allocations', (d) => d.msg.type === 'pasid.alloc'],
  ['PASID frees', (d) => d.msg.type === 'pasid.free'],
  ['refcount gets/puts', (d) => d.msg.type === 'pasid.get' || d.msg.type === 'pasid.put'],
  ['completions', (d) => d.msg.type === 'wq.complete'],
  ['invariant violations', (d) => d.msg.type === 'invariant.violation'],
];

function byStep(records: readonly Delivered[], steps: number): Delivered[][] {
  const out: Delivered[][] = Array.from({ length: steps }, () => []);
  for (const d of records) out[d.step]?.push(d);
  return out;
}

/**
 * Re-run a log's scenario (every actor, registered kinds included) under another policy and compare it
 * with the log step by step: results, traps, fixups, signals, refcounts, frees, DMAR faults.
 */
export function whatIf(log: ParsedLog, override: Partial<Policy>): WhatIfResult {
  const scenario = log.scenario;
  const rerunPolicy: Policy = { ...scenario.policy, ...override };
  const rerunRecords: Delivered[] = [];
  // Every actor runs again, those of registered kinds included: none of their old outputs is fed back.
  runScenario({ ...scenario, policy: rerunPolicy }, { onRecord: (d) => rerunRecords.push(d), kinds: log.kinds });
  const a = byStep(log.records, scenario.steps.length);
  const b = byStep(rerunRecords, scenario.steps.length);
  const lastLogged = log.records.reduce((m, d) => Math.max(m, d.step), -1);
  const rows: WhatIfRow[] = scenario.steps.map((step, index) => {
    const digest = (msgs: readonly Delivered[]): StepDigest => {
      const r = stepResult(step, msgs);
      return {
        result: r.value === undefined ? r.result : `${r.result} value=${r.value}`,
        ...(r.reason === undefined ? {} : { reason: r.reason }),
        events: msgs.map(notable).filter((e): e is string => e !== null),
      };
    };
    const logged = index > lastLogged ? { result: '(not in the log)', events: [] } : digest(a[index] ?? []);
    const rerun = digest(b[index] ?? []);
    // The outcome, not the explanation: a reason alone never makes a step differ.
    const differs = logged.result !== rerun.result || logged.events.join(' ') !== rerun.events.join(' ');
    return { index, step: describeStep(step), logged, rerun, differs };
  });
  // Observers' copies are not more of a kind of event.
  const totals = TOTALS.map(([what, f]) => ({ what, logged: log.records.filter((d) => d.copy !== true && f(d)).length, rerun: rerunRecords.filter((d) => d.copy !== true && f(d)).length }));
  return { logged: scenario.policy, rerun: rerunPolicy, rows, differing: rows.filter((r) => r.differs).length, totals };
}

/** A what-if as the lines `svasim replay --policy` prints. */
export function formatWhatIf(w: WhatIfResult): string[] {
  const name = (p: Policy): string => `pasid=${p.pasid} lam=${p.lam}`;
  const out = [`what-if: logged under ${name(w.logged)}; re-run under ${name(w.rerun)}`];
  const width = Math.max(name(w.logged).length, name(w.rerun).length);
  for (const r of w.rows) {
    if (!r.differs) continue;
    out.push(`step ${r.index}: ${r.step}`);
    const result = (d: StepDigest): string => (d.reason === undefined ? d.result : `${d.result} (${describeRefusal(d.reason)})`);
    const events = (d: StepDigest): string => (d.events.length > 0 ? ` · ${d.events.join(' ')}` : '');
    out.push(`  ${name(w.logged).padEnd(width)}  ${result(r.logged)}${events(r.logged)}`);
    out.push(`  ${name(w.rerun).padEnd(width)}  ${result(r.rerun)}${events(r.rerun)}`);
  }
  out.push(`${w.differing} of ${w.rows.length} steps differ`);
  for (const t of w.totals) if (t.logged !== 0 || t.rerun !== 0) out.push(`  ${t.what.padEnd(24)} ${String(t.logged).padStart(4)} → ${t.rerun}`);
  return out;
}
