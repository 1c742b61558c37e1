/**
 * The actor system: one xstate actor per thread, mm, work queue, plus the IOMMU and the kernel's process
 * table. Actors talk only by messages: every message an actor emits becomes pending in the scheduler,
 * and every delivery is published on `delivered$` (the log writer, the trace, the monitors and any
 * foreign actor subscribe there).
 *
 * Delivery rules:
 * - `seq` is given at delivery, contiguous from 1; `cause` is the seq of the message being handled when
 *   a message was sent.
 * - `mm.create` / `thread.start` to an address with no actor creates it (the actor's birth).
 * - A syscall input naming a thread with no actor goes to `kernel` (which answers ESRCH).
 * - Messages to `user` or `monitor` are recorded and not handled by any actor.
 * - A message an actor's current state cannot take is deferred (selective receive) and offered again
 *   after that actor next changes; it gets its seq only when it is finally taken.
 */
import { Subject } from 'rxjs';
import type { AnyStateMachine } from 'xstate';
import type { IommuContext } from '../../machines/iommu.ts';
import { MACHINES, type ActorKind } from '../../machines/index.ts';
import type { KernelContext } from '../../machines/kernel.ts';
import type { MmContext } from '../../machines/mm.ts';
import {
  type Address,
  type AnyMessage,
  isBuiltinMessage,
  type CpuFeatures,
  type Message,
  type Outgoing,
  type Policy,
  LAM_OFF,
  mmAddr,
  threadAddr,
  wqAddr,
} from '../../machines/protocol.ts';
import type { ThreadContext } from '../../machines/thread.ts';
import type { WqContext } from '../../machines/wq.ts';
import { DEFER, fromMachine, type Behavior, type EngineKind, type Sent } from './actor.ts';
import { Cell, sameValue, stateName, View, type ActorView } from './cell.ts';
import { DeferredMessages } from './deferred.ts';
import { BUILTIN_KINDS_REGISTRY, KindError, type Kinds } from './kinds.ts';
import { messageIssue } from './message-schema.ts';
import { publishSync } from './publish.ts';
import { ChannelOrder, ChoiceScheduler, FifoScheduler, type Delivered, type Envelope, type Scheduler } from './scheduler.ts';

/**
 * How actors are stepped: `compiled` (the default) runs each machine definition through svasim's
 * compiled executor (src/runtime/compiled.ts; a machine it cannot run falls back to xstate), `xstate`
 * through xstate's own `machine.transition`. Both give the same messages and states (tested).
 */
export type { EngineKind } from './actor.ts';

/** How a {@link System} runs: the engine of svasim's machines, and the registered kinds. */
export interface SystemOptions {
  readonly engine?: EngineKind | undefined;
  /** The actor kinds beyond svasim's own (src/runtime/kinds.ts); the config's devices and actors name them. */
  readonly kinds?: Kinds | undefined;
  /**
   * Replace some of svasim's own machines, e.g. a variant made with `machine.provide({ guards })` — for
   * tests of the model's invariants (a variant that skips a kernel step must make its invariant fire) and
   * experiments with the model itself. Logs of such a system are not logs of svasim's model.
   */
  readonly machines?: Partial<Readonly<Record<ActorKind, AnyStateMachine>>> | undefined;
  /**
   * Wrap every behavior (svasim's and registered kinds') before use: exploration memoizes steps this way
   * (src/explore/memo.ts). The wrapper must step exactly as the behavior does.
   */
  readonly wrapBehavior?: ((b: Behavior) => Behavior) | undefined;
}

/** One device's shared work queue: svasim's model or a registered device model (`kind`). */
export interface DeviceSpec {
  readonly name: string;
  readonly wqSize: number;
  readonly threshold: number;
  readonly autoComplete: boolean;
  /** A registered device model (default: svasim's work queue, `wq`). */
  readonly kind?: string | undefined;
  /** idxd's `user_submission_safe` (default true): false makes mmap need CAP_SYS_RAWIO. */
  readonly userSubmissionSafe?: boolean | undefined;
  /** The device model's own settings, passed to it as `input.options`. */
  readonly options?: Readonly<Record<string, unknown>> | undefined;
}

/** An actor of a registered kind that exists from the start, at `<prefix>:<name>`. */
export interface ActorSpec {
  readonly name: string;
  readonly kind: string;
  /** Passed to it as `input.options`. */
  readonly options?: Readonly<Record<string, unknown>> | undefined;
}

/** What a system is built from (`systemConfig(scenario)` gives it for a scenario). */
export interface SystemConfig {
  readonly policy: Policy;
  readonly cpu: CpuFeatures;
  readonly pasidRange: readonly [number, number];
  readonly devices: readonly DeviceSpec[];
  readonly actors?: readonly ActorSpec[] | undefined;
}

export type { Delivered } from './scheduler.ts';

/**
 * The actors of a {@link System} by reference (exploration's capture of a state; src/explore/). Opaque:
 * the cells are the system's own.
 * @internal
 */
export interface ModelCapture {
  readonly cells: readonly unknown[];
  /**
   * Each cell's state, in the same order (the first `cells.length` entries), then what the capture was
   * asked to keep beside them ({@link System.captureModelWith}'s `extra`: one array a capture, not two).
   */
  readonly states: readonly unknown[];
  readonly seq: number;
  readonly lastStep: number;
  readonly processMms: ReadonlyMap<string, number>;
  /** Deferred messages per receiver (`null`: none). */
  readonly deferred: readonly (readonly [Address, readonly Envelope[]])[] | null;
}
export type { ActorView } from './cell.ts';

export type { ActorKind } from '../../machines/index.ts';

const NO_EXTRA: readonly unknown[] = [];
const plainCapture = (cells: readonly unknown[], states: readonly unknown[], seq: number, lastStep: number, processMms: ReadonlyMap<string, number>, deferred: ModelCapture['deferred']): ModelCapture => ({ cells, states, seq, lastStep, processMms, deferred });

/** The persisted state of every actor plus what is pending: enough to continue a run elsewhere. */
export interface SystemSnapshot {
  readonly seq: number;
  /** `kind`: one of svasim's ({@link ActorKind}) or a registered kind's name. */
  readonly actors: readonly { readonly address: Address; readonly kind: string; readonly snapshot: unknown }[];
  readonly pending: readonly Envelope[];
  readonly deferred: readonly Envelope[];
}

/**
 * A subscriber to `delivered$` threw: the delivery that reached it (its seq and type) fails, as a
 * programming error in the step that caused it (the run stops there; its log stays a valid prefix).
 * `cause` is what the subscriber threw.
 */
/** svasim's inputs: what a program does, which any registered actor may send (to a thread, the kernel, a queue). */
const PROGRAM_TYPES: ReadonlySet<string> = new Set([
  'sys.spawn', 'sys.clone', 'sys.fork', 'sys.exec', 'sys.exit', 'sys.bind', 'sys.unbind', 'sys.close', 'sys.open', 'sys.mmap', 'sys.munmap', 'sys.arch_prctl', 'insn.enqcmd', 'wq.execute',
]);
/** What svasim's work queue sends: a device model may send these too (it stands in for the queue). */
const DEVICE_TYPES: ReadonlySet<string> = new Set(['wq.accept', 'wq.retry', 'wq.complete', 'wq.drained', 'iommu.translate']);

/** The log record's own fields: a message's payload may not use them (its line would repeat a key). */
const ENVELOPE_FIELDS = ['seq', 'from', 'to', 'cause', 'step', 'copy'] as const;
function envelopeField(msg: object): string | undefined {
  for (const k of ENVELOPE_FIELDS) if (Object.hasOwn(msg, k)) return k;
  return undefined;
}

/** Why a value is not JSON data (`null`: it is): a BigInt, a function, a cycle, a non-finite number… */
function notJson(v: unknown, path: unknown[] = []): string | null {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(v) ? null : `a non-finite number ${String(v)}`;
    case 'undefined':
      return null; // dropped by JSON.stringify in objects, as the persisted form does
    case 'object': {
      if (v === null) return null;
      if (path.includes(v)) return 'a cycle';
      path.push(v);
      try {
        if (Array.isArray(v)) {
          for (const x of v) {
            const bad = notJson(x, path);
            if (bad !== null) return bad;
          }
          return null;
        }
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) return `an object of class ${(v as { constructor?: { name?: string } }).constructor?.name ?? '?'}`;
        for (const x of Object.values(v)) {
          const bad = notJson(x, path);
          if (bad !== null) return bad;
        }
        return null;
      } finally {
        path.pop();
      }
    }
    default:
      return `a ${typeof v}`;
  }
}

/** A value in a message about it: its JSON, cut short. */
function shortJson(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export class SubscriberError extends Error {
  constructor(
    readonly delivered: Delivered,
    cause: unknown,
  ) {
    super(`a subscriber to delivered$ threw on seq ${delivered.seq} (${delivered.msg.type} ${delivered.from} -> ${delivered.to}): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'SubscriberError';
  }
}

/**
 * The bus and its actors (see the module comment for the delivery rules). Build one from a config and a
 * scheduler (or a snapshot to continue from), put inputs on it, and step it; watch `delivered$`.
 */
export class System {
  /**
   * Every delivered message, in delivery order, synchronously as it is delivered (the log writer, the
   * trace and the monitors listen here). Filter it with `ofType`, `toAddress`, `fromAddress`
   * (src/runtime/streams.ts). A subscriber that throws makes the delivery throw {@link SubscriberError}
   * (every subscriber still gets the message first): the error surfaces in the step that caused it, not
   * later as an uncaught exception. That holds for operators of the same rxjs copy as svasim's.
   */
  readonly delivered$ = new Subject<Delivered>();
  /** Plain callbacks called before `delivered$` (see {@link listen}). */
  private readonly listeners: ((d: Delivered) => void)[] = [];

  /**
   * Call `fn` with every delivered message, synchronously, before `delivered$` has it — without rxjs
   * (the runner, replay and the log writer listen this way: a run with no `delivered$` subscriber costs
   * no rxjs machinery). What `fn` throws propagates from the delivery as it is. Returns a function that
   * stops the calls.
   */
  listen(fn: (d: Delivered) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
  private readonly cells = new Map<Address, Cell>();
  private readonly deferred = new DeferredMessages();
  private changed = new Set<Address>();
  /** The set {@link takeChanged} gave out last time (the next one it fills). */
  private changedSpare = new Set<Address>();
  /** Each process's current mm (the last `mm.create` for it), in order of first appearance. */
  private processMms = new Map<string, number>();
  /** `processMms` is held by a {@link ModelCapture}: copy it before changing it. */
  private processMmsShared = false;
  /** The actors in creation order (the cells' values; shared with captures until the next birth). */
  private cellList: Cell[] = [];
  private cellListShared = false;
  /**
   * Actors whose state changed since the last `snapshot()` (incremental checkpoints). `null` until the
   * first snapshot: a run that never takes one (most runs) does not track them, and a delta asked for
   * before any snapshot holds every actor.
   */
  private dirty: Set<Address> | null = null;
  private seq = 0;
  /** The step of the last delivered message (what an injected message belongs to). */
  private lastStepSeen = 0;
  /** Devices that are not user-submission safe (scenario `userSubmissionSafe: false`): their mmap needs CAP_SYS_RAWIO. */
  private readonly unsafeDevices: readonly string[];
  /** `SystemOptions.wrapBehavior`, or none. */
  private readonly wrap: (b: Behavior) => Behavior;
  /** Each built-in kind's behavior (src/runtime/actor.ts): the machines under the chosen engine. */
  private readonly behaviors: Readonly<Record<ActorKind, Behavior>>;
  /** svasim's kinds and the registered ones. */
  readonly kinds: Kinds;
  /** Actors of kinds that observe some message type, per type (filled as such actors are created). */
  private readonly observers = new Map<string, Address[]>();
  /** The built-in invariant monitor is told nothing of these; kinds' monitors run in `checkKinds`. */
  private readonly foreign = new Set<Address>();
  /** What the actor being stepped sends (reused from step to step). */
  private readonly out: Sent[] = [];
  readonly scheduler: Scheduler;
  /** Per-channel FIFO checked for a scheduler that does not keep it by construction (`null`: trusted). */
  private readonly order: ChannelOrder | null;

  readonly engineKind: EngineKind;

  constructor(
    readonly config: SystemConfig,
    scheduler: Scheduler = new FifoScheduler(),
    snapshot?: SystemSnapshot,
    options: SystemOptions = {},
  ) {
    this.scheduler = scheduler;
    this.order = scheduler.keepsChannelOrder === true ? null : new ChannelOrder();
    if (scheduler instanceof ChoiceScheduler) scheduler.bindBirths((e) => this.isBirth(e));
    this.engineKind = options.engine ?? 'compiled';
    this.kinds = options.kinds ?? BUILTIN_KINDS_REGISTRY;
    const engine = this.engineKind;
    this.unsafeDevices = config.devices.filter((d) => d.userSubmissionSafe === false).map((d) => d.name);
    const m = options.machines ?? {};
    const wrap = options.wrapBehavior ?? ((b: Behavior): Behavior => b);
    this.wrap = wrap;
    this.behaviors = {
      thread: wrap(fromMachine(m.thread ?? MACHINES.thread, { engine })),
      mm: wrap(fromMachine(m.mm ?? MACHINES.mm, { engine })),
      iommu: wrap(fromMachine(m.iommu ?? MACHINES.iommu, { engine })),
      wq: wrap(fromMachine(m.wq ?? MACHINES.wq, { engine })),
      kernel: wrap(fromMachine(m.kernel ?? MACHINES.kernel, { engine })),
      file: wrap(fromMachine(m.file ?? MACHINES.file, { engine })),
    };
    if (snapshot) {
      this.seq = snapshot.seq;
      // Actors come back lazily: an xstate actor is only created for one that receives a message, so
      // restoring a checkpoint of thousands of actors costs only the few that the seek touches.
      for (const a of snapshot.actors) {
        this.addCell(a.address, new Cell(a.kind, this.behaviorOf(a.kind, a.address), a.address, a.snapshot, true));
        this.noteKind(a.address, a.kind);
        if (a.kind === 'mm') {
          const c = (a.snapshot as { context: { id: number; process: string } }).context;
          this.processMms.set(c.process, c.id);
        }
      }
      const pending = snapshot.pending.map((e) => ({ ...e }));
      scheduler.reset(pending);
      this.order?.reset(pending);
      for (const env of snapshot.deferred) this.defer({ ...env });
    } else {
      this.addCell('kernel', this.makeCell('kernel', 'kernel', undefined));
      this.addCell(
        'iommu',
        this.makeCell('iommu', 'iommu', {
          policy: config.policy.pasid,
          pasidRange: config.pasidRange,
          devices: config.devices.map((d) => d.name),
        }),
      );
      for (const d of config.devices) {
        const input = { device: d.name, wqSize: d.wqSize, threshold: d.threshold, autoComplete: d.autoComplete };
        const kind = d.kind ?? 'wq';
        if (kind === 'wq') this.addCell(wqAddr(d.name), this.makeCell('wq', wqAddr(d.name), input));
        else this.spawn(kind, wqAddr(d.name), { ...input, options: d.options ?? {} }, true);
      }
      for (const a of config.actors ?? []) {
        const kind = this.kinds.get(a.kind);
        if (kind?.prefix === undefined || kind.builtin) throw new KindError(`actor "${a.name}": kind "${a.kind}" is not a registered actor kind`);
        this.spawn(a.kind, `${kind.prefix}:${a.name}`, { name: a.name, options: a.options ?? {} }, false);
      }
    }
  }

  /** The seq of the last delivered message. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Messages deferred because their target could not take them yet. */
  get deferredSize(): number {
    return this.deferred.size;
  }

  /** The messages still deferred (their targets never took them), per target in arrival order. */
  deferredMessages(): readonly Envelope[] {
    return this.deferred.all();
  }

  /** Put an input (a scenario step) on the bus. */
  input(msg: AnyMessage, to: Address, step: number, from: Address = 'user'): void {
    const reserved = envelopeField(msg);
    if (reserved !== undefined) throw new Error(`input ${msg.type} to ${to}: a field named "${reserved}" is one of the log record's own (seq, from, to, cause, step, copy)`);
    const issue = isBuiltinMessage(msg) ? messageIssue(msg) : this.kinds.check(msg);
    if (issue !== null && issue !== undefined) throw new Error(`input ${msg.type} to ${to}: ${issue}`);
    this.enqueue({ msg, from, to, cause: undefined, step, seq: 0 });
  }

  /** Send a message from outside the modelled actors (a monitor, a foreign actor) with an explicit cause. */
  post(msg: AnyMessage, from: Address, to: Address, cause: number | undefined, step: number): void {
    this.enqueue({ msg, from, to, cause, step, seq: 0 });
  }

  /**
   * Inject a message from outside the system (your code, not an actor of a registered kind) as a
   * reaction to delivered message `cause`: it is pending at once, sent by `user`, with that cause and
   * its step, and checked against its type's schema (svasim's or a registered kind's). The log records it
   * as an input with a cause; replay feeds it back as such. What-if re-runs only the scenario and the
   * actors, so it cannot re-create such a message: make the injector an actor of a registered kind
   * (src/runtime/kinds.ts) when a what-if must include it.
   * @throws Error when the message fails its schema or `cause` is not a delivered seq.
   */
  inject(msg: AnyMessage, to: Address, cause: number): void {
    if (!Number.isSafeInteger(cause) || cause < 1 || cause > this.seq) throw new Error(`inject ${msg.type}: cause ${cause} is not a delivered seq (1..${this.seq})`);
    const reserved = envelopeField(msg);
    if (reserved !== undefined) throw new Error(`inject ${msg.type} to ${to}: a field named "${reserved}" is one of the log record's own (seq, from, to, cause, step, copy)`);
    const issue = isBuiltinMessage(msg) ? messageIssue(msg) : this.kinds.check(msg);
    if (issue !== null && issue !== undefined) throw new Error(`inject ${msg.type} to ${to}: ${issue}`);
    this.enqueue({ msg, from: 'user', to, cause, step: this.lastStepSeen, seq: 0 });
  }

  /** Make a message pending (and note its place in its channel when the scheduler is checked). */
  private enqueue(env: Envelope): void {
    this.scheduler.enqueue(env);
    this.order?.add(env);
  }

  /** Deliver the message the scheduler picks; `undefined` when nothing is pending. */
  step(): Delivered | undefined {
    for (;;) {
      const env = this.scheduler.next();
      if (env === undefined) return undefined;
      this.order?.take(env);
      const done = this.deliver(env);
      if (done) return done;
    }
  }

  /** Deliver until nothing is pending; returns how many messages were delivered. */
  runToQuiescence(limit = Number.POSITIVE_INFINITY): number {
    let n = 0;
    while (n < limit && this.step() !== undefined) n++;
    return n;
  }

  private deliver(env: Envelope): Delivered | undefined {
    let cell = this.cells.get(env.to);
    if (cell === undefined) {
      const to = env.to;
      if (to === 'user' || to === 'monitor') return this.record(env);
      const m = env.msg;
      if (isBuiltinMessage(m) && m.type === 'mm.create' && to.startsWith('mm:')) {
        const id = Number(to.slice(3));
        this.setProcessMm(m.process, id);
        this.addCell(
          to,
          this.makeCell('mm', to, {
            id, process: m.process, threads: m.threads, lam: m.lam ?? LAM_OFF, policy: this.config.policy, cpu: this.config.cpu,
            unsafe: this.unsafeDevices, ...(m.fds === undefined ? {} : { fds: m.fds }), ...(m.caps === undefined ? {} : { caps: m.caps }),
          }),
        );
        this.changed.add(to);
        this.dirty?.add(to);
        return this.record(env);
      }
      // idxd_cdev_open's file: born with the bond the opener's mm just made.
      if (isBuiltinMessage(m) && m.type === 'file.open' && to.startsWith('file:')) {
        this.addCell(to, this.makeCell('file', to, { id: to.slice(5), device: m.device, mm: m.mm, pasid: m.pasid, holder: m.holder, safe: m.safe }));
        this.changed.add(to);
        this.dirty?.add(to);
        return this.record(env);
      }
      if (isBuiltinMessage(m) && m.type === 'thread.start' && to.startsWith('thread:')) {
        this.addCell(to, this.makeCell('thread', to, { name: to.slice(7), process: m.process, mm: m.mm, enqcmd: this.config.cpu.enqcmd }));
        this.changed.add(to);
        this.dirty?.add(to);
        return this.record(env);
      }
      // A registered kind's birth message to a free address under its prefix creates the actor (as
      // mm.create does): the message is its input, recorded, not stepped.
      const born = this.kinds.bornBy(to, m.type);
      if (born !== undefined) {
        this.spawn(born.name, to, { name: to.slice(to.indexOf(':') + 1), message: m }, false);
        this.changed.add(to);
        this.dirty?.add(to);
        return this.record(env);
      }
      if ((env.from === 'user' || this.foreign.has(env.from)) && to.startsWith('thread:')) {
        env.to = 'kernel';
        cell = this.cells.get('kernel');
      }
      if (cell === undefined) {
        const sender = this.cells.get(env.from);
        if (sender?.foreign === true) throw this.kindFailure(sender.kind, env.from, `sent ${env.msg.type} to ${env.to}, where there is no actor`);
        throw new Error(`no actor ${env.to} for ${env.msg.type} (from ${env.from})`);
      }
    }
    if (env.to === 'kernel' && env.msg.type === 'sys.spawn' && this.foreign.has(env.from)) {
      const process = (env.msg as { readonly process?: unknown }).process;
      const sender = this.cells.get(env.from);
      if (typeof process === 'string' && this.processMms.has(process) && sender) throw this.kindFailure(sender.kind, env.from, `sent sys.spawn of process "${process}", which exists already`);
    }
    const { behavior } = cell;
    const before = cell.state;
    const out = this.out;
    let next: unknown;
    if (cell.foreign) {
      try {
        next = behavior.step(before, env.msg, out, env.to, env.from);
      } catch (e) {
        out.length = 0;
        throw this.kindFailure(cell.kind, env.to, `threw on ${env.msg.type} from ${env.from}`, e);
      }
    } else next = behavior.step(before, env.msg, out, env.to, env.from);
    if (next === DEFER) {
      if (out.length > 0) throw new Error(`${env.to} deferred ${env.msg.type} but sent ${out.map((m) => m.type).join(', ')}`);
      this.defer(env);
      return undefined;
    }
    if (cell.foreign) {
      if (next === undefined) throw this.kindFailure(cell.kind, env.to, `returned no state for ${env.msg.type} from ${env.from}`);
      // Checkpoints, reports and the inspector write states out as JSON: a state that is not JSON fails here, once.
      if (next !== before) {
        const bad = notJson(behavior.persist(next));
        if (bad !== null) throw this.kindFailure(cell.kind, env.to, `has a state that is not JSON data after ${env.msg.type} (${bad})`);
      }
      if (out.length > 0) this.checkSent(env.to, cell.kind, out);
    }
    cell.state = next;
    if (next !== before && (behavior.context(next) !== behavior.context(before) || !sameValue(behavior.value(next), behavior.value(before)))) {
      this.changed.add(env.to);
      this.dirty?.add(env.to);
    }
    // What it sent is pending before anyone hears of the delivery, caused by the seq it is about to get.
    const cause = this.seq + 1;
    for (let i = 0; i < out.length; i++) {
      const m = out[i] as Outgoing;
      this.enqueue({ msg: m, from: env.to, to: m.to, cause, step: env.step, seq: 0 });
    }
    out.length = 0;
    const d = this.record(env);
    if (next !== before) this.retryDeferred(env.to);
    return d;
  }

  /** A new actor of a registered kind (a device model at `wq:<device>`, or any kind at its prefix). */
  private spawn(kindName: string, address: Address, input: unknown, device: boolean): void {
    const kind = this.kinds.get(kindName);
    if (kind === undefined || kind.builtin) throw new KindError(`${address}: no registered kind "${kindName}" (registered: ${this.kinds.registered().map((d) => d.name).join(', ') || 'none'})`);
    if (kind.device !== device) throw new KindError(`${address}: kind "${kindName}" is ${kind.device ? 'a device model (declare it in devices)' : 'not a device model (declare it in actors)'}`);
    let state: unknown;
    try {
      state = kind.behavior.initial(input, address);
    } catch (e) {
      throw this.kindFailure(kindName, address, 'threw while starting', e);
    }
    this.addCell(address, new Cell(kindName, this.wrap(kind.behavior), address, state));
    this.noteKind(address, kindName);
  }

  /** A registered kind's code threw: one line naming its plugin, actor and what it was doing (the error as `cause`). */
  private kindFailure(kindName: string, address: Address, doing: string, e?: unknown): KindError {
    if (e instanceof KindError) return e;
    const origin = this.kinds.get(kindName)?.definition?.origin;
    // Every line of the error (xstate puts the cause of a failed guard on its second line), as one.
    const why = e === undefined ? '' : `: ${(e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ').trim()}`;
    return new KindError(`${origin ? `plugin ${origin.name}: ` : ''}kind "${kindName}" at ${address} ${doing}${why}`, e === undefined ? undefined : { cause: e });
  }

  /** A view of a registered kind's actor goes through its own code (`value`, `context`): its failures are its own. */
  private look(c: Cell, address: Address): { readonly value: unknown; readonly context: unknown } {
    const s = c.state;
    if (!c.foreign) return { value: c.behavior.value(s), context: c.behavior.context(s) };
    try {
      return { value: c.behavior.value(s), context: c.behavior.context(s) };
    } catch (e) {
      throw this.kindFailure(c.kind, address, 'threw while shown (value or context)', e);
    }
  }

  /** Remember a registered kind's actor: it is foreign to the built-in monitor, and may observe types. */
  private noteKind(address: Address, kindName: string): void {
    const kind = this.kinds.get(kindName);
    if (kind === undefined || kind.builtin) return;
    this.foreign.add(address);
    const cell = this.cells.get(address);
    if (cell) cell.foreign = true;
    for (const type of kind.definition?.observes ?? []) {
      const list = this.observers.get(type);
      // An exploration restores states from before such an actor's birth and may create it again.
      if (list) {
        if (!list.includes(address)) list.push(address);
      }
      else this.observers.set(type, [address]);
    }
  }

  /** What a registered kind's actor sends must pass the schema of its type (svasim's or registered). */
  private checkSent(from: Address, kindName: string, out: readonly Sent[]): void {
    const device = this.kinds.get(kindName)?.device === true;
    for (const m of out as readonly unknown[]) {
      if (typeof m !== 'object' || m === null || typeof (m as { type?: unknown }).type !== 'string') {
        throw this.kindFailure(kindName, from, `sent a value that is not a message (${shortJson(m)})`);
      }
      const { to, ...msg } = m as Sent;
      const type = msg.type;
      const reserved = envelopeField(msg);
      if (reserved !== undefined) throw this.kindFailure(kindName, from, `sent ${type} with a field named "${reserved}", one of the log record's own (seq, from, to, cause, step, copy)`);
      if (typeof to !== 'string' || (!/^[a-z][a-z0-9_-]*:./.test(to) && !['user', 'kernel', 'iommu'].includes(to))) {
        throw this.kindFailure(kindName, from, `sent ${type} to ${shortJson(to)}, which is not an address`);
      }
      if (isBuiltinMessage(msg as AnyMessage) && !(PROGRAM_TYPES.has(type) || (device && DEVICE_TYPES.has(type)))) {
        throw this.kindFailure(
          kindName,
          from,
          `sent ${type}, one of svasim's internal messages: a registered actor may send svasim's inputs (${[...PROGRAM_TYPES].join(', ')})${device ? ` and, as a device model, ${[...DEVICE_TYPES].join(', ')}` : ''}`,
        );
      }
      const issue = isBuiltinMessage(msg as AnyMessage) ? messageIssue(msg) : this.kinds.check(msg as AnyMessage);
      if (issue !== null && issue !== undefined) throw this.kindFailure(kindName, from, `sent ${type} to ${to}, which its schema refuses: ${issue}`);
    }
  }

  private record(env: Envelope): Delivered {
    env.seq = ++this.seq;
    this.lastStepSeen = env.step;
    // Observers hear what is delivered to svasim's own actors (never copies of copies).
    if (this.observers.size > 0 && !this.foreign.has(env.to)) {
      const list = this.observers.get(env.msg.type);
      if (list !== undefined) for (const a of list) if (this.cells.has(a)) this.enqueue({ msg: env.msg, from: env.from, to: a, cause: env.seq, step: env.step, seq: 0, copy: true });
    }
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) listeners[i]?.(env);
    // Only when someone subscribed; a subscriber's error fails this delivery, after every one had it.
    if (this.delivered$.observed) publishSync(this.delivered$, env, (e) => new SubscriberError(env, e));
    return env;
  }

  /**
   * Whether the actor a pending message goes to would take it now (no side effect: the step's result is
   * dropped). Replay asks it of what is still pending at the end of a log: messages the live run left
   * deferred (never taken, so never logged) are no difference.
   */
  wouldTake(env: Envelope): boolean {
    const cell = this.cells.get(env.to);
    if (cell === undefined) return true;
    const scratch: Sent[] = [];
    try {
      return cell.behavior.step(cell.state, env.msg, scratch, env.to, env.from) !== DEFER;
    } catch {
      return true;
    }
  }

  /** Whether an address is an actor of a registered kind (the built-in monitor leaves those alone). */
  isForeign(address: Address): boolean {
    return this.foreign.has(address);
  }

  /** The behavior for a restored actor of any kind. */
  private behaviorOf(kindName: string, address: Address): Behavior {
    if (kindName in this.behaviors) return this.behaviors[kindName as ActorKind];
    const kind = this.kinds.get(kindName);
    if (kind === undefined) throw new KindError(`${address}: kind "${kindName}" is not registered (a plugin missing?)`);
    return this.wrap(kind.behavior);
  }

  /**
   * The actors whose state changed since the last call (for monitors), and forget them. The set is the
   * caller's until the next call (two sets take turns: no Set made per step).
   */
  takeChanged(): Set<Address> {
    const c = this.changed;
    const next = this.changedSpare;
    next.clear();
    this.changed = next;
    this.changedSpare = c;
    return c;
  }

  private defer(env: Envelope): void {
    this.deferred.add(env);
  }

  private retryDeferred(address: Address): void {
    const list = this.deferred.take(address);
    if (list) for (const env of list) this.enqueue(env);
  }

  /** A new actor of a built-in kind. */
  private makeCell(kind: ActorKind, address: Address, input: unknown): Cell {
    const behavior = this.behaviors[kind];
    return new Cell(kind, behavior, address, behavior.initial(input, address));
  }

  /**
   * Persist the actors and the pending messages: every actor, or with `onlyDirty` only those whose state
   * changed since the previous snapshot (a delta to lay over an earlier full snapshot). Either way the
   * set of changed actors starts afresh.
   */
  snapshot(opts: { onlyDirty?: boolean } = {}): SystemSnapshot {
    // Machine contexts are immutable values (every update makes a new object), so a persisted snapshot
    // can share them: no deep copy needed for the snapshot to stay a value.
    const dirty = this.dirty;
    const entries = opts.onlyDirty && dirty !== null ? [...dirty].map((a) => [a, this.cells.get(a)] as const) : [...this.cells.entries()];
    this.dirty = new Set();
    const actors: SystemSnapshot['actors'][number][] = [];
    for (const [address, c] of entries) if (c) actors.push({ address, kind: c.kind, snapshot: c.persisted() });
    return {
      seq: this.seq,
      actors,
      pending: this.scheduler.pending().map((e) => ({ ...e })),
      deferred: this.deferred.all().map((e) => ({ ...e })),
    };
  }

  /** A new actor: in the map and, in creation order, in the list captures share. */
  private addCell(address: Address, cell: Cell): void {
    this.cells.set(address, cell);
    if (this.cellListShared) {
      this.cellList = this.cellList.slice();
      this.cellListShared = false;
    }
    this.cellList.push(cell);
  }

  private setProcessMm(process: string, id: number): void {
    if (this.processMmsShared) {
      this.processMms = new Map(this.processMms);
      this.processMmsShared = false;
    }
    this.processMms.set(process, id);
  }

  /**
   * Whether a pending message creates the actor it goes to (`mm.create`, `thread.start`, `file.open`,
   * or a registered kind's birth message, to an address with no actor yet).
   */
  isBirth(env: Envelope): boolean {
    const to = env.to;
    if (this.cells.has(to)) return false;
    const t = env.msg.type;
    if (t === 'mm.create') return to.startsWith('mm:');
    if (t === 'thread.start') return to.startsWith('thread:');
    if (t === 'file.open') return to.startsWith('file:');
    return this.kinds.hasRegistered && this.kinds.bornBy(to, t) !== undefined;
  }

  /** Whether an actor lives at `address`. */
  has(address: Address): boolean {
    return this.cells.has(address);
  }

  /**
   * The actors' states by reference, for exploration (src/explore/): nothing is copied but two small
   * arrays (and the deferred messages, when there are any) — actor states are immutable values, and the
   * actor list and the process table are shared until they next change. Pending messages are the
   * scheduler's to capture.
   * @internal
   */
  captureModel(): ModelCapture {
    return this.captureModelWith(plainCapture);
  }

  /**
   * {@link captureModel}, built by `make` into an object of the caller's (exploration keeps its own fields
   * in the same object: one allocation a state, not two). @internal
   */
  captureModelWith<T>(make: (cells: readonly unknown[], states: readonly unknown[], seq: number, lastStep: number, processMms: ReadonlyMap<string, number>, deferred: ModelCapture['deferred']) => T, extra: readonly unknown[] = NO_EXTRA): T {
    const cells = this.cellList;
    this.cellListShared = true;
    this.processMmsShared = true;
    const n = cells.length;
    const states = new Array<unknown>(n + extra.length);
    for (let i = 0; i < n; i++) states[i] = (cells[i] as Cell).state;
    for (let j = 0; j < extra.length; j++) states[n + j] = extra[j];
    return make(cells, states, this.seq, this.lastStepSeen, this.processMms, this.deferred.capture());
  }

  /**
   * The actors in creation order and the deferred messages as they are now, for a look at the state
   * before deciding to capture it (exploration fingerprints a state first): the actor list is not
   * copied (do not keep it), the deferred messages are (when there are any). @internal
   */
  liveActors(): readonly unknown[] {
    return this.cellList;
  }
  liveDeferred(): ModelCapture['deferred'] {
    return this.deferred.capture();
  }

  /** Put the actors back as {@link captureModel} took them (pending messages: the scheduler's). @internal */
  restoreModel(c: ModelCapture): void {
    const cells = c.cells as Cell[];
    if (cells !== this.cellList) {
      this.cells.clear();
      for (const cell of cells) this.cells.set(cell.address, cell);
      this.cellList = cells;
    }
    this.cellListShared = true;
    const states = c.states;
    for (let i = 0; i < cells.length; i++) (cells[i] as Cell).state = states[i];
    this.seq = c.seq;
    this.lastStepSeen = c.lastStep;
    this.processMms = c.processMms as Map<string, number>;
    this.processMmsShared = true;
    if (this.changed.size > 0) this.changed.clear();
    if (c.deferred !== null || this.deferred.size > 0) this.deferred.load(c.deferred);
  }

  /**
   * Set aside a pending message its receiver cannot take now (the caller has removed it from the
   * scheduler), as a delivery attempt would: it is pending again after that actor next changes. Exploration
   * and the replay of its logs defer every such channel head at once (src/explore/defer.ts).
   * @internal
   */
  deferNow(env: Envelope): void {
    this.defer(env);
  }

  /** Stop every actor (the system is unusable afterwards). */
  stop(): void {
    this.delivered$.complete();
  }

  // ---- typed views of actor state ----

  private view<C>(address: Address): ActorView<C> | undefined {
    const c = this.cells.get(address);
    if (!c) return undefined;
    const v = this.look(c, address);
    return new View<C>(address, v.value, v.context as C);
  }

  thread(name: string): ActorView<ThreadContext> | undefined {
    return this.view<ThreadContext>(threadAddr(name));
  }
  mm(id: number): ActorView<MmContext> | undefined {
    return this.view<MmContext>(mmAddr(id));
  }
  wq(device: string): ActorView<WqContext> | undefined {
    return this.view<WqContext>(wqAddr(device));
  }
  iommu(): ActorView<IommuContext> {
    const v = this.view<IommuContext>('iommu');
    if (!v) throw new Error('no iommu actor');
    return v;
  }
  kernel(): ActorView<KernelContext> {
    const v = this.view<KernelContext>('kernel');
    if (!v) throw new Error('no kernel actor');
    return v;
  }

  /** An actor's context (what its views read), without building a view; `undefined`: no actor there. */
  contextOf(address: Address): unknown {
    const c = this.cells.get(address);
    return c === undefined ? undefined : this.look(c, address).context;
  }

  /** Any actor's kind, state (dotted) and context; `undefined` when no actor has that address. */
  actor(address: Address): (ActorView<unknown> & { readonly kind: string }) | undefined {
    const c = this.cells.get(address);
    if (!c) return undefined;
    const v = this.look(c, address);
    return { address, kind: c.kind, state: stateName(v.value), context: v.context };
  }

  /** Every actor's address and kind, in creation order. */
  addresses(): { address: Address; kind: string }[] {
    return [...this.cells.entries()].map(([address, c]) => ({ address, kind: c.kind }));
  }

  /** The mm a process currently uses (after exec, the new one). */
  processMm(process: string): ActorView<MmContext> | undefined {
    const id = this.processMms.get(process);
    return id === undefined ? undefined : this.mm(id);
  }

  /** Every process and the id of its current mm, in order of creation. */
  processes(): [string, number][] {
    return [...this.processMms];
  }
}
