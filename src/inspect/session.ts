/**
 * What the inspector shows: a log (scrubbing through a finished run) or a scenario run live, one step at
 * a time. Either way the records are log records and the state at any seq comes from replay's time
 * travel (`SeekableLog.at`), so the page cannot show anything the log does not reproduce.
 */
import { headerLine, pluginRefs, recordLine } from '../log/format.ts';
import { KindError, type Kinds } from '../runtime/kinds.ts';
import { LogError, parseLog } from '../log/reader.ts';
import { SeekableLog } from '../replay/checkpoints.ts';
import { actorStates, systemState, type ActorState, type SystemState } from '../runtime/state.ts';
import type { ActorKind, System } from '../runtime/system.ts';
import { describeStep, ScenarioRun } from '../runner/run.ts';
import { ScenarioError } from '../scenario/load.ts';
import type { Scenario } from '../scenario/types.ts';
import { machineLayouts, type MachineLayout } from './layout.ts';
import { modelsOf, type ModelsAt } from './models.ts';

export interface ActorInfo {
  readonly address: string;
  /** One of svasim's kinds, or a registered kind's name. */
  readonly kind: string;
  readonly process: string | null;
  readonly device: string | null;
}

export interface SessionInfo {
  readonly title: string;
  readonly source: 'scenario' | 'log';
  readonly live: boolean;
  readonly policy: Scenario['policy'];
  readonly steps: readonly { readonly index: number; readonly text: string }[];
  readonly nextStep: number;
  readonly lastSeq: number;
  /** The record the page opens on (an exploration's counterexample: its finding), or `null`: the start. */
  readonly selected: number | null;
  /** The last seq whose state can be shown (a log that diverges from the model: the seq before). */
  readonly lastShowable: number;
  /** What the page cannot show, one line each (a divergence, records lost at the end). */
  readonly warnings: readonly string[];
  /**
   * A live run whose step failed (a plugin's error, or a bug): `the run stopped at step N: why`, one
   * line; no further step runs. `null` while it can go on (and for a log).
   */
  readonly stopped: string | null;
  /** Per kind (svasim's and registered machine kinds). */
  readonly machines: Record<string, MachineLayout>;
  readonly actors: readonly ActorInfo[];
}

export interface StateAt {
  readonly seq: number;
  readonly actors: readonly ActorState[];
  readonly system: SystemState;
}

/** A step run in live mode: its records as JSON text (an array), and who exists now. */
export interface StepUpdate {
  readonly recordsJson: string;
  readonly actors: readonly ActorInfo[];
  readonly nextStep: number;
  readonly lastSeq: number;
  /** Set when this step failed and stopped the run (see {@link SessionInfo.stopped}). */
  readonly stopped?: string;
}

const infoOf = (a: ActorState): ActorInfo => ({ address: a.address, kind: a.kind, process: a.process, device: a.device });
const readState = (sys: System): StateAt => ({ seq: sys.lastSeq, actors: actorStates(sys), system: systemState(sys) });

export abstract class InspectSession {
  abstract readonly source: 'scenario' | 'log';
  abstract readonly scenario: Scenario;
  abstract get live(): boolean;
  abstract get nextStep(): number;
  abstract get lastSeq(): number;
  /** The record to open on (see {@link SessionInfo.selected}). */
  get selected(): number | null {
    return null;
  }
  /** The last seq whose state can be shown (before a divergence from the model, if any). */
  get lastShowable(): number {
    return this.lastSeq;
  }
  /** What this session cannot show (a divergence from the model, records lost at the end). */
  get warnings(): readonly string[] {
    return [];
  }
  /** Why no further step can run, when a step failed (live sessions only). */
  get stopped(): string | null {
    return null;
  }
  protected abstract lines(): readonly string[];
  protected abstract seekable(): SeekableLog;
  protected abstract currentActors(): readonly ActorInfo[];
  /** The registered kinds its actors may be of (their statecharts are drawn too). */
  protected abstract kinds(): Kinds | undefined;

  private stepTexts: SessionInfo['steps'] | null = null;
  /** Recently asked states (stepping back and forth asks the same few seqs again). */
  private readonly recent = new Map<number, StateAt>();

  async info(): Promise<SessionInfo> {
    this.stepTexts ??= this.scenario.steps.map((s, index) => ({ index, text: describeStep(s) }));
    return {
      title: this.scenario.name,
      source: this.source,
      live: this.live,
      policy: this.scenario.policy,
      steps: this.stepTexts,
      nextStep: this.nextStep,
      lastSeq: this.lastSeq,
      selected: this.selected,
      lastShowable: this.lastShowable,
      warnings: this.warnings,
      stopped: this.stopped,
      machines: await machineLayouts(this.kinds()),
      actors: this.currentActors(),
    };
  }

  /** Records `from..to` (inclusive seqs, clamped) as the JSON text of an array of log records. */
  recordsJson(from = 1, to = Number.POSITIVE_INFINITY): string {
    const lines = this.lines();
    const a = Math.max(1, Math.floor(from));
    const b = Math.min(lines.length, Math.floor(to));
    return b < a ? '[]' : `[${lines.slice(a - 1, b).join(',')}]`;
  }

  /**
   * Every actor's state, and the system state, right after record `seq`. A seq outside the log, or past
   * where the log stops matching the model, is a `NoStateAt` (the client's mistake, not a bug).
   */
  stateAt(seq: number): StateAt {
    if (!Number.isInteger(seq) || seq < 0 || seq > this.lastSeq) throw new NoStateAt(`seq ${seq} is not in the log (0..${this.lastSeq})`);
    if (seq > this.lastShowable) throw new NoStateAt(`no state at #${seq}: ${this.stopsBecause()}`);
    const hit = this.recent.get(seq);
    if (hit) return hit;
    const state = this.seekable().at(seq, readState);
    this.remember(state);
    return state;
  }

  /**
   * What record `seq` made its receiver do: the transitions it took on the message, each with the kernel
   * function its machine cites for it (src/inspect/models.ts), under the run's PASID policy. Computed
   * from the receiver's state right before the message (the state at `seq − 1`); a seq outside the log,
   * or past where states can be shown, is a `NoStateAt`.
   */
  modelsAt(seq: number): ModelsAt {
    if (!Number.isInteger(seq) || seq < 1 || seq > this.lastSeq) throw new NoStateAt(`seq ${seq} is not a record of the log (1..${this.lastSeq})`);
    if (seq > this.lastShowable) throw new NoStateAt(`no transition at #${seq}: ${this.stopsBecause()}`);
    const rec = this.seekable().log.records[seq - 1];
    if (rec === undefined) throw new Error(`record #${seq} is missing from the log being shown`);
    const receiver = this.stateAt(seq - 1).actors.find((a) => a.address === rec.to);
    return modelsOf(seq, rec.msg, rec.to, receiver, this.scenario.policy.pasid);
  }

  protected remember(state: StateAt): void {
    if (this.recent.size >= 32) {
      const oldest = this.recent.keys().next();
      if (!oldest.done) this.recent.delete(oldest.value);
    }
    this.recent.set(state.seq, state);
  }

  /** Why states stop at `lastShowable` (only asked when they stop before `lastSeq`). */
  protected stopsBecause(): string {
    return `states can be shown up to #${this.lastShowable}`;
  }

  /** A live step changes what the later seqs hold: forget the cached states. */
  protected forget(): void {
    this.recent.clear();
  }

  /** Live mode: run the next scenario step. */
  step(): StepUpdate {
    throw new Error(`a ${this.source} session has no steps to run`);
  }
}

/** A finished run's log. */
export class LogSession extends InspectSession {
  readonly source = 'log';
  private readonly log: SeekableLog;
  private readonly actors: readonly ActorInfo[];
  private readonly logWarnings: readonly string[];

  /**
   * `allowTruncated`: a log cut short (its last line, or between steps) opens as the prefix it holds,
   * with a warning saying what is missing; without it, such a log is a LogError.
   */
  constructor(
    private readonly path: string,
    opts: { allowTruncated?: boolean; kinds?: Kinds | undefined } = {},
  ) {
    super();
    this.log = SeekableLog.open(path, { allowTruncated: opts.allowTruncated === true, kinds: opts.kinds });
    const d = this.log.divergence;
    const warnings: string[] = [];
    // A log cut short (opened with allowTruncated) is said in replay's words, as `svasim replay` says it.
    const incomplete = this.log.incomplete;
    if (incomplete) warnings.push(`${path} is incomplete, opened as a prefix: ${incomplete.why}; the states shown are those of a run cut short`);
    if (d) warnings.push(`${path} diverges from this model at seq ${d.seq}: every record is listed, but states can be shown only up to seq ${d.seq - 1} (see svasim replay ${path})`);
    this.logWarnings = warnings;
    // The last state is what the page shows first: computed once, with the actor list.
    const last = this.log.at(d ? d.seq - 1 : this.log.log.records.length, readState);
    this.remember(last);
    this.actors = last.actors.map(infoOf);
  }

  get scenario(): Scenario {
    return this.log.log.scenario;
  }
  get live(): boolean {
    return false;
  }
  get nextStep(): number {
    return this.scenario.steps.length;
  }
  get lastSeq(): number {
    return this.log.log.records.length;
  }
  /** An exploration's counterexample opens on its finding (the header's `scheduler.finding.seq`). */
  override get selected(): number | null {
    const seq = this.log.log.header.scheduler?.finding?.seq;
    return seq !== undefined && seq <= this.log.log.records.length ? seq : null;
  }
  override get lastShowable(): number {
    const d = this.log.divergence;
    return d ? d.seq - 1 : this.lastSeq;
  }
  override get warnings(): readonly string[] {
    return this.logWarnings;
  }
  protected override stopsBecause(): string {
    const d = this.log.divergence;
    return d ? `${this.path} diverges from this model at seq ${d.seq}; states can be shown up to #${d.seq - 1}` : super.stopsBecause();
  }
  protected lines(): readonly string[] {
    return this.log.log.lines;
  }
  protected seekable(): SeekableLog {
    return this.log;
  }
  protected kinds(): Kinds {
    return this.log.log.kinds;
  }
  protected currentActors(): readonly ActorInfo[] {
    return this.actors;
  }
}

/** A scenario run step by step as the user asks; its log is kept in memory. */
export class LiveSession extends InspectSession {
  readonly source = 'scenario';
  private readonly run: ScenarioRun;
  private readonly header: string;
  private readonly recordLines: string[] = [];
  private cached: SeekableLog | null = null;
  /** Set by the step that failed: no further step runs on a system left in the middle of one. */
  private failure: string | null = null;

  constructor(
    readonly scenario: Scenario,
    filePolicy?: Scenario['policy'],
    private readonly registry?: Kinds,
  ) {
    super();
    this.header = headerLine(filePolicy ? { ...scenario, policy: filePolicy } : scenario, scenario.policy, registry ? pluginRefs(registry) : []);
    this.run = new ScenarioRun(scenario, { onRecord: (d) => this.recordLines.push(recordLine(d)), kinds: registry });
  }

  get live(): boolean {
    return true;
  }
  get nextStep(): number {
    return this.run.nextStep;
  }
  get lastSeq(): number {
    return this.recordLines.length;
  }
  protected lines(): readonly string[] {
    return this.recordLines;
  }
  /**
   * The log so far, for seeking. It is a run in progress — it ends after the step just run, not after the
   * scenario's last — so replay takes it as a prefix (`allowIncomplete`), not as a log cut short.
   */
  protected seekable(): SeekableLog {
    this.cached ??= SeekableLog.of(parseLog([this.header, ...this.recordLines].join('\n') + '\n', `${this.scenario.name} (live)`, { kinds: this.registry }), undefined, {
      allowIncomplete: true,
    });
    return this.cached;
  }
  protected kinds(): Kinds | undefined {
    return this.registry;
  }
  protected currentActors(): readonly ActorInfo[] {
    return actorStates(this.run.sys).map(infoOf);
  }

  override get stopped(): string | null {
    return this.failure;
  }

  /**
   * Run the next step. A step that throws (a registered kind's error, a bug) leaves the system in the
   * middle of that step, as `svasim run` stops there: the session is stopped — its records so far stay
   * (the log is a valid prefix), and every later call is a {@link RunStopped}. The failing call throws a
   * {@link StepFailed} carrying the records that step delivered.
   */
  override step(): StepUpdate {
    if (this.failure !== null) throw new RunStopped(`no further step can run: ${this.failure}`);
    if (this.run.done) throw new NoStepLeft(`all ${this.scenario.steps.length} steps have run`);
    const before = this.recordLines.length;
    const index = this.run.nextStep;
    try {
      this.run.step();
    } catch (e) {
      this.failure = `the run stopped at step ${index}: ${oneLine(e)}`;
      this.cached = null;
      this.forget();
      throw new StepFailed(this.failure, index, badInput(e), this.update(before, this.failure), e);
    }
    this.cached = null;
    this.forget();
    return this.update(before);
  }

  private update(before: number, stopped?: string): StepUpdate {
    return {
      recordsJson: this.recordsJson(before + 1),
      // After a failure the actors may not be showable (a kind's own view code failing): the page keeps its list.
      actors: stopped === undefined ? this.currentActors() : tryOr(() => this.currentActors(), []),
      nextStep: this.run.nextStep,
      lastSeq: this.lastSeq,
      ...(stopped === undefined ? {} : { stopped }),
    };
  }
}

/** An error's message as one line. */
function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ').trim();
}

/** Bad input, not a bug: a plugin's kind failing (KindError), a scenario or log mistake. */
function badInput(e: unknown): boolean {
  return e instanceof KindError || e instanceof ScenarioError || e instanceof LogError;
}

function tryOr<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

/** `step()` with every step run already. */
export class NoStepLeft extends Error {}

/**
 * A live step failed and stopped the run: `message` is `the run stopped at step N: why` (one line).
 * `badInput`: the error is a plugin's or the input's (KindError, ScenarioError, LogError: no stack
 * trace is due), else a bug in svasim (its stack is `cause`'s). `update` holds what the step delivered
 * before it failed.
 */
export class StepFailed extends Error {
  override readonly name = 'StepFailed';
  constructor(
    message: string,
    readonly step: number,
    readonly badInput: boolean,
    readonly update: StepUpdate,
    cause: unknown,
  ) {
    super(message, { cause });
  }
}

/** A step asked after a step failed: the run is stopped (the message says at which step and why). */
export class RunStopped extends Error {
  override readonly name = 'RunStopped';
}

/** A state asked for a seq the session cannot show (outside the log, or past a divergence). */
export class NoStateAt extends Error {
  override readonly name = 'NoStateAt';
}
