/**
 * The actor contract: how the bus steps any actor, built-in or yours.
 *
 * An actor is a value (its state) and a {@link Behavior}: given the state and one message, the behavior
 * returns the next state — or {@link DEFER} when the current state cannot take the message — and pushes
 * the messages it sends onto `out`. The bus gives every message its `seq`, `cause` and `step`, logs it,
 * and offers a deferred message again after the actor next changes (selective receive, as in Erlang).
 * "Taken" is the behavior's own answer, never guessed from whether its state changed: a message taken
 * without any effect is taken.
 *
 * Adapters make a behavior from:
 * - an xstate v5 machine ({@link fromMachine}): stepped by svasim's compiled executor (the default,
 *   src/runtime/compiled.ts) or by xstate's own `machine.transition`; a message is taken when a
 *   transition of the current state is enabled for it (xstate's `getTransitionData`), and `emit`ted
 *   events are the messages sent (each names its destination in `to`);
 * - plain functions ({@link fromDecider}): `decide` answers a message with the messages to send (or
 *   `DEFER`), `evolve` folds a taken message into the state.
 *
 * The built-in actors (thread, mm, iommu, wq, kernel) are machines behind {@link fromMachine}.
 */
import { createActor, createMachine, type AnyActorScope, type AnyStateMachine, type Snapshot } from 'xstate';
import type { Address } from '../../machines/protocol.ts';
import { CompiledMachine, type CompiledSnapshot } from './compiled.ts';

/** The answer of a behavior whose current state cannot take the message: the bus keeps it for later. */
export const DEFER: unique symbol = Symbol.for('svasim.defer');
/** The type of {@link DEFER}. */
export type Defer = typeof DEFER;

/** Any message on the bus: a dotted `type` and payload fields beside it (as in the log). */
export interface BusMessage {
  readonly type: string;
  readonly [field: string]: unknown;
}
/** A message an actor sends: a message and the address it goes to. */
export type Sent<M extends BusMessage = BusMessage> = M & { readonly to: Address };

/** What a device model's actor starts from (its scenario device; `options` is the device's `options`). */
export interface DeviceModelInput<O = Readonly<Record<string, unknown>>> {
  readonly device: string;
  readonly wqSize: number;
  readonly threshold: number;
  readonly autoComplete: boolean;
  readonly options: O;
}
/** What a scenario's actor of a registered kind starts from (`options` is its `options`). */
export interface ActorInput<O = Readonly<Record<string, unknown>>> {
  readonly name: string;
  readonly options: O;
}
/** What an actor created by its kind's birth message starts from: its name and that message. */
export interface BornInput<M extends BusMessage = BusMessage> {
  readonly name: string;
  readonly message: M;
}

/** An xstate-style state value: a state name, or nested `{ parent: child }` objects. */
export type StateValue = string | { readonly [key: string]: StateValue };

/**
 * How one kind of actor is stepped. A behavior is shared by every actor of its kind; the per-actor data is
 * the state `S` the bus keeps for each address. States are values: a step returns a new state object for
 * any change and never mutates the one it was given (checkpoints and what-if share them).
 */
export interface Behavior<S = unknown, In extends BusMessage = BusMessage, Out extends Sent = Sent> {
  /** A new actor's state. `input` is what its creator gave (a birth message's fields, a device's config). */
  initial(input: unknown, self: Address): S;
  /**
   * Handle `message` in `state`: the next state (the same object when nothing changed), or {@link DEFER}
   * when the current state cannot take it (then `out` must stay untouched). Messages to send are pushed
   * onto `out`, in order. `from` is the sender's address. A programming error is thrown (the run stops
   * with it); a kernel fault is a message.
   */
  step(state: S, message: In, out: Out[], self: Address, from: Address): S | Defer;
  /** A JSON value from which {@link restore} rebuilds the state (checkpoints, `snapshot()`). */
  persist(state: S): unknown;
  restore(persisted: unknown, self: Address): S;
  /** The state's name (dotted when nested) as the views, the trace and the inspector show it. */
  value(state: S): StateValue;
  /** The data the views, the monitors and the inspector read. */
  context(state: S): unknown;
  /** The statechart, when the behavior steps an xstate machine (the inspector and `diagram` draw it). */
  readonly machine?: AnyStateMachine | undefined;
}

/** How a machine's actors are stepped: svasim's compiled executor (default) or xstate's interpreter. */
export type EngineKind = 'compiled' | 'xstate';

/**
 * The actor scope one behavior's machine actions run in. `emit` pushes onto the output list of the step
 * in progress; `defer`red actions (xstate defers `emit`) run at the end of the step, in order.
 */
class MachineScope {
  readonly scope: AnyActorScope;
  out: Sent[] | null = null;
  private readonly deferred: (() => void)[] = [];

  constructor(machine: AnyStateMachine) {
    // `self` and `system` come from one idle, empty host actor: actions may read them, none of ours does.
    const host = createActor(createMachine({}));
    this.scope = {
      self: host,
      id: '',
      sessionId: '',
      logger: () => {},
      system: host.system,
      stopChild: () => {
        throw new Error(`${machine.id}: a machine stepped by svasim has no child actors`);
      },
      defer: (fn) => {
        this.deferred.push(fn);
      },
      emit: (ev) => {
        if (this.out === null) throw new Error(`${machine.id} emitted ${ev.type} outside a step`);
        this.out.push(ev as Sent);
      },
      actionExecutor: (action) => {
        action.exec?.(action.info, action.params);
      },
    };
  }

  /** Run `fn` with emits going to `out`: actions execute, then the deferred ones in order. */
  run<T>(out: Sent[] | null, fn: () => T): T {
    this.out = out;
    try {
      const r = fn();
      for (let i = 0; i < this.deferred.length; i++) this.deferred[i]?.();
      return r;
    } finally {
      this.deferred.length = 0;
      this.out = null;
    }
  }
}

type MachineSnapshot = ReturnType<AnyStateMachine['transition']>;

/** An xstate machine stepped by xstate's own `transition` (the reference the compiled executor is held to). */
class InterpretedMachine implements Behavior<MachineSnapshot> {
  private readonly ms: MachineScope;
  constructor(readonly machine: AnyStateMachine) {
    this.ms = new MachineScope(machine);
  }
  initial(input: unknown): MachineSnapshot {
    const s = this.ms.run(null, () => this.machine.getInitialSnapshot(this.ms.scope, input)) as MachineSnapshot;
    if (s.status === 'error') throw s.error instanceof Error ? s.error : new Error(String(s.error));
    return s;
  }
  step(state: MachineSnapshot, message: BusMessage, out: Sent[]): MachineSnapshot | Defer {
    if (this.machine.getTransitionData(state, message).length === 0) return DEFER;
    const next = this.ms.run(out, () => this.machine.transition(state, message, this.ms.scope));
    if (next.status === 'error') throw next.error instanceof Error ? next.error : new Error(String(next.error));
    return next;
  }
  persist(state: MachineSnapshot): unknown {
    return this.machine.getPersistedSnapshot(state);
  }
  restore(persisted: unknown): MachineSnapshot {
    return this.ms.run(null, () => this.machine.restoreSnapshot(persisted as Snapshot<unknown>, this.ms.scope)) as MachineSnapshot;
  }
  value(state: MachineSnapshot): StateValue {
    return state.value as StateValue;
  }
  context(state: MachineSnapshot): unknown {
    return state.context;
  }
}

/** An xstate machine run by svasim's compiled executor (same messages and states as xstate: tested). */
class CompiledBehavior implements Behavior<CompiledSnapshot> {
  private readonly ms: MachineScope;
  constructor(
    readonly machine: AnyStateMachine,
    private readonly compiled: CompiledMachine,
  ) {
    this.ms = new MachineScope(machine);
  }
  initial(input: unknown, self: Address): CompiledSnapshot {
    // The initial snapshot comes from xstate itself (context factory, initial entry actions).
    const first = this.ms.run(null, () => this.machine.getInitialSnapshot(this.ms.scope, input)) as MachineSnapshot;
    if (first.status !== 'active') throw new Error(`${self}: initial snapshot is ${first.status}`);
    return this.compiled.fromValue(first.value, first.context as Record<string, unknown>);
  }
  step(state: CompiledSnapshot, message: BusMessage, out: Sent[]): CompiledSnapshot | Defer {
    return this.compiled.take(state, message, this.ms.scope, out) ?? DEFER;
  }
  persist(state: CompiledSnapshot): unknown {
    return this.compiled.persisted(state);
  }
  restore(persisted: unknown, self: Address): CompiledSnapshot {
    const p = persisted as { readonly value: unknown; readonly context: Record<string, unknown>; readonly status?: string };
    if (p.status !== undefined && p.status !== 'active') throw new Error(`${self}: cannot restore a ${p.status} snapshot`);
    return this.compiled.fromValue(p.value, p.context);
  }
  value(state: CompiledSnapshot): StateValue {
    return state.value as StateValue;
  }
  context(state: CompiledSnapshot): unknown {
    return state.context;
  }
}

const BEHAVIORS = { compiled: new WeakMap<AnyStateMachine, Behavior>(), xstate: new WeakMap<AnyStateMachine, Behavior>() };

/**
 * The behavior of an xstate v5 machine: its actors start from `machine.getInitialSnapshot(input)` and
 * take a message when a transition of their current state is enabled for it; `emit({ type, …, to })`
 * sends. With `engine: 'compiled'` (the default) the machine runs on svasim's compiled executor when it
 * stays within the subset that executor supports (no parallel or history states, invoked or spawned
 * children, delayed events…), else on xstate's interpreter. One behavior per machine and engine.
 */
export function fromMachine(machine: AnyStateMachine, options: { readonly engine?: EngineKind | undefined } = {}): Behavior {
  const engine = options.engine ?? 'compiled';
  let b = BEHAVIORS[engine].get(machine);
  if (b === undefined) {
    const compiled = engine === 'compiled' ? CompiledMachine.compile(machine) : null;
    b = (compiled !== null ? new CompiledBehavior(machine, compiled) : new InterpretedMachine(machine)) as Behavior;
    BEHAVIORS[engine].set(machine, b);
  }
  return b;
}

/**
 * A decider (Chassaing's pattern, with the message as both command and event): plain functions over a
 * state that is JSON data.
 */
export interface Decider<S, In extends BusMessage = BusMessage, Out extends Sent = Sent, I = unknown> {
  /**
   * A new actor's state, from its input: {@link DeviceModelInput} for a device model, {@link ActorInput}
   * for a scenario's actor, {@link BornInput} for one its kind's birth message created.
   */
  initialState(input: I, self: Address): S;
  /** The messages to send in answer to `message` (sent by `from`) in `state` (none: `[]`), or {@link DEFER} to wait. */
  decide(message: In, state: S, self: Address, from: Address): readonly Out[] | Defer;
  /** The state after `message` was taken (return `state` itself when nothing changes). */
  evolve(state: S, message: In): S;
  /** The state's name for views and the inspector (default: `"active"`). */
  stateName?(state: S): StateValue;
}

/**
 * The behavior of a {@link Decider}. Its state is persisted as itself (it must be JSON data: checkpoints
 * write it out and read it back).
 */
export function fromDecider<S, In extends BusMessage = BusMessage, Out extends Sent = Sent, I = unknown>(d: Decider<S, In, Out, I>): Behavior<S, In, Out> {
  return {
    // The input's shape is the kind's contract (what svasim passes a device model, an actor, a birth).
    initial: (input, self) => d.initialState(input as I, self),
    step(state, message, out, self, from) {
      const sent = d.decide(message, state, self, from);
      if (sent === DEFER) return DEFER;
      if (!Array.isArray(sent)) throw new TypeError(`decide returned ${sent === undefined ? 'undefined' : typeof sent}: expected an array of messages (or DEFER)`);
      const next = d.evolve(state, message);
      for (const m of sent) out.push(m);
      return next;
    },
    persist: (state) => state,
    restore: (persisted) => persisted as S,
    value: (state) => (d.stateName ? d.stateName(state) : 'active'),
    context: (state) => state,
  };
}
