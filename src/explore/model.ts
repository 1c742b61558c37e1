/**
 * The model as exploration sees it: a `System` whose state can be captured and put back cheaply, the
 * scenario's steps as concurrent programs, and the transitions enabled in a state.
 *
 * Semantics (SPEC §8, README "Exploring interleavings"):
 * - Each thread's steps form a program (program order kept); `spawn` steps are programs of one step
 *   each; `complete` steps form one program per device. A program's next step is enabled when its
 *   receiver exists and would take its input now (a thread takes a syscall only when it is back from
 *   the previous one); the step and the delivery of its input are one transition.
 * - Every pending message is a choice point, except that messages between the same two actors keep
 *   their order: the oldest pending message of each (sender, receiver) channel is enabled. One its
 *   receiver cannot take in its current state is deferred at once (defer.ts), as a run defers it.
 * - A message to an actor whose birth message is pending waits for that birth (the kernel creates the
 *   mm before the task runs).
 * - When nothing else is enabled, a step whose thread never came to exist is issued (as `run` does:
 *   the kernel answers ESRCH).
 * - A state with pending messages and nothing enabled is stuck (a deadlock, as TLC calls it).
 */
import type { Address, AnyMessage } from '../../machines/protocol.ts';
import { finalMismatches, type FinalMismatch } from '../runner/final.ts';
import { stepInput, systemConfig } from '../runner/inputs.ts';
import type { Cell } from '../runtime/cell.ts';
import type { Kinds } from '../runtime/kinds.ts';
import type { Violation } from '../runtime/monitor.ts';
import type { Envelope, Scheduler } from '../runtime/scheduler.ts';
import { System, type Delivered, type EngineKind, type ModelCapture, type SystemOptions } from '../runtime/system.ts';
import type { Scenario } from '../scenario/types.ts';
import { beforeDelivery, checkDelivery, deferBlocked } from '../runtime/interleaved.ts';
import type { Behavior } from '../runtime/actor.ts';
import { memoize } from './memo.ts';
import { fmix, hashObjectFrom, hashString, hashValue, mix2, type Hash64 } from './hash.ts';

/** A program: a thread's steps, one spawn, or a device's completions (step indices, in order). */
export interface Program {
  readonly key: string;
  readonly steps: readonly number[];
}

/** How a transition is named in a path: deliver the head of a channel, or run a program's next step. */
export type TransitionRef = { readonly kind: 'deliver'; readonly from: Address; readonly to: Address } | { readonly kind: 'step'; readonly program: number };

/** One enabled transition. */
export interface Transition {
  readonly ref: TransitionRef;
  /** The pending message it delivers (`deliver`), or `null` (a program step). */
  readonly env: Envelope | null;
  /** The actor it changes (`null` for `user` and `monitor`, which only record). */
  readonly actor: Address | null;
  /**
   * Its sleep-set bit in this state (0..30; {@link ExploreModel.maskNow}), or -1 when it must never sleep.
   * Bits are local to a state and the same in every visit of it: program `p` is bit `p`, and the channels
   * with pending messages follow in an order of their own (by a hash of their names), so two transitions
   * enabled in one state never share a bit.
   */
  readonly bit: number;
  /** The scenario step it runs (program steps), else -1. */
  readonly stepIndex: number;
}

/**
 * A captured state: the actors by reference; in the same array as their states (`states`, after the first
 * `cells.length` entries: one array a kept state, not two), the pending messages oldest first; the
 * programs' counters; its fingerprint.
 */
export interface ModelState extends ModelCapture {
  readonly pcs: readonly number[];
  /** The fingerprint. */
  readonly a: number;
  readonly b: number;
  /** The actors' part of it (a sum over actors: a child's is its parent's, changed where its actors changed). */
  readonly actorsA: number;
  readonly actorsB: number;
}

/**
 * A pending message as the explorer keeps it: the envelope with its hash and its channel's key, computed
 * once when it became pending (a fingerprint reads every pending message's).
 */
interface Pending extends Envelope {
  readonly ha: number;
  readonly hb: number;
  /** Its channel's key (52 bits of a hash of sender and receiver): the order of a state's channels. */
  readonly ck: number;
}

const NO_VIOLATIONS: readonly Violation[] = [];

/** What one transition did: the delivery, the invariants it broke, a forbidden message it delivered. */
export interface Applied {
  readonly delivered: Delivered;
  /** It deferred a message or made deferred ones pending again (then it is not taken as independent of anything). */
  readonly touchedDeferred: boolean;
  readonly violations: readonly Violation[];
  /** The type of a message the scenario forbids, when this delivery was one. */
  readonly forbidden: string | null;
}

/** An envelope without the explorer's fields (what delivery and snapshots see). */
function plain(e: Envelope): Envelope {
  const { msg, from, to, cause, step, seq } = e;
  return e.copy === true ? { msg, from, to, cause, step, seq, copy: true } : { msg, from, to, cause, step, seq };
}

/** The explorer's scheduler: delivers exactly the message it is told to (a copy: delivery writes to envelopes). */
class ChosenScheduler implements Scheduler {
  readonly keepsChannelOrder = true;
  items: Pending[] = [];
  chosen: Envelope | null = null;
  readonly description = { name: 'explore' };

  constructor(private readonly pend: (env: Envelope) => Pending) {}

  enqueue(env: Envelope): void {
    this.items.push(this.pend(env));
  }
  next(): Envelope | undefined {
    const c = this.chosen;
    if (c === null) return undefined;
    this.chosen = null;
    const items = this.items;
    const i = items.indexOf(c as Pending);
    if (i < 0) throw new Error(`explore: ${c.msg.type} ${c.from} -> ${c.to} is not pending`);
    // Shift down by hand (splice allocates the array of what it removed).
    for (let j = i + 1; j < items.length; j++) items[j - 1] = items[j] as Pending;
    items.length--;
    return plain(c);
  }
  get size(): number {
    return this.items.length;
  }
  pending(): readonly Envelope[] {
    return this.items.map(plain);
  }
  reset(pending: readonly Envelope[]): void {
    this.items = pending.map(this.pend);
  }
}

/** Sleep-set bits: 31 (a visited set's word keeps its 32nd bit for a flag). */
export const BUCKETS = 31;

/** A channel's key, from its sender's and receiver's hashes (32 bits: kept unboxed). It orders a state's channels. */
function channelKey(f: Hash64, t: Hash64): number {
  return mix2(f.a, t.a);
}

/** Whether a pending message is its channel's oldest (no earlier one has the same sender and receiver). */
function isHead(items: readonly Envelope[], i: number): boolean {
  const e = items[i] as Envelope;
  for (let j = 0; j < i; j++) {
    const o = items[j] as Envelope;
    if (o.from === e.from && o.to === e.to) return false;
  }
  return true;
}

/** How an {@link ExploreModel} is built: the engine, the registered kinds, the scenario's forbidden types. */
export interface ModelOptions {
  readonly engine?: EngineKind | undefined;
  readonly kinds?: Kinds | undefined;
  readonly machines?: SystemOptions['machines'];
  /** Called with every delivered message (counterexample logs). */
  readonly onRecord?: ((d: Delivered) => void) | undefined;
}

export class ExploreModel {
  readonly sys: System;
  readonly programs: readonly Program[];
  private readonly sched = new ChosenScheduler((env) => this.pend(env));
  private pcs: number[];
  private pcsShared = false;
  private readonly forbid: ReadonlySet<string>;
  /** Each step's input as an envelope (for `wouldTake`; never delivered itself). */
  private readonly inputs: readonly Envelope[];
  private readonly stepProgram: readonly number[];
  /** Observers make deliveries to different actors depend on each other (their copies share a channel). */
  readonly independence: boolean;
  private readonly stateHashes = new WeakMap<object, Hash64>();
  /** Transition names, one object each (paths in the frontier share them): programs' steps, and channels by key. */
  private readonly stepRefs: readonly TransitionRef[];
  private readonly deliverRefs = new Map<number, TransitionRef>();

  constructor(
    readonly scenario: Scenario,
    opts: ModelOptions = {},
  ) {
    // Steps memoized per model (memo.ts): one wrapper per behavior.
    const memos = new Map<Behavior, Behavior>();
    const wrapBehavior = (b: Behavior): Behavior => {
      let m = memos.get(b);
      if (m === undefined) {
        m = memoize(b);
        memos.set(b, m);
      }
      return m;
    };
    this.sys = new System(systemConfig(scenario), this.sched, undefined, { engine: opts.engine, kinds: opts.kinds, machines: opts.machines, wrapBehavior });
    if (opts.onRecord) this.sys.listen(opts.onRecord);
    this.forbid = new Set(scenario.forbid);
    const programs: { key: string; steps: number[] }[] = [];
    const byKey = new Map<string, number>();
    const stepProgram: number[] = [];
    scenario.steps.forEach((step, i) => {
      const key = step.op === 'spawn' ? `spawn#${i}` : step.op === 'complete' ? `complete:${step.device}` : `thread:${step.thread}`;
      let p = byKey.get(key);
      if (p === undefined) {
        p = programs.length;
        byKey.set(key, p);
        programs.push({ key, steps: [] });
      }
      programs[p]?.steps.push(i);
      stepProgram.push(p);
    });
    this.programs = programs;
    this.stepRefs = programs.map((_, program) => ({ kind: 'step', program }));
    this.stepProgram = stepProgram;
    this.pcs = programs.map(() => 0);
    this.inputs = scenario.steps.map((s, i) => {
      const { msg, to } = stepInput(s);
      return { msg, from: 'user', to, cause: undefined, step: i, seq: 0 };
    });
    this.independence = !(opts.kinds?.registered().some((k) => (k.observes?.length ?? 0) > 0) ?? false);
  }

  /** The state now (`parent`: the state the last transition was taken from, to hash only what changed). */
  capture(parent?: ModelState): ModelState {
    this.parentNow = parent;
    const s = this.sys.captureModelWith(this.build, this.sched.items);
    this.parentNow = undefined;
    this.probed = null;
    return s;
  }

  /**
   * The fingerprint of the state now, without capturing it (`parent` as for {@link capture}): most
   * transitions reach a state already seen, which is then never kept. {@link capture} right after
   * reuses the hashes. Read them from {@link probeA} and {@link probeB}.
   */
  probe(parent: ModelState): void {
    const actors = this.actorsHash(this.sys.liveActors(), null, parent);
    const h = this.fingerprint(this.sys.liveDeferred(), this.sched.items, this.pcs, actors);
    this.probeA = h.a;
    this.probeB = h.b;
    this.probedActorsA = actors.a;
    this.probedActorsB = actors.b;
    this.probed = parent;
  }
  probeA = 0;
  probeB = 0;
  private probedActorsA = 0;
  private probedActorsB = 0;
  /** The parent the last {@link probe} was taken from (null once the state changed or was captured). */
  private probed: ModelState | null = null;

  /** The state the last transition was taken from (for {@link build}). */
  private parentNow: ModelState | undefined = undefined;

  /** A captured state, in one object with the system's part (made once: a closure a call would cost). */
  private readonly build = (cells: readonly unknown[], states: readonly unknown[], seq: number, lastStep: number, processMms: ReadonlyMap<string, number>, deferred: ModelCapture['deferred']): ModelState => {
    const parent = this.parentNow;
    this.pcsShared = true;
    const pcs = this.pcs;
    if (this.probed !== null && this.probed === parent) return { cells, states, seq, lastStep, processMms, deferred, pcs, a: this.probeA, b: this.probeB, actorsA: this.probedActorsA, actorsB: this.probedActorsB };
    const actors = this.actorsHash(cells, states, parent);
    const h = this.fingerprint(deferred, this.sched.items, pcs, actors);
    return { cells, states, seq, lastStep, processMms, deferred, pcs, a: h.a, b: h.b, actorsA: actors.a, actorsB: actors.b };
  };

  /** Put a captured state back. */
  restore(s: ModelState): void {
    this.probed = null;
    this.sys.restoreModel(s);
    this.sched.items = s.states.slice(s.cells.length) as Pending[];
    this.sched.chosen = null;
    this.pcs = s.pcs as number[];
    this.pcsShared = true;
  }

  /** Pending messages now, and deferred ones (messages not taken yet). */
  get pendingCount(): number {
    return this.sched.items.length + this.sys.deferredSize;
  }

  /** The scenario's `final` entries that do not hold now. */
  finalMismatches(): FinalMismatch[] {
    return finalMismatches(this.sys, this.scenario);
  }

  /** Whether every program has run all its steps. */
  get programsDone(): boolean {
    for (let p = 0; p < this.programs.length; p++) if ((this.pcs[p] as number) < (this.programs[p] as Program).steps.length) return false;
    return true;
  }

  /**
   * The transitions enabled now, in a fixed order: channel heads oldest first, then programs in order.
   * `now`: the state the model is in (just restored or captured), for the transitions' sleep bits; without
   * it every bit is -1 (random walks sleep nothing).
   */
  enabled(now?: ModelState): Transition[] {
    const sys = this.sys;
    const items = this.sched.items;
    const out: Transition[] = [];
    let unborn: Set<string> | null = null;
    for (const e of items) if (!sys.has(e.to) && sys.isBirth(e)) (unborn ??= new Set()).add(e.to);
    const order = now === undefined ? null : this.orderOf(now.states as readonly Pending[], now.cells.length);
    for (let i = 0; i < items.length; i++) {
      if (!isHead(items, i)) continue;
      const e = items[i] as Pending;
      const to = e.to;
      const ref = this.deliverRef(e);
      if (to === 'user' || to === 'monitor') {
        out.push({ ref, env: e, actor: null, bit: this.chanBit(order, e), stepIndex: -1 });
        continue;
      }
      if (!sys.has(to)) {
        const birth = unborn?.has(to) === true && sys.isBirth(e);
        if (!birth && unborn?.has(to) === true) continue;
        // A birth, or a message to no actor (the bus routes it or throws, as in a run): never asleep.
        out.push({ ref, env: e, actor: to, bit: birth ? this.chanBit(order, e) : -1, stepIndex: -1 });
        continue;
      }
      // Every head whose receiver exists takes it: `apply` deferred the others (interleaved.ts).
      out.push({ ref, env: e, actor: to, bit: this.chanBit(order, e), stepIndex: -1 });
    }
    for (let p = 0; p < this.programs.length; p++) {
      const prog = this.programs[p] as Program;
      const pc = this.pcs[p] as number;
      if (pc >= prog.steps.length) continue;
      const stepIndex = prog.steps[pc] as number;
      const input = this.inputs[stepIndex] as Envelope;
      if (!sys.has(input.to) || !sys.wouldTake(input)) continue;
      out.push({ ref: this.stepRefs[p] as TransitionRef, env: null, actor: input.to, bit: now !== undefined && p < BUCKETS ? p : -1, stepIndex });
    }
    if (out.length > 0 || items.length > 0) return out;
    // Nothing else can happen: the first program step whose thread never came to exist is issued (ESRCH).
    let best = -1;
    for (let p = 0; p < this.programs.length; p++) {
      const prog = this.programs[p] as Program;
      const pc = this.pcs[p] as number;
      if (pc >= prog.steps.length) continue;
      const stepIndex = prog.steps[pc] as number;
      if (sys.has((this.inputs[stepIndex] as Envelope).to)) continue;
      if (best < 0 || stepIndex < ((this.programs[best] as Program).steps[this.pcs[best] as number] as number)) best = p;
    }
    if (best >= 0) {
      const stepIndex = (this.programs[best] as Program).steps[this.pcs[best] as number] as number;
      out.push({ ref: this.stepRefs[best] as TransitionRef, env: null, actor: 'kernel', bit: -1, stepIndex });
    }
    return out;
  }

  /** The name of delivering a channel's head. */
  private deliverRef(e: Pending): TransitionRef {
    let r = this.deliverRefs.get(e.ck);
    if (r === undefined || (r.kind === 'deliver' && (r.from !== e.from || r.to !== e.to))) {
      r = { kind: 'deliver', from: e.from, to: e.to };
      this.deliverRefs.set(e.ck, r);
    }
    return r;
  }

  /** A channel head's sleep bit in a state whose channels are in `order` (-1: none). */
  private chanBit(order: readonly number[] | null, e: Pending): number {
    if (order === null) return -1;
    const b = this.programs.length + order.indexOf(e.ck);
    return b < BUCKETS ? b : -1;
  }

  private chanKey(from: string, to: string): number {
    return channelKey(hashString(from), hashString(to));
  }

  /** Every channel seen, by key: two channels with one key would share a sleep bit (checked, never seen). */
  private readonly channels = new Map<number, { readonly from: string; readonly to: string }>();

  private checkedKey(f: Hash64, t: Hash64, from: string, to: string): number {
    const k = channelKey(f, t);
    const c = this.channels.get(k);
    if (c === undefined) this.channels.set(k, { from, to });
    else if (c.from !== from || c.to !== to) throw new Error(`explore: channels ${c.from} -> ${c.to} and ${from} -> ${to} have one key`);
    return k;
  }

  /** An envelope as it becomes pending: with its hash and its channel's key. */
  private pend(e: Envelope): Pending {
    const m = hashValue(e.msg);
    const f = hashString(e.from);
    const t = hashString(e.to);
    const ca = mix2(f.a, t.a);
    const cb = mix2(f.b ^ 0x1f83d9ab, t.b);
    let ha = mix2(ca, m.a);
    let hb = mix2(cb ^ 0x2545f491, m.b);
    if (e.copy === true) {
      ha ^= 0x6b43a9b5;
      hb ^= 0x27bb2ee6;
    }
    const ck = this.checkedKey(f, t, e.from, e.to);
    const { msg, from, to, cause, step, seq } = e;
    return e.copy === true ? { msg, from, to, cause, step, seq, copy: true, ha, hb, ck } : { msg, from, to, cause, step, seq, copy: undefined, ha, hb, ck };
  }

  /** A state's channels' keys, ascending (a channel's place is its sleep bit's offset after the programs'). */
  private orderOf(pending: readonly Pending[], from = 0): readonly number[] {
    // Insertion into a sorted array (Array#sort allocates a work array a call).
    const keys: number[] = [];
    for (let j = from; j < pending.length; j++) {
      const k = (pending[j] as Pending).ck;
      let i = keys.length;
      while (i > 0 && (keys[i - 1] as number) > k) i--;
      if (i > 0 && keys[i - 1] === k) continue;
      // Shift up by hand (splice allocates the array of what it removed).
      keys.push(k);
      for (let j = keys.length - 1; j > i; j--) keys[j] = keys[j - 1] as number;
      keys[i] = k;
    }
    return keys;
  }

  /**
   * The sleep bits, in the state now, of transitions named as `ts` name them (taken in another state: a
   * sleep set passed on to a child). A transition without a bit there is left out (it is then taken as
   * awake, which only searches more).
   */
  maskNow(ts: readonly Transition[]): number {
    const pending = this.sched.items;
    let m = 0;
    for (const t of ts) {
      if (t.bit < 0) continue;
      let b: number;
      if (t.ref.kind === 'step') b = t.ref.program;
      else {
        // The channel's place among the state's channels: how many other channels have a smaller key
        // (counted at each channel's oldest message; nothing allocated: this runs for most transitions).
        const k = t.env !== null ? (t.env as Pending).ck : this.chanKey(t.ref.from, t.ref.to);
        let rank = 0;
        let found = false;
        for (let i = 0; i < pending.length; i++) {
          const ck = (pending[i] as Pending).ck;
          if (ck === k) found = true;
          else if (ck < k && isHead(pending, i)) rank++;
        }
        b = found ? this.programs.length + rank : BUCKETS;
      }
      if (b < BUCKETS) m |= 1 << b;
    }
    return m;
  }

  /**
   * Take one enabled transition (in the state it was enabled in). `check: false` skips the invariants
   * (no violations reported): for states another lane has checked already, rebuilt from a handed-over path.
   */
  apply(t: Transition, check = true): Applied {
    this.probed = null;
    const sys = this.sys;
    let env: Envelope;
    if (t.env !== null) env = t.env;
    else {
      const input = this.inputs[t.stepIndex] as Envelope;
      sys.input(input.msg as AnyMessage, input.to, t.stepIndex);
      env = this.sched.items[this.sched.items.length - 1] as Envelope;
      if (this.pcsShared) {
        this.pcs = this.pcs.slice();
        this.pcsShared = false;
      }
      const p = this.stepProgram[t.stepIndex] as number;
      this.pcs[p] = (this.pcs[p] as number) + 1;
    }
    const before = beforeDelivery(sys, env.to);
    const deferredBefore = sys.deferredSize;
    this.sched.chosen = env;
    const d = sys.step();
    if (d === undefined) throw new Error(`explore: ${env.to} deferred ${env.msg.type}, which it was found to take`);
    const changed = sys.takeChanged();
    const retried = sys.deferredSize !== deferredBefore;
    const deferred = this.settle(this.independence ? d.to : undefined);
    const violations = check ? checkDelivery(sys, d, changed, before, this.sched.items.length === 0) : NO_VIOLATIONS;
    return { delivered: d, touchedDeferred: retried || deferred > 0, violations, forbidden: this.forbid.has(d.msg.type) ? d.msg.type : null };
  }

  /**
   * Defer the channel heads their receivers cannot take now (interleaved.ts). Only heads to or from the
   * actor just stepped can have become untakeable (every other head was takeable and its receiver did not
   * change) — unless observers' copies add heads between other actors.
   */
  private settle(focus: Address | undefined): number {
    return deferBlocked(this.sys, this.pendingNow, this.removePending, focus);
  }

  // Made once (a closure made a call costs a keepNames call under tsx).
  private readonly pendingNow = (): readonly Envelope[] => this.sched.items;
  private readonly removePending = (e: Envelope): void => {
    this.sched.items.splice(this.sched.items.indexOf(e as Pending), 1);
  };

  /**
   * Report invariant violations as a run does: `invariant.violation` messages from `monitor` to `user`,
   * caused by the delivery after which they were found, delivered at once (counterexample logs).
   */
  report(violations: readonly Violation[], after: Delivered): void {
    for (const v of violations) {
      this.sys.post({ type: 'invariant.violation', invariant: v.invariant, detail: v.detail }, 'monitor', 'user', v.at, after.step);
      this.sched.chosen = this.sched.items[this.sched.items.length - 1] as Envelope;
      this.sys.step();
    }
  }

  /**
   * The transition a path took here before (a frontier part handed over, rebuilt: its fingerprint is
   * checked after), found without working out everything else that is enabled: the head of the channel,
   * or the program's next step. `undefined` when there is no such message or step.
   */
  retake(ref: TransitionRef): Transition | undefined {
    if (ref.kind === 'deliver') {
      for (const e of this.sched.items) if (e.from === ref.from && e.to === ref.to) return { ref, env: e, actor: e.to, bit: -1, stepIndex: -1 };
      return undefined;
    }
    const prog = this.programs[ref.program];
    const stepIndex = prog?.steps[this.pcs[ref.program] as number];
    return stepIndex === undefined ? undefined : { ref, env: null, actor: (this.inputs[stepIndex] as Envelope).to, bit: -1, stepIndex };
  }

  /** The transition a path names, among those enabled now. */
  find(ref: TransitionRef): Transition | undefined {
    for (const t of this.enabled()) {
      if (t.ref.kind === 'deliver' && ref.kind === 'deliver' && t.ref.from === ref.from && t.ref.to === ref.to) return t;
      if (t.ref.kind === 'step' && ref.kind === 'step' && t.ref.program === ref.program) return t;
    }
    return undefined;
  }

  // ---- fingerprints ----

  private stateHash(cell: Cell, state: unknown, prev?: unknown): Hash64 {
    const key = state as object;
    let h = typeof state === 'object' && state !== null ? this.stateHashes.get(key) : undefined;
    if (h === undefined) {
      const v = hashValue(cell.behavior.value(state));
      const ctx = cell.behavior.context(state);
      const pctx = prev === undefined ? undefined : cell.behavior.context(prev);
      // A next context is mostly its predecessor's fields: hash only the ones that changed.
      const c = typeof ctx === 'object' && ctx !== null && typeof pctx === 'object' && pctx !== null ? hashObjectFrom(ctx, pctx) : hashValue(ctx);
      h = { a: mix2(v.a, c.a), b: mix2(v.b ^ 0x5851f42d, c.b) };
      if (typeof state === 'object' && state !== null) this.stateHashes.set(key, h);
    }
    return h;
  }

  /**
   * The state's fingerprint: actors (address, state value, context) combined order-independently, each
   * channel's pending messages in order, the programs' counters. Never seqs, causes or steps of messages.
   */
  /**
   * The actors' part of a fingerprint: a sum over actors of (address, state) hashes, from the parent's.
   * `states`: the actors' states as captured, or null: each actor's state now.
   */
  private actorsHash(cellList: readonly unknown[], states: readonly unknown[] | null, parent: ModelState | undefined): Hash64 {
    const cells = cellList as readonly Cell[];
    let a1 = 0;
    let b1 = 0;
    let from = 0;
    if (parent !== undefined) {
      // Births append to the actor list: the parent's actors are a prefix of the child's.
      a1 = parent.actorsA;
      b1 = parent.actorsB;
      const before = parent.states;
      from = parent.cells.length;
      for (let i = 0; i < from; i++) {
        const s = states === null ? (cells[i] as Cell).state : states[i];
        const old = before[i];
        if (s === old) continue;
        const cell = cells[i] as Cell;
        const ad = hashString(cell.address);
        const o = this.stateHash(cell, old);
        const n = this.stateHash(cell, s, old);
        a1 = (a1 - mix2(ad.a, o.a) + mix2(ad.a, n.a)) | 0;
        b1 = (b1 - mix2(ad.b ^ 0x1b873593, o.b) + mix2(ad.b ^ 0x1b873593, n.b)) | 0;
      }
    }
    for (let i = from; i < cells.length; i++) {
      const cell = cells[i] as Cell;
      const ad = hashString(cell.address);
      const st = this.stateHash(cell, states === null ? cell.state : states[i]);
      a1 = (a1 + mix2(ad.a, st.a)) | 0;
      b1 = (b1 + mix2(ad.b ^ 0x1b873593, st.b)) | 0;
    }
    return { a: a1, b: b1 };
  }

  private fingerprint(deferred: ModelCapture['deferred'], pending: readonly Envelope[], pcs: readonly number[], actors: Hash64): Hash64 {
    const a1 = actors.a;
    const b1 = actors.b;
    let a2 = 0;
    let b2 = 0;
    for (let i = 0; i < pending.length; i++) {
      const e = pending[i] as Envelope;
      // Its place in its channel: how many earlier pending messages share the channel.
      let pos = 0;
      for (let j = 0; j < i; j++) {
        const o = pending[j] as Envelope;
        if (o.from === e.from && o.to === e.to) pos++;
      }
      const h = e as Pending;
      a2 = (a2 + mix2(h.ha, pos)) | 0;
      b2 = (b2 + mix2(h.hb, pos ^ 0x68e31da4)) | 0;
    }
    // Deferred messages: per channel, in order (as they will be pending again).
    if (deferred !== null) {
      for (const [, list] of deferred) {
        for (let i = 0; i < list.length; i++) {
          const e = list[i] as Envelope;
          let pos = 0;
          for (let j = 0; j < i; j++) if ((list[j] as Envelope).from === e.from) pos++;
          const h = 'ck' in e ? (e as Pending) : this.pend(e);
          a2 = (a2 + mix2(h.ha ^ 0x7fb5d329, pos)) | 0;
          b2 = (b2 + mix2(h.hb ^ 0x728ed1f1, pos ^ 0x1bd3fb7f)) | 0;
        }
      }
    }
    let a3 = 0x3243f6a8;
    let b3 = 0x85a308d3;
    for (let p = 0; p < pcs.length; p++) {
      a3 = mix2(a3, pcs[p] as number);
      b3 = mix2(b3 ^ 0x13198a2e, pcs[p] as number);
    }
    return { a: fmix(mix2(mix2(a1, a2), a3)), b: fmix(mix2(mix2(b1 ^ 0x03707344, b2), b3)) };
  }
}
