/**
 * Replay: re-execute a log in its recorded delivery order and check that every actor sends exactly what
 * the log says. Inputs (records without a cause) are fed from the log; every other record must be a
 * message the system itself has pending, sent by the record's `from` as a consequence of its `cause`.
 * Any interleaving replays, not only FIFO: the replay scheduler delivers whatever the log delivered next.
 */
import { recordLine } from '../log/format.ts';
import { incompleteError, incompleteWhy, LogError, readLog, streamLog, type CutLog, type LogEnding, type LogStream, type ParsedLog } from '../log/reader.ts';
import type { RecordFields } from '../log/writer.ts';
import { InvariantMonitor, type MonitorState } from '../runtime/monitor.ts';
import type { Kinds } from '../runtime/kinds.ts';
import { ListScheduler, type Envelope } from '../runtime/scheduler.ts';
import { System, type Delivered, type EngineKind, type SystemSnapshot } from '../runtime/system.ts';
import type { Address, AnyMessage, Message } from '../../machines/protocol.ts';
import { describeStep, stepInput, systemConfig } from '../runner/run.ts';
import { beforeDelivery, checkDelivery, deferBlocked, type Before } from '../runtime/interleaved.ts';

/** A replay's verdict: identical (possibly as an accepted prefix), or the first difference and its causes. */
export type ReplayResult =
  | {
      readonly identical: true;
      readonly records: number;
      /**
       * Accepted as a prefix (`allowIncomplete`): messages still pending at its end, steps with no record,
       * and what is missing in words (reader.ts `incompleteWhy`).
       */
      readonly incomplete?: { readonly pending: number; readonly missingSteps: number; readonly why: string };
    }
  | {
      readonly identical: false;
      readonly records: number;
      /** The seq where the replay first differs. */
      readonly seq: number;
      /** The logged record, or `null` when the log ended but the system had more to deliver. */
      readonly expected: string | null;
      /** What the system delivered or had pending instead (`null`: nothing). */
      readonly actual: string | null;
      /** The logged records from the step's input down to the differing record's cause. */
      readonly causes: readonly string[];
    };

/** Delivers, among the pending messages, the one the log says comes next. */
class ReplayScheduler extends ListScheduler {
  /**
   * Replay delivers what the log delivered; a log whose record overtakes an older message of its channel
   * is damaged, which replay reports itself (`overtaken()`, exit 2) before delivering it.
   */
  readonly keepsChannelOrder = true;
  /** The record to deliver next; set by the replayer before each delivery. */
  want: Delivered | null = null;
  /** `overtaken()` found the wanted message at this index; the delivery right after reuses it. */
  private found = -1;

  /** The pending message that is the wanted record: same cause, sender, type, and receiver. */
  protected pick(items: readonly Envelope[]): number {
    const cached = this.found;
    this.found = -1;
    if (cached >= 0) return cached;
    const w = this.want;
    if (w === null) return -1;
    for (let i = 0; i < items.length; i++) {
      const e = items[i];
      if (e && e.cause === w.cause && e.from === w.from && e.msg.type === w.msg.type && (e.to === w.to || (w.to === 'kernel' && e.from === 'user'))) return i;
    }
    return -1;
  }

  /** The oldest pending message (the FIFO choice). */
  head(): Envelope | undefined {
    return this.items[0];
  }

  /** The pending messages, oldest first (not a copy). */
  list(): readonly Envelope[] {
    return this.items;
  }

  /** Take a pending message out (exploration's deferral, defer.ts). */
  remove(env: Envelope): void {
    this.items.splice(this.items.indexOf(env), 1);
  }

  /** An older pending message on the same (from, to) channel that the wanted record would overtake. */
  overtaken(): Envelope | undefined {
    const i = this.pick(this.items);
    const e = this.items[i];
    if (e === undefined) return undefined;
    for (let j = 0; j < i; j++) {
      const o = this.items[j];
      if (o && o.from === e.from && o.to === e.to) return o;
    }
    this.found = i;
    return undefined;
  }
}

/** The chain of logged causes of record `seq` (oldest first). */
function causeChain(log: ParsedLog, seq: number | undefined): string[] {
  const chain: string[] = [];
  let s = seq;
  while (s !== undefined) {
    const r = log.records[s - 1];
    const line = log.lines[s - 1];
    if (!r || line === undefined) break;
    chain.unshift(line);
    s = r.cause;
  }
  return chain;
}

/** How {@link replay} runs: stop early (`until`), resume from a checkpoint, take checkpoints, engine. */
export interface ReplayOptions {
  /** Stop after this seq; `onStop` sees the system there (time travel). */
  readonly until?: number;
  readonly onStop?: (sys: System) => void;
  /** Resume from a checkpoint instead of the log's start. */
  readonly from?: Checkpoint;
  /**
   * Called at every step boundary (quiescent, monitors done) with the number of records delivered so
   * far and a function that captures a checkpoint there.
   */
  readonly onBoundary?: (seq: number, take: (full: boolean) => Checkpoint) => void;
  /** The log may end mid-step (cut short): messages still pending at its end are not a divergence. */
  readonly allowIncomplete?: boolean;
  /** How actors are stepped (default `compiled`). */
  readonly engine?: EngineKind;
}

/**
 * Everything needed to resume a replay at a step boundary: actor snapshots, monitor memory, step. A
 * checkpoint that is not `full` holds only the actors that changed since the previous checkpoint.
 */
export interface Checkpoint {
  readonly full: boolean;
  readonly seq: number;
  readonly step: number;
  readonly checkedStep: number;
  readonly system: SystemSnapshot;
  readonly monitor: MonitorState;
}

/** What the replayer reads: the log's head, its records in order (from where it starts), the causes. */
interface ReplaySource {
  readonly scenario: ParsedLog['scenario'];
  /**
   * Written by `svasim explore` (header `scheduler.name` "explore"): steps ran as concurrent programs
   * (their inputs in any order), invariants were checked after every delivery (src/explore/check.ts),
   * and the log stops where the counterexample does (messages may still be pending, steps not run).
   */
  readonly explored: boolean;
  readonly kinds: Kinds;
  readonly source: string;
  /**
   * The next record (`null`: no more). `guess` is the pending message the model would deliver next in
   * FIFO order; a source may return it as the record when the log's line is exactly that message.
   */
  next(guess: Envelope | undefined): Delivered | RecordFields | null;
  /** The line of the record `next` returned last. */
  line(): string;
  /** Records in the log: known up front for a parsed log, at the end for a stream. */
  total(): number;
  truncated(): number;
  /** How the log ends (asked once every record has been read). */
  ending(): LogEnding;
  /** The logged causes of a record (only asked on a divergence). */
  causes(seq: number | undefined): string[];
}

/** Re-execute `log` and compare every delivered message with the record at its seq. */
export function replay(log: ParsedLog, opts: ReplayOptions = {}): ReplayResult {
  let i = opts.from?.seq ?? 0;
  const end = Math.min(log.records.length, opts.until ?? log.records.length);
  return replayFrom(
    {
      scenario: log.scenario,
      explored: log.header.scheduler?.name === 'explore',
      kinds: log.kinds,
      source: log.source,
      next: () => (i < end ? (log.records[i++] ?? null) : null),
      line: () => log.lines[i - 1] ?? '',
      total: () => log.records.length,
      truncated: () => log.truncated,
      ending: () => log.ending,
      causes: (seq) => causeChain(log, seq),
    },
    opts,
  );
}

/**
 * Replay a log file as a stream: records are read, checked and re-executed one at a time and not kept,
 * so memory stays the size of the system, not of the log (the log is read again only to show the causes
 * of a divergence). Checkpoints (`from`) and `until` are for parsed logs (`replay`).
 *
 * A line that is byte for byte the record the model would deliver next is taken as that record without
 * being parsed: the model's own records are well-formed, so only lines that differ from them (inputs,
 * other interleavings, other formatting, damage) go through the parser and its checks.
 */
export function replayFile(
  path: string,
  opts: { allowIncomplete?: boolean; allowTruncated?: boolean; engine?: EngineKind; kinds?: Kinds; onHead?: (log: LogStream['log']) => void } = {},
): ReplayResult & { truncated: number } {
  const stream = streamLog(path, { allowTruncated: opts.allowTruncated === true, kinds: opts.kinds });
  let count = 0;
  try {
    opts.onHead?.(stream.log);
    const r = replayFrom(
      {
        scenario: stream.log.scenario,
        explored: stream.log.header.scheduler?.name === 'explore',
        kinds: stream.log.kinds,
        source: path,
        next: (guess) => {
          const got = stream.next(guess);
          if (got !== null) count++;
          return got;
        },
        line: () => stream.line(),
        total: () => count,
        truncated: () => stream.truncated,
        ending: () => stream.ending(),
        causes: (seq) => causeChain(readLog(path, { allowTruncated: opts.allowTruncated === true, kinds: opts.kinds }), seq),
      },
      { allowIncomplete: opts.allowIncomplete === true || opts.allowTruncated === true, ...(opts.engine === undefined ? {} : { engine: opts.engine }) },
    );
    return { ...r, truncated: stream.truncated };
  } finally {
    // A divergence (or damage) stops the replay before the end of the file.
    stream.close();
  }
}

function replayFrom(log: ReplaySource, opts: ReplayOptions): ReplayResult {
  const sched = new ReplayScheduler();
  const from = opts.from;
  const sys = new System(systemConfig(log.scenario), sched, from?.system, { engine: opts.engine, kinds: log.kinds });
  const monitor = new InvariantMonitor(from?.monitor);
  let stepMsgs: Delivered[] = [];
  let checkedStep = from?.checkedStep ?? -1;
  let currentStep = from?.step ?? -1;
  sys.listen((d) => stepMsgs.push(d));

  /** As `run` does: when a step has run, the monitors look at it and may post violations. */
  const endStep = (): void => {
    if (currentStep < 0 || checkedStep === currentStep) return;
    checkedStep = currentStep;
    for (const v of monitor.check(sys, stepMsgs, sys.takeChanged())) {
      sys.post({ type: 'invariant.violation', invariant: v.invariant, detail: v.detail }, 'monitor', 'user', v.at, currentStep);
    }
  };
  const diverged = (seq: number, expected: string | null, actual: string | null, cause: number | undefined): ReplayResult => {
    return { identical: false, records: log.total(), seq, expected, actual, causes: log.causes(cause) };
  };

  /** The input message of step `step`, as the scenario puts it on the bus (`undefined`: no such step). */
  const nextInput = (step: number): Envelope | undefined => {
    const s = log.scenario.steps[step];
    if (s === undefined) return undefined;
    const { msg, to } = stepInput(s);
    return { msg, from: 'user', to, cause: undefined, step, seq: 0 };
  };
  /**
   * Every step puts exactly one input on the bus (a record with no cause), in step order: the last step
   * whose input the log delivered. A log whose records disagree with its header's steps is damaged —
   * its header can be edited without touching a record, and then every tool that reads the header
   * (labels, what-if) would describe steps that were never run.
   */
  let lastInput = from?.step ?? -1;
  /** An explored log's inputs: any order, each step's once. */
  const inputSeen = new Set<number>();
  const checkInput = (want: Delivered): void => {
    const steps = log.scenario.steps;
    const where = `${log.source}:${want.seq + 1}: damaged log: record seq ${want.seq} is the input of step ${want.step}`;
    const expected = lastInput + 1;
    if (want.step >= steps.length) {
      throw new LogError(`${where}, but the header's scenario has ${steps.length === 1 ? 'only step 0' : `steps 0..${steps.length - 1}`}`);
    }
    if (log.explored) {
      if (inputSeen.has(want.step)) throw new LogError(`${where}, which already had its input (each step has one)`);
      inputSeen.add(want.step);
    } else if (want.step !== expected) {
      const missing = steps[expected];
      if (want.step > expected && missing !== undefined) {
        throw new LogError(`${where}, but step ${expected} (${describeStep(missing)}) has no input before it`);
      }
      throw new LogError(`${where}, which already had its input (each step has one, in step order; the last input was of step ${lastInput})`);
    }
    const step = steps[want.step];
    if (step === undefined) throw new Error(`unreachable: step ${want.step} checked against ${steps.length} steps`);
    const input = stepInput(step);
    // A syscall of a thread that does not exist (yet, or any more) goes to the kernel, which answers
    // ESRCH (System.deliver): whether the thread exists then is the replay's to check, not the header's.
    const routed = want.to === input.to || (want.to === 'kernel' && input.to.startsWith('thread:'));
    if (want.from !== 'user' || !routed || want.msg.type !== input.msg.type || !samePayload(want.msg, input.msg)) {
      throw new LogError(`${where}, which the header says is ${describeStep(step)} but the record is ${describeInput(want, input.to)}`);
    }
    if (want.step > lastInput) lastInput = want.step;
  };
  /** An explored log: the invariants after every delivery, as exploration checked them. */
  const checkExplored = (got: Delivered, before: Before): void => {
    const changed = sys.takeChanged();
    if (got.from !== 'monitor') deferBlocked(sys, () => sched.list(), (e) => sched.remove(e));
    for (const v of checkDelivery(sys, got, changed, before, sched.size === 0)) {
      sys.post({ type: 'invariant.violation', invariant: v.invariant, detail: v.detail }, 'monitor', 'user', v.at, got.step);
    }
  };
  /** The logged record could not be delivered: show what is pending instead. */
  const undelivered = (want: Delivered): ReplayResult => {
    const pending = sched.pending();
    const near = pending.find((e) => e.cause === want.cause) ?? pending[0];
    return diverged(want.seq, log.line(), near ? `${PENDING_INSTEAD}${describe(near)}` : NOTHING_PENDING, want.cause);
  };

  try {
    let i = from?.seq ?? 0;
    let stoppedEarly = false;
    let lastStep = from?.step ?? -1;
    for (;;) {
      // The model's FIFO choice, offered to the source (not for inputs, which the log supplies, nor for
      // monitor reports, which come at step ends).
      const head = sched.head();
      const guess = head !== undefined && head.cause !== undefined && head.from !== 'monitor' ? head : undefined;
      // At quiescence the log goes on with the next step's input (or a monitor report).
      const inputGuess = head === undefined ? nextInput(currentStep + 1) : undefined;
      const next = log.next(guess ?? inputGuess);
      if (next === null) break;
      if (opts.until !== undefined && i >= opts.until) {
        stoppedEarly = true;
        break;
      }
      if (next === guess) {
        // The line is exactly the record of `guess` delivered at seq i + 1.
        sched.want = guess;
        const before = log.explored ? beforeDelivery(sys, guess.to) : null;
        const got = sys.step();
        if (got === guess && got.seq === i + 1) {
          if (before !== null) checkExplored(got, before);
          i++;
          continue;
        }
        const want: Delivered = { msg: guess.msg, from: guess.from, to: guess.to, cause: guess.cause, step: guess.step, seq: i + 1 };
        if (got === undefined) return undelivered(want);
        if (!sameRecord(got, want)) return diverged(want.seq, log.line(), recordLine(got), want.cause);
        if (before !== null) checkExplored(got, before);
        i++;
        continue;
      }
      // An input: exactly the scenario's next step (its line not parsed), or as parsed from the log.
      const want: Delivered = next === inputGuess && inputGuess !== undefined ? { ...inputGuess, seq: i + 1 } : (next as Delivered);
      if (want.step > lastStep) lastStep = want.step;
      // Checked for every input, the ones taken unparsed as the scenario's next input included: a line
      // taken unparsed is byte for byte the input the header's step builds (`inputGuess` is built from
      // it), so only its place in the step order is left to check.
      if (want.cause === undefined) {
        if (next === inputGuess && want.step === lastInput + 1 && !log.explored) lastInput = want.step;
        else checkInput(want);
      }
      const isInput = want.cause === undefined && want.from === 'user';
      // A new step's input at quiescence: the previous step is over (as in `run`). In an interleaved log
      // (exploration) steps overlap and the per-step monitor pass does not apply.
      if (isInput && want.step !== currentStep && sched.size === 0 && !log.explored) {
        endStep();
        if (sched.size === 0) {
          if (opts.onBoundary) {
            const step = currentStep;
            const at = i;
            opts.onBoundary(i, (full) => ({ full, seq: at, step, checkedStep, system: sys.snapshot({ onlyDirty: !full }), monitor: monitor.state() }));
          }
          currentStep = want.step;
          stepMsgs = [];
        }
      }
      if (want.from === 'monitor' && !log.explored) endStep();
      if (isInput) sys.input(want.msg, want.to, want.step);
      // A message injected from outside (System.inject): from `user`, with the cause it answered.
      else if (want.from === 'user' && want.cause !== undefined) sys.post(want.msg, 'user', want.to, want.cause, want.step);
      sched.want = want;
      const older = sched.overtaken();
      if (older) {
        throw new LogError(
          `${log.source}:${want.seq + 1}: damaged log: seq ${want.seq} (${want.msg.type}) overtakes ${older.msg.type} on the channel ${older.from} → ${older.to}; messages between two actors are delivered in the order they were sent`,
        );
      }
      const before = log.explored ? beforeDelivery(sys, want.to) : null;
      const got = sys.step();
      if (got === undefined) return undelivered(want);
      if (before !== null && sameRecord(got, want)) checkExplored(got, before);
      // Equal as data (so a log re-serialized with other key order, spacing or line ends is no model
      // difference); the line is only built to show a difference.
      if (!sameRecord(got, want)) return diverged(want.seq, log.line(), recordLine(got), want.cause);
      i++;
    }
    if (opts.until !== undefined && (stoppedEarly || opts.until < log.total())) {
      opts.onStop?.(sys);
      return { identical: true, records: Math.min(opts.until, log.total()) };
    }
    if (log.explored) {
      // A counterexample stops at its finding: what was still pending, and the steps not run, are no
      // difference; a log cut short is still one.
      const ending = log.ending();
      if (ending.kind === 'cut' && opts.allowIncomplete !== true) {
        throw incompleteError(log.source, { ending, records: log.total(), lastStep, steps: log.scenario.steps.length, pending: sched.size });
      }
      opts.onStop?.(sys);
      return { identical: true, records: log.total() };
    }
    endStep();
    opts.onStop?.(sys);
    // Every scenario step puts at least its input on the bus, so a log without a record of some steps
    // ended early (a crash between steps), even when no message was pending.
    const missingSteps = Math.max(0, log.scenario.steps.length - 1 - lastStep);
    const pending = sched.size;
    const ending = log.ending();
    const cut: CutLog = { ending, records: log.total(), lastStep, steps: log.scenario.steps.length, pending };
    const prefix = (): ReplayResult => ({ identical: true, records: log.total(), incomplete: { pending, missingSteps, why: incompleteWhy(cut) } });
    // A log cut short (no closing record, a last line cut) is incomplete, never a divergence: what the
    // model still had pending is what the stopped run did not get to write. A format-1 log has no
    // closing record: records that stop before the scenario's last step, or inside a step (messages
    // still pending), are a log cut short too — an N-record file never "diverges at seq N+1".
    if (ending.kind === 'cut' || (ending.kind === 'unmarked' && (pending > 0 || missingSteps > 0))) {
      if (opts.allowIncomplete !== true) throw incompleteError(log.source, cut);
      return prefix();
    }
    if (pending > 0) {
      // A closed log is complete: a model with more to deliver differs from it — unless what is left
      // would be deferred (the live run left it deferred, never taken and so never logged).
      const extra = sched.pending().find((e) => sys.wouldTake(e));
      if (extra) return diverged(log.total() + 1, null, describe(extra), extra.cause);
      if (sched.pending().length === pending) return { identical: true, records: log.total() };
      return prefix();
    }
    if (missingSteps > 0) {
      // Its closing record says the run ended before the scenario did.
      if (opts.allowIncomplete !== true) throw incompleteError(log.source, cut);
      return prefix();
    }
  } finally {
    sys.stop();
  }
  return { identical: true, records: log.total() };
}

/** Two records with the same envelope and the same payload (as data, in any key order). */
function sameRecord(a: Delivered, b: Delivered): boolean {
  if (a.seq !== b.seq || a.from !== b.from || a.to !== b.to || a.cause !== b.cause || a.step !== b.step || a.copy !== b.copy || a.msg.type !== b.msg.type) return false;
  return samePayload(a.msg, b.msg);
}

/** The same payload: every field but the type and the routing `to`, undefined ones absent, as data. */
function samePayload(a: AnyMessage, b: AnyMessage): boolean {
  const ma = a as unknown as Record<string, unknown>;
  const mb = b as unknown as Record<string, unknown>;
  let na = 0;
  for (const k in ma) {
    if (k === 'type' || k === 'to' || ma[k] === undefined) continue;
    na++;
    if (!sameData(ma[k], mb[k])) return false;
  }
  let nb = 0;
  for (const k in mb) if (k !== 'type' && k !== 'to' && mb[k] !== undefined) nb++;
  return na === nb;
}

function sameData(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Array.isArray(x) !== Array.isArray(y)) return false;
  const kx = Object.keys(x).filter((k) => (x as Record<string, unknown>)[k] !== undefined);
  const ky = Object.keys(y).filter((k) => (y as Record<string, unknown>)[k] !== undefined);
  if (kx.length !== ky.length) return false;
  return kx.every((k) => sameData((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]));
}

/**
 * A logged input as the damage report shows it: its type and payload values (`insn.enqcmd T2 dsa0`),
 * field names where a value alone would be ambiguous, and its route when it is not the step's.
 */
function describeInput(d: Delivered, stepTo: Address): string {
  const m = d.msg as unknown as Record<string, unknown>;
  const fields = Object.keys(m)
    .filter((k) => k !== 'type' && k !== 'to' && m[k] !== undefined)
    .map((k) => {
      const v = m[k];
      const text = k === 'code' && typeof v === 'number' ? `0x${v.toString(16)}` : typeof v === 'string' && /^[\w.:-]+$/.test(v) ? v : JSON.stringify(v);
      return k === 'thread' || k === 'device' || k === 'process' ? text : `${k}=${text}`;
    });
  const route = d.from !== 'user' || d.to !== stepTo ? ` (${d.from} → ${d.to})` : '';
  return `${[d.msg.type, ...fields].join(' ')}${route}`;
}

/** How `actual` says the logged record could not be delivered: what was pending, or nothing. */
const PENDING_INSTEAD = '(pending instead) ';
const NOTHING_PENDING = '(nothing pending)';

/** A divergence as data (`replay --json`): the records as objects, not as the lines that show them. */
export interface DivergenceData {
  readonly identical: false;
  readonly records: number;
  readonly seq: number;
  /** The logged record at `seq`, or `null` when the log ended there. */
  readonly expected: Record<string, unknown> | null;
  /** What the model did instead: delivered this record, had it pending (without a seq), or had nothing. */
  readonly actual: Record<string, unknown> | null;
  readonly actualIs: 'delivered' | 'pending' | 'nothing';
  /** The logged records from the step's input down to the differing record's cause. */
  readonly causes: readonly Record<string, unknown>[];
}

export function divergenceData(r: Extract<ReplayResult, { identical: false }>): DivergenceData {
  const record = (line: string): Record<string, unknown> => JSON.parse(line) as Record<string, unknown>;
  let actual: Record<string, unknown> | null = null;
  let actualIs: DivergenceData['actualIs'] = 'nothing';
  if (r.actual !== null && r.actual !== NOTHING_PENDING) {
    const pending = r.actual.startsWith(PENDING_INSTEAD);
    actual = record(pending ? r.actual.slice(PENDING_INSTEAD.length) : r.actual);
    // At the end of a log, what the model still had to deliver has no seq: it is pending too.
    actualIs = pending || !('seq' in actual) ? 'pending' : 'delivered';
  }
  return {
    identical: false, records: r.records, seq: r.seq, expected: r.expected === null ? null : record(r.expected), actual, actualIs, causes: r.causes.map(record),
  };
}

function describe(e: Envelope): string {
  return recordLine({ ...e, seq: 0 }).replace('"seq":0,', '');
}
