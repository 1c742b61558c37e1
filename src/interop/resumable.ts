/**
 * A scenario run that can stop at any delivery, be written out as JSON data, and go on from that data
 * in another process: the engine behind svasim as an xstate actor (src/interop/logic.ts).
 *
 * It runs a scenario exactly as `ScenarioRun` (src/runner/run.ts) does — each step's input, delivery
 * to quiescence, the invariant monitors, then the step's `expect`; `final`, `forbid` and the monitors'
 * reports at the end — and adds what an actor hosted by xstate needs:
 * - finer steps: one delivery at a time ({@link ResumableRun.deliver}), and inputs injected between or
 *   within steps ({@link ResumableRun.input});
 * - {@link ResumableRun.persist} / {@link ResumableRun.restore}: the system's own snapshot
 *   (`System.snapshot()`: every actor, pending and deferred messages), the monitor's memory, the step in
 *   progress and the verdict so far. A restored run continues with the same deliveries, seqs and
 *   verdict as the run it was persisted from (tested).
 *
 * The expectation checks and the summary are the runner's own (`checkExpect`, `checkFinal`, `summarize`,
 * `pasidAfter` from src/runner/run.ts); a test holds this run's `RunResult` equal to `runScenario`'s on
 * every built-in scenario.
 */
import { isBuiltinMessage, type Address, type AnyMessage } from '../../machines/protocol.ts';
import type { EngineKind } from '../runtime/actor.ts';
import type { Kinds } from '../runtime/kinds.ts';
import { messageIssue } from '../runtime/message-schema.ts';
import { InvariantMonitor, type MonitorState } from '../runtime/monitor.ts';
import { FifoScheduler, type Scheduler } from '../runtime/scheduler.ts';
import { System, type Delivered, type SystemSnapshot } from '../runtime/system.ts';
import { checkExpect, checkFinal, pasidAfter, runResult, stepInput, stepResult, systemConfig, type Failure, type RunResult, type StepOutcome } from '../runner/run.ts';
import type { Scenario } from '../scenario/types.ts';

/** How a run is built: the settings that are code, not data (they are not persisted). */
export interface ResumableOptions {
  /** The kinds the scenario's devices and actors name (default: svasim's own). */
  readonly kinds?: Kinds | undefined;
  /** How actors are stepped (default `compiled`). */
  readonly engine?: EngineKind | undefined;
  /** A new scheduler for each run (default: FIFO). Its pending messages are restored into it. */
  readonly scheduler?: (() => Scheduler) | undefined;
}

/** The step in progress: a scenario step, or inputs injected while none was. */
interface OpenStep {
  /** The step label of its messages: the scenario step's index (injected inputs: the last step run). */
  readonly index: number;
  /** Whether it is the scenario's step `index` (else only injected inputs, with no `expect`). */
  readonly scenarioStep: boolean;
  /** Its deliveries so far. */
  readonly records: Delivered[];
  /** Whether the monitors have looked at it (they do once, at its first quiescence). */
  checked: boolean;
}

/** Everything a run needs to go on: JSON data (the format is versioned by `format`). */
export interface ResumableState {
  readonly format: 1;
  readonly scenario: Scenario;
  readonly system: SystemSnapshot;
  readonly monitor: MonitorState;
  /** Actors changed in the step in progress (the monitors read them at its end). */
  readonly changed: readonly Address[];
  readonly next: number;
  readonly open: { readonly index: number; readonly scenarioStep: boolean; readonly records: readonly Delivered[]; readonly checked: boolean } | null;
  readonly outcomes: readonly StepOutcome[];
  readonly failures: readonly Failure[];
  readonly violations: readonly Delivered[];
  readonly counts: Readonly<Record<string, number>>;
  readonly forbidSeen: readonly string[];
  readonly suppressedDmar: number;
}

export class ResumableRun {
  readonly sys: System;
  private readonly monitor: InvariantMonitor;
  private readonly changed = new Set<Address>();
  private next: number;
  private open: OpenStep | null;
  private readonly outcomes: StepOutcome[];
  private readonly failures: Failure[];
  private readonly violations: Delivered[];
  private readonly counts: Record<string, number>;
  private readonly forbidden: ReadonlySet<string>;
  private readonly forbidSeen: Set<string>;
  private suppressedDmar: number;
  private result: RunResult | null = null;
  /** Called with every delivery, after the run has counted it. */
  onDelivered: ((d: Delivered) => void) | null = null;

  private constructor(
    readonly scenario: Scenario,
    options: ResumableOptions,
    from: ResumableState | undefined,
  ) {
    const scheduler = options.scheduler?.() ?? new FifoScheduler();
    this.sys = new System(systemConfig(scenario), scheduler, from?.system, { engine: options.engine, kinds: options.kinds });
    this.monitor = new InvariantMonitor(from?.monitor);
    for (const a of from?.changed ?? []) this.changed.add(a);
    this.next = from?.next ?? 0;
    this.open = from?.open ? { ...from.open, records: [...from.open.records] } : null;
    this.outcomes = [...(from?.outcomes ?? [])];
    this.failures = [...(from?.failures ?? [])];
    this.violations = [...(from?.violations ?? [])];
    this.counts = { ...from?.counts };
    this.forbidden = new Set<string>(scenario.forbid);
    this.forbidSeen = new Set(from?.forbidSeen);
    this.suppressedDmar = from?.suppressedDmar ?? 0;
    // What ScenarioRun's subscriber does with every delivery (the log aside: this run writes none).
    this.sys.listen((d) => {
      this.open?.records.push(d);
      // An observer's copy is not another message of its type.
      if (d.copy !== true) this.counts[d.msg.type] = (this.counts[d.msg.type] ?? 0) + 1;
      if (d.msg.type === 'invariant.violation') this.violations.push(d);
      else if (d.msg.type === 'fault.dmar' && d.msg.suppressed === true) this.suppressedDmar++;
      if (this.forbidden.has(d.msg.type) && !this.forbidSeen.has(d.msg.type)) {
        this.forbidSeen.add(d.msg.type);
        this.failures.push({ step: d.step, what: `forbid: ${d.msg.type}`, expected: 'never', got: `seq ${d.seq}` });
      }
      this.onDelivered?.(d);
    });
  }

  /** A run of `scenario` from its start. */
  static start(scenario: Scenario, options: ResumableOptions = {}): ResumableRun {
    return new ResumableRun(scenario, options, undefined);
  }

  /** The run `persist()` wrote, going on (with the same kinds and engine it ran with). */
  static restore(state: ResumableState, options: ResumableOptions = {}): ResumableRun {
    if (state.format !== 1) throw new Error(`a persisted svasim run of format ${String(state.format)}: this version reads format 1`);
    return new ResumableRun(state.scenario, options, state);
  }

  /** The index of the next scenario step to start. */
  get nextStep(): number {
    return this.next;
  }

  /** Whether a step (or an injected input) is in progress: delivered in part. */
  get inStep(): boolean {
    return this.open !== null;
  }

  /** Every scenario step has run to its end (the run can {@link finish}). */
  get allStepsRun(): boolean {
    return this.open === null && this.next >= this.scenario.steps.length;
  }

  /** The outcomes of the steps run so far, in order. */
  get steps(): readonly StepOutcome[] {
    return this.outcomes;
  }

  /** The failures so far (expectations, `forbid`; invariants and `final` are added by {@link finish}). */
  get failuresSoFar(): readonly Failure[] {
    return this.failures;
  }

  /** The violations the monitors reported so far. */
  get violationsSoFar(): readonly Delivered[] {
    return this.violations;
  }

  /**
   * Deliver one message. With no step in progress, the next scenario step starts (its input is the
   * first delivery). A step ends when nothing is left to deliver: the monitors look at it once (what
   * they report is delivered next, within the step), then its `expect` is checked. Returns the
   * delivery, or `undefined` when the step ended without one (only deferred messages were left) or
   * every step has run.
   */
  deliver(): Delivered | undefined {
    let open = this.open;
    if (open === null) {
      if (this.allStepsRun) return undefined;
      open = this.begin();
    }
    for (;;) {
      const d = this.sys.step();
      if (d !== undefined) {
        if (this.sys.scheduler.size === 0) this.settle(open);
        return d;
      }
      if (!this.settle(open)) return undefined;
    }
  }

  /** Finish the step in progress, or run the next one, to its end; returns its deliveries. */
  step(): readonly Delivered[] {
    const open = this.open ?? (this.allStepsRun ? null : this.begin());
    if (open === null) return [];
    while (this.open === open) this.deliver();
    return open.records;
  }

  /**
   * Put a message on the bus as an input (no cause) from `from`. Within a step in progress it is one
   * more of that step's messages (delivered as the step goes on); otherwise it runs to quiescence as
   * a step of its own, checked by the monitors, labelled with the last step run (0 before any). The
   * message must be svasim's or a registered kind's and pass its schema (else a programming error).
   */
  input(message: AnyMessage, to: Address, from: Address = 'user'): readonly Delivered[] {
    const issue = isBuiltinMessage(message) ? messageIssue(message) : this.sys.kinds.check(message);
    if (issue !== null && issue !== undefined) throw new Error(`svasim input ${message.type} to ${to}: ${issue}`);
    if (this.open !== null) {
      this.sys.input(message, to, this.open.index, from);
      return [];
    }
    if (this.result !== null) throw new Error(`svasim.input after the run of ${this.scenario.name} finished`);
    const open: OpenStep = { index: Math.max(0, this.next - 1), scenarioStep: false, records: [], checked: false };
    this.open = open;
    this.sys.input(message, to, open.index, from);
    while (this.open === open) this.deliver();
    return open.records;
  }

  private begin(): OpenStep {
    const index = this.next;
    const step = this.scenario.steps[index];
    if (step === undefined) throw new Error(`scenario ${this.scenario.name} has no step ${index}`);
    this.next++;
    const open: OpenStep = { index, scenarioStep: true, records: [], checked: false };
    this.open = open;
    const { msg, to } = stepInput(step);
    this.sys.input(msg, to, index);
    return open;
  }

  /**
   * The step is quiescent. The first time, the monitors look at it: returns `true` when they reported
   * something (to deliver before the step ends). Otherwise the step ends.
   */
  private settle(open: OpenStep): boolean {
    if (!open.checked) {
      open.checked = true;
      for (const a of this.sys.takeChanged()) this.changed.add(a);
      const found = this.monitor.check(this.sys, open.records, this.changed);
      this.changed.clear();
      for (const v of found) {
        this.sys.post({ type: 'invariant.violation', invariant: v.invariant, detail: v.detail }, 'monitor', 'user', v.at, open.index);
      }
      if (found.length > 0) return true;
    }
    this.open = null;
    if (open.scenarioStep) this.close(open);
    return false;
  }

  /** A scenario step ended: its outcome, and its `expect` checked. */
  private close(open: OpenStep): void {
    const step = this.scenario.steps[open.index];
    if (step === undefined) throw new Error(`scenario ${this.scenario.name} has no step ${open.index}`);
    const { result, value, reason } = stepResult(step, open.records);
    const outcome: StepOutcome = {
      index: open.index, step, result, ...(value === undefined ? {} : { value }), ...(reason === undefined ? {} : { reason }),
      pasid: pasidAfter(this.sys, step), messages: open.records.length,
    };
    this.outcomes.push(outcome);
    checkExpect(outcome, open.records, this.failures);
  }

  /**
   * Check `final` and the invariants, and stop the system: the run's result, as `runScenario` gives
   * it (no log: `logBytes` 0). Every step must have run.
   */
  finish(): RunResult {
    if (this.result !== null) return this.result;
    if (!this.allStepsRun) throw new Error(`scenario ${this.scenario.name}: finish() with step ${this.next} of ${this.scenario.steps.length} to run`);
    checkFinal(this.sys, this.scenario, this.failures);
    this.result = runResult(this.scenario, this.sys, {
      outcomes: this.outcomes,
      failures: this.failures,
      violations: this.violations,
      counts: this.counts,
      suppressedDmar: this.suppressedDmar,
      logBytes: 0,
    });
    this.sys.stop();
    return this.result;
  }

  /** The run as JSON data, for {@link restore}. Copies: the run goes on unaffected. */
  persist(): ResumableState {
    for (const a of this.sys.takeChanged()) this.changed.add(a);
    const open = this.open;
    return {
      format: 1,
      scenario: this.scenario,
      system: this.sys.snapshot(),
      monitor: this.monitor.state(),
      changed: [...this.changed],
      next: this.next,
      open: open === null ? null : { index: open.index, scenarioStep: open.scenarioStep, records: [...open.records], checked: open.checked },
      outcomes: [...this.outcomes],
      failures: [...this.failures],
      violations: [...this.violations],
      counts: { ...this.counts },
      forbidSeen: [...this.forbidSeen],
      suppressedDmar: this.suppressedDmar,
    };
  }
}
