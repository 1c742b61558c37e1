/**
 * Runs a scenario: each step becomes an input message, delivered (FIFO by default) until quiescence;
 * then the invariant monitors look at what the step touched, and the step's `expect` is checked.
 * At the end, `final` and `forbid` are checked.
 */
import { match } from 'ts-pattern';
import { isBuiltinMessage, threadAddr, type SysValue } from '../../machines/protocol.ts';
import type { Refusal } from '../../machines/refusals.ts';
import { LogWriter } from '../log/writer.ts';
import { closingLine, headerLine, pluginRefs } from '../log/format.ts';
import type { Kinds } from '../runtime/kinds.ts';
import type { InputFile } from '../log/io.ts';
import { InvariantMonitor } from '../runtime/monitor.ts';
import type { Scheduler } from '../runtime/scheduler.ts';
import { System, type Delivered, type EngineKind, type SystemOptions } from '../runtime/system.ts';
import { checkPolicy } from '../scenario/load.ts';
import { finalMismatches } from './final.ts';
import { stepInput, systemConfig } from './inputs.ts';
import { sameSysValue } from '../scenario/schema.ts';
import type { Scenario, Step } from '../scenario/types.ts';

/** An expectation that did not hold: where (step, or `null` for the end), what, expected and got. */
export interface Failure {
  /** Step index, or `null` for `final` / `forbid` / invariants found at the end. */
  readonly step: number | null;
  readonly what: string;
  readonly expected: string;
  readonly got: string;
}

/** What one step did: its result (errno, `ok`, `accepted`…), value, refusal reason, PASID after it. */
export interface StepOutcome {
  readonly index: number;
  readonly step: Step;
  readonly result: string;
  readonly value?: SysValue;
  /** Why the syscall was refused (the kernel check its `sys.return` names), when it returned an errno. */
  readonly reason?: Refusal;
  /** The PASID of the step's mm after the step. */
  readonly pasid: number | null;
  readonly messages: number;
}

/** A process at the end of a run: its mm, PASID and threads. */
export interface ProcessSummary {
  readonly process: string;
  readonly mm: number;
  readonly state: string;
  readonly pasid: number | null;
  readonly refs: number | null;
  readonly threads: readonly { readonly name: string; readonly state: string; readonly msr: number | null; readonly activated: boolean }[];
}

/** The result of {@link runScenario}: verdict, steps, failures, violations, counts. */
export interface RunResult {
  /** The scenario's name (its `name` field), as `svasim run --json` prints it. */
  readonly name: string;
  readonly scenario: Scenario;
  readonly ok: boolean;
  readonly messages: number;
  readonly steps: readonly StepOutcome[];
  readonly failures: readonly Failure[];
  readonly violations: readonly Delivered[];
  readonly counts: Readonly<Record<string, number>>;
  /** DMAR faults on entries torn down at exit (fault processing disabled: the kernel logs nothing). */
  readonly suppressedDmar: number;
  readonly processes: readonly ProcessSummary[];
  readonly logBytes: number;
}

/** How {@link runScenario} runs: the log, the scheduler, the engine, the registered kinds, callbacks. */
export interface RunOptions {
  /** Write the event log here. */
  readonly log?: string;
  /** When log records reach the file: at the end of every step (default), or each as it is delivered. */
  readonly flush?: 'step' | 'record';
  /** Called for every delivered message (traces, inspectors). */
  readonly onRecord?: (d: Delivered) => void;
  /** Called after each step with its outcome. */
  readonly onStep?: (o: StepOutcome) => void;
  /** Called after each step, at quiescence, with the live system (read it; do not send). */
  readonly onSettled?: (sys: System) => void;
  readonly scheduler?: Scheduler;
  /** How actors are stepped (default `compiled`; `xstate`: xstate's own interpreter). */
  readonly engine?: EngineKind;
  /**
   * The most messages one step may deliver (default 1,000,000): past it the run stops with
   * {@link RunawayStepError} — an actor that answers every message with another never reaches quiescence.
   */
  readonly maxStepMessages?: number | undefined;
  /** Variants of svasim's own machines (SystemOptions.machines): for tests of the model's invariants. */
  readonly machines?: SystemOptions['machines'];
  /** The kinds beyond svasim's that the scenario's devices and actors name (src/runtime/kinds.ts). */
  readonly kinds?: Kinds | undefined;
  /** The scenario file's own policy when a command-line override changed it (kept in the log header). */
  readonly filePolicy?: Scenario['policy'];
  /** Files this run reads (its scenario file): the log may not be one of them, it would overwrite it. */
  readonly logInputs?: readonly InputFile[];
  /** One-line warnings about the log file (no `flock` to lock it); default: stderr. */
  readonly onWarning?: (line: string) => void;
}

/** {@link RunOptions.maxStepMessages}' default. */
export const DEFAULT_MAX_STEP_MESSAGES = 1_000_000;

/** A step that never reached quiescence within `maxStepMessages` (one line naming who kept talking). */
export class RunawayStepError extends Error {}

export { stepInput, systemConfig };

/** The scenario's `final` checked after the run: each entry that does not hold is a failure at the end. */
export function checkFinal(sys: System, s: Scenario, failures: Failure[]): void {
  for (const m of finalMismatches(sys, s)) failures.push({ step: null, ...m });
}

/** The thread (or process) a step acts for: whose result and mm the expectations read. */
function stepActor(step: Step): string | null {
  return step.op === 'spawn' ? step.process : step.op === 'complete' ? null : step.thread;
}

/** A step's result: the syscall's return, or what ENQCMD did. */
export function stepResult(step: Step, msgs: readonly Delivered[]): { result: string; value?: SysValue; reason?: Refusal } {
  const who = stepActor(step);
  for (const d of msgs) {
    const m = d.msg;
    if (isBuiltinMessage(m) && m.type === 'sys.return' && m.thread === who) {
      const r: { result: string; value?: SysValue; reason?: Refusal } = { result: m.errno ?? 'ok' };
      if (m.value !== undefined) r.value = m.value;
      if (m.reason !== undefined) r.reason = m.reason;
      return r;
    }
    if (who !== null && d.to === threadAddr(who)) {
      if (m.type === 'wq.accept') return { result: 'accepted' };
      if (m.type === 'wq.retry') return { result: 'retry' };
      if (m.type === 'signal.sigsegv') return { result: 'sigsegv' };
      if (m.type === 'signal.sigill') return { result: 'sigill' };
    }
  }
  return { result: 'ok' };
}

export function pasidAfter(sys: System, step: Step): number | null {
  if (step.op === 'spawn') return sys.processMm(step.process)?.context.pasid ?? null;
  if (step.op === 'complete') return null;
  const t = sys.thread(step.thread);
  return t ? (sys.mm(t.context.mm)?.context.pasid ?? null) : null;
}

const show = (v: unknown): string => (v === undefined ? '(nothing)' : JSON.stringify(v));

/** Is `want` a subsequence of `got`? */
function inOrder(want: readonly string[], got: readonly string[]): boolean {
  let i = 0;
  for (const t of got) if (i < want.length && t === want[i]) i++;
  return i === want.length;
}

/** Which expected event is missing, and after what: "pasid.get missing after trap.gp". */
function missingEvent(want: readonly string[], got: readonly string[]): string {
  let i = 0;
  for (const t of got) if (i < want.length && t === want[i]) i++;
  const missing = want[i];
  const before = i > 0 ? want[i - 1] : undefined;
  const elsewhere = missing !== undefined && got.includes(missing);
  return `${missing ?? '?'} ${elsewhere ? 'only before' : 'missing'}${before ? ` ${elsewhere ? '' : 'after '}${before}` : ''}`.replace('  ', ' ');
}

/** A step in words (`bind A dsa0`), as the trace and the inspector show it. */
export function describeStep(step: Step): string {
  return match(step)
    .with({ op: 'spawn' }, (s) => `spawn ${s.process}`)
    .with({ op: 'clone' }, { op: 'fork' }, (s) => `${s.op} ${s.thread} -> ${s.new}`)
    .with({ op: 'exec' }, { op: 'exit' }, (s) => `${s.op} ${s.thread}`)
    .with({ op: 'bind' }, { op: 'unbind' }, { op: 'enqcmd' }, { op: 'munmap' }, (s) => `${s.op} ${s.thread} ${s.device}`)
    .with({ op: 'close' }, (s) => `close ${s.thread} ${s.fd !== undefined ? `fd ${s.fd}` : (s.device ?? '')}`)
    .with({ op: 'open' }, (s) => `open ${s.thread} ${s.device} as ${s.fd}${s.cloexec === true ? ' (O_CLOEXEC)' : ''}`)
    .with({ op: 'mmap' }, (s) => `mmap ${s.thread} fd ${s.fd}`)
    .with({ op: 'arch_prctl' }, (s) => `arch_prctl ${s.thread} 0x${s.code.toString(16)}${s.arg === undefined ? '' : ` ${s.arg}`}`)
    .with({ op: 'complete' }, (s) => `complete ${s.device}${s.count === undefined ? '' : ` ${s.count}`}`)
    .exhaustive();
}

/**
 * A scenario run that advances one step at a time (the inspector's live mode); `runScenario` runs one
 * to the end. Every step runs to quiescence, then the monitors check it and its `expect`.
 */
export class ScenarioRun {
  readonly sys: System;
  private readonly monitor = new InvariantMonitor();
  private readonly writer: LogWriter | null;
  private readonly failures: Failure[] = [];
  private readonly violations: Delivered[] = [];
  private readonly outcomes: StepOutcome[] = [];
  private readonly counts: Record<string, number> = {};
  private readonly forbidden: Set<string>;
  private readonly forbidSeen = new Set<string>();
  private stepMsgs: Delivered[] = [];
  private suppressedDmar = 0;
  private index = 0;
  private finished: RunResult | null = null;

  constructor(
    readonly scenario: Scenario,
    private readonly opts: RunOptions = {},
  ) {
    // A program may change a loaded scenario's policy: it is checked as the loader checks an override.
    checkPolicy(scenario.policy);
    this.sys = new System(systemConfig(scenario), opts.scheduler, undefined, { engine: opts.engine, kinds: opts.kinds, machines: opts.machines });
    const asWritten = opts.filePolicy ? { ...scenario, policy: opts.filePolicy } : scenario;
    // Opened (locked, checked against the inputs) before anything runs: a log that cannot be written is
    // a LogFileError here, not after the run.
    this.writer = opts.log
      ? new LogWriter(opts.log, headerLine(asWritten, scenario.policy, opts.kinds ? pluginRefs(opts.kinds) : [], opts.scheduler?.description), opts.flush, {
          ...(opts.logInputs ? { inputs: opts.logInputs } : {}),
          ...(opts.onWarning ? { warn: opts.onWarning } : {}),
        })
      : null;
    this.forbidden = new Set<string>(scenario.forbid);
    this.sys.listen((d) => {
      this.stepMsgs.push(d);
      // An observer's copy is not another message of its type.
      if (d.copy !== true) this.counts[d.msg.type] = (this.counts[d.msg.type] ?? 0) + 1;
      this.writer?.write(d);
      opts.onRecord?.(d);
      if (d.msg.type === 'invariant.violation') this.violations.push(d);
      else if (d.msg.type === 'fault.dmar' && d.msg.suppressed === true) this.suppressedDmar++;
      if (this.forbidden.has(d.msg.type) && !this.forbidSeen.has(d.msg.type)) {
        this.forbidSeen.add(d.msg.type);
        this.failures.push({ step: d.step, what: `forbid: ${d.msg.type}`, expected: 'never', got: `seq ${d.seq}` });
      }
    });
  }

  /** The index of the next step to run (`scenario.steps.length` when all have run). */
  get nextStep(): number {
    return this.index;
  }

  get done(): boolean {
    return this.index >= this.scenario.steps.length;
  }

  /** Deliver until quiescence, or fail when the step goes on past `maxStepMessages` (an actor that loops). */
  private quiesce(index: number, step: Step): void {
    const limit = this.opts.maxStepMessages ?? DEFAULT_MAX_STEP_MESSAGES;
    if (this.sys.runToQuiescence(limit) < limit || this.sys.scheduler.size === 0) return;
    // Still going: name who talks most in the step's last records.
    const tail = this.stepMsgs.slice(-1000);
    const talk = new Map<string, number>();
    for (const d of tail) talk.set(`${d.from} -> ${d.to} (${d.msg.type})`, (talk.get(`${d.from} -> ${d.to} (${d.msg.type})`) ?? 0) + 1);
    const [top] = [...talk].sort((a, b) => b[1] - a[1]);
    throw new RunawayStepError(
      `step ${index} (${describeStep(step)}) delivered ${limit.toLocaleString('en-US')} messages without reaching quiescence; most of the last ${tail.length} are ${top?.[0] ?? '?'}: an actor that never stops? (the limit: maxStepMessages, --max-step-messages)`,
    );
  }

  /** Run the next step to quiescence, check it, and return its outcome and records. */
  step(): { outcome: StepOutcome; records: readonly Delivered[] } {
    const step = this.scenario.steps[this.index];
    if (step === undefined || this.finished) throw new Error(`scenario ${this.scenario.name} has no step ${this.index}`);
    const index = this.index++;
    const sys = this.sys;
    this.stepMsgs = [];
    const { msg, to } = stepInput(step);
    try {
      sys.input(msg, to, index);
      this.quiesce(index, step);
      for (const viol of this.monitor.check(sys, this.stepMsgs, sys.takeChanged())) {
        sys.post({ type: 'invariant.violation', invariant: viol.invariant, detail: viol.detail }, 'monitor', 'user', viol.at, index);
      }
      this.quiesce(index, step);
    } catch (e) {
      // No closing record: the log reads as a run that stopped here.
      this.writer?.abandon();
      throw e;
    }
    const msgs = this.stepMsgs;
    const { result, value, reason } = stepResult(step, msgs);
    const outcome: StepOutcome = {
      index, step, result, ...(value === undefined ? {} : { value }), ...(reason === undefined ? {} : { reason }), pasid: pasidAfter(sys, step), messages: msgs.length,
    };
    this.outcomes.push(outcome);
    checkExpect(outcome, msgs, this.failures);
    // Each finished step reaches the file: a crash (even a kill) leaves every complete step's records.
    // A write that failed (now, or during the step with --flush record) is thrown here: LogFileError.
    this.writer?.flush();
    this.opts.onStep?.(outcome);
    this.opts.onSettled?.(sys);
    return { outcome, records: msgs };
  }

  /**
   * Check `final` and the invariants, close the log with its closing record (the run is over, whatever
   * its verdict) and stop the actors. Runs no further step.
   */
  finish(): RunResult {
    if (this.finished) return this.finished;
    try {
      checkFinal(this.sys, this.scenario, this.failures);
      // A message no actor ever took is a stuck actor (a registered kind that always defers it, a model
      // bug): the run says so rather than ending as if all had been delivered.
      const left = this.sys.deferredMessages();
      if (left.length > 0) {
        const shown = left.slice(0, 3).map((e) => `${e.msg.type} ${e.from} -> ${e.to}`).join(', ');
        this.failures.push({ step: null, what: 'messages never taken', expected: 'every message taken', got: `${left.length} still deferred: ${shown}${left.length > 3 ? ', …' : ''}` });
      }
    } catch (e) {
      this.writer?.abandon();
      throw e;
    }
    this.writer?.end(closingLine(this.sys.lastSeq, this.index));
    this.finished = runResult(this.scenario, this.sys, {
      outcomes: this.outcomes,
      failures: this.failures,
      violations: this.violations,
      counts: this.counts,
      suppressedDmar: this.suppressedDmar,
      logBytes: this.writer?.bytes ?? 0,
    });
    this.sys.stop();
    return this.finished;
  }
}

/**
 * The result of a run that has checked `final`: the invariant violations become failures (after those
 * found so far), and the processes are summarized. Shared by ScenarioRun and the resumable run.
 */
export function runResult(
  scenario: Scenario,
  sys: System,
  r: { outcomes: StepOutcome[]; failures: Failure[]; violations: Delivered[]; counts: Record<string, number>; suppressedDmar: number; logBytes: number },
): RunResult {
  const failures = r.failures;
  for (const d of r.violations) {
    const m = d.msg;
    if (isBuiltinMessage(m) && m.type === 'invariant.violation') failures.push({ step: d.step, what: `invariant ${m.invariant}`, expected: 'holds', got: m.detail });
  }
  return {
    name: scenario.name,
    scenario,
    ok: failures.length === 0,
    messages: sys.lastSeq,
    steps: r.outcomes,
    failures,
    violations: r.violations,
    counts: r.counts,
    suppressedDmar: r.suppressedDmar,
    processes: summarize(sys),
    logBytes: r.logBytes,
  };
}

/**
 * Run every step of a scenario, each to quiescence, checking `expect`, the invariants, `final` and
 * `forbid`; with `log`, write the event log. Programming errors (and a plugin's bad message) throw.
 */
export function runScenario(scenario: Scenario, opts: RunOptions = {}): RunResult {
  const run = new ScenarioRun(scenario, opts);
  while (!run.done) run.step();
  return run.finish();
}

export function checkExpect(o: StepOutcome, msgs: readonly Delivered[], failures: Failure[]): void {
  const e = o.step.expect;
  if (!e) return;
  const fail = (what: string, expected: string, got: string): void => {
    failures.push({ step: o.index, what, expected, got });
  };
  if (e.result !== undefined && e.result !== o.result) fail('result', e.result, o.result);
  if (e.value !== undefined && !sameSysValue(e.value, o.value)) fail('value', show(e.value), show(o.value));
  if (e.pasid !== undefined && e.pasid !== o.pasid) fail('pasid', show(e.pasid), show(o.pasid));
  const types = msgs.map((d) => d.msg.type);
  if (e.events && !inOrder(e.events, types)) fail('events', `${e.events.join(', ')} (in this order)`, `${missingEvent(e.events, types)}; the step caused ${types.join(', ')}`);
  if (e.noEvents) {
    const bad = e.noEvents.filter((t) => types.includes(t));
    if (bad.length > 0) fail('noEvents', `none of ${e.noEvents.join(', ')}`, bad.join(', '));
  }
}

export function summarize(sys: System): ProcessSummary[] {
  const refs = sys.iommu().context.refs;
  const threadsOf = new Map<string, ProcessSummary['threads'][number][]>();
  for (const a of sys.addresses()) {
    const t = a.kind === 'thread' ? sys.thread(a.address.slice(7)) : undefined;
    if (!t) continue;
    const list = threadsOf.get(t.context.process) ?? [];
    list.push({ name: t.context.name, state: t.state, msr: t.context.msr, activated: t.context.activated });
    threadsOf.set(t.context.process, list);
  }
  const out: ProcessSummary[] = [];
  for (const [process, id] of sys.processes()) {
    const mm = sys.mm(id);
    if (!mm) continue;
    const pasid = mm.context.pasid;
    out.push({ process, mm: id, state: mm.state, pasid, refs: pasid === null ? null : (refs[pasid] ?? null), threads: threadsOf.get(process) ?? [] });
  }
  return out;
}
