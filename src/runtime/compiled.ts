/**
 * A compiled executor for xstate v5 machine definitions: the same statecharts, stepped without xstate's
 * general-purpose interpreter.
 *
 * xstate's `machine.transition(snapshot, event, scope)` recomputes, for every event, the candidate
 * transitions of each active state node, the exit and entry sets, the state value, a set of tags and a
 * new snapshot object with bound methods (measured on this project's 2-core machine: 2-6 µs per event,
 * half of a run's time). For a statechart that does not change, all of that except the guards and the
 * actions depends only on (active leaf state, selected transition). `compile(machine)` therefore reads
 * the machine's own state nodes once (their `transitions`, `always`, `entry`, `exit`, `initial`, `order`)
 * and `transition()` does, per event, only what depends on the event: pick the first enabled candidate
 * (deepest state first, document order, guards evaluated as xstate does), run the exit, transition and
 * entry actions in xstate's order (assign updates the context in place of the next action, emit is
 * deferred until the macrostep ends, `enqueueActions` collects then runs), then the eventless
 * (`always`) transitions and the `xstate.done.state.*` events of entered final states, until stable:
 * the macrostep of https://www.w3.org/TR/scxml/#microstepProcedure as xstate implements it.
 *
 * The xstate machine stays the definition and the reference: initial snapshots are made by xstate,
 * persisted snapshots are xstate's own format, and a machine using anything outside the supported
 * subset (parallel or history states, invoked or spawned actors, delayed transitions, wildcard events,
 * raise / sendTo / log actions, `stateIn` guards, a final state at the root) is not compiled: the
 * runtime then steps it with `machine.transition` (`unsupported()` says why). The test suite checks
 * that both engines give byte-identical logs and equal snapshots (test/runtime/compiled.test.ts), and
 * `svasim run --engine xstate` runs everything through xstate's interpreter.
 */
import { and, not, or, type AnyStateMachine, type EventObject, type MachineContext, type StateNode } from 'xstate';

type Node = StateNode;
/** The fields of xstate's TransitionDefinition that the executor reads. */
interface Transition {
  readonly source: Node;
  readonly target?: readonly Node[] | undefined;
  readonly actions: readonly unknown[];
  readonly reenter?: boolean;
  readonly guard?: unknown;
}
type Context = MachineContext;

/** What actions may read besides context and event (xstate's `self` and `system`). */
export interface ExecutionScope {
  readonly self: unknown;
  readonly system: unknown;
}

/** Built-in guard combinators, recognised by their shared `check` functions. */
const checkOf = (g: unknown): unknown => (g as { check?: unknown }).check;
const NOT = checkOf(not(() => true));
const AND = checkOf(and([() => true]));
const OR = checkOf(or([() => true]));

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
const prop = (x: unknown, k: string): unknown => (typeof x === 'function' || isRecord(x) ? (x as Record<string, unknown>)[k] : undefined);

/** An action queued by `enqueueActions` (kept as data, not as an xstate action object). */
class Enqueued {
  constructor(
    readonly kind: 'assign' | 'emit',
    readonly arg: unknown,
  ) {}
}

function unsupportedEnqueue(name: string): () => never {
  return () => {
    throw new Error(`${name} is not supported by svasim's compiled engine (run with --engine xstate)`);
  };
}
const NO_SPAWN = unsupportedEnqueue('spawn (in assign)');
/** The `enqueue.*` helpers the compiled engine does not run (made once, shared by every call). */
const UNSUPPORTED_ENQUEUE = Object.fromEntries(
  ['cancel', 'raise', 'sendTo', 'sendParent', 'spawnChild', 'stopChild'].map((k) => [k, unsupportedEnqueue(`enqueue.${k}`)]),
);

/** The effect of a transition from one leaf: the states exited and entered, and the new leaf. */
interface Plan {
  /** Exited states, deepest first (their `exit` actions run in this order). */
  readonly exit: readonly Node[];
  /** Entered states, outermost first; `initial` marks default entry (its initial transition's actions run). */
  readonly entry: readonly { readonly node: Node; readonly initial: boolean }[];
  readonly leaf: Leaf;
}

/** An active configuration: one atomic (or final) state and its ancestors. */
class Leaf {
  /** Candidate transitions per event type, the leaf's own first, then each ancestor's (xstate's order). */
  readonly on = new Map<string, readonly Transition[]>();
  /** Eventless transitions, leaf first. */
  readonly always: readonly Transition[];
  readonly plans = new Map<Transition, Plan>();

  constructor(
    readonly node: Node,
    /** The leaf and its ancestors, innermost first. */
    readonly chain: readonly Node[],
    /** xstate's state value for this configuration ('running', or { alive: 'idle' }). */
    readonly value: string | Readonly<Record<string, unknown>>,
  ) {
    const types = new Set<string>();
    for (const n of chain) for (const k of n.transitions.keys()) types.add(k);
    for (const type of types) {
      const list: Transition[] = [];
      for (const n of chain) list.push(...((n.transitions.get(type) ?? []) as readonly Transition[]));
      this.on.set(type, list);
    }
    const always: Transition[] = [];
    for (const n of chain) always.push(...((n.always ?? []) as readonly Transition[]));
    this.always = always;
  }
}

/** A snapshot of a compiled actor: its configuration and context (immutable; replaced on change). */
export class CompiledSnapshot {
  constructor(
    readonly compiled: CompiledMachine,
    readonly leaf: Leaf,
    readonly context: Context,
  ) {}
  get value(): string | Readonly<Record<string, unknown>> {
    return this.leaf.value;
  }
  /** Always active: a compiled machine has no top-level final state, and errors are thrown. */
  get status(): 'active' {
    return 'active';
  }
  /** xstate's `snapshot.can(event)`: some enabled transition has a target or actions. */
  can(event: EventObject): boolean {
    const t = this.compiled.select(this.leaf.on.get(event.type), this.context, event);
    return t !== undefined && (t.target !== undefined || t.actions.length > 0);
  }
}

/** xstate's isDescendant, exactly: with no ancestor (a reentering root transition) every node is one. */
const isDescendant = (child: Node, ancestor: Node | undefined): boolean => {
  let m = child;
  while (m.parent && m.parent !== ancestor) m = m.parent;
  return m.parent === ancestor;
};

function properAncestors(n: Node, upTo: Node | undefined): Node[] {
  const out: Node[] = [];
  if (n === upTo) return out;
  for (let m = n.parent; m && m !== upTo; m = m.parent) out.push(m);
  return out;
}

function initialTransition(n: Node): Transition | undefined {
  return n.type === 'compound' ? (n.initial as unknown as Transition) : undefined;
}

/** Why xstate's own interpreter must run this machine, or `null` if it compiles. */
export function unsupported(machine: AnyStateMachine): string | null {
  const impl = machine.implementations as { actions: Record<string, unknown>; guards: Record<string, unknown> };
  const checkAction = (a: unknown, where: string): string | null => {
    let fn: unknown = a;
    if (typeof a === 'string') fn = impl.actions[a];
    else if (isRecord(a) && typeof a.type === 'string') fn = impl.actions[a.type];
    if (fn === undefined || typeof fn !== 'function') return null;
    if (!('resolve' in fn)) return null;
    const type = prop(fn, 'type');
    if (type === 'xstate.assign' || type === 'xstate.emit' || type === 'xstate.enqueueActions') return null;
    return `${where}: action ${String(type)}`;
  };
  const checkGuard = (g: unknown, where: string, depth = 0): string | null => {
    if (g === undefined) return null;
    if (depth > 32) return `${where}: guard nesting`;
    let fn: unknown = g;
    if (typeof g === 'string') fn = impl.guards[g];
    else if (isRecord(g) && typeof g.type === 'string') fn = impl.guards[g.type];
    if (typeof fn === 'string' || isRecord(fn)) return checkGuard(fn, where, depth + 1);
    if (typeof fn !== 'function') return `${where}: guard not implemented`;
    const check = checkOf(fn);
    if (check === undefined) return null;
    if (check !== NOT && check !== AND && check !== OR) return `${where}: built-in guard`;
    for (const inner of (prop(fn, 'guards') as readonly unknown[] | undefined) ?? []) {
      const r = checkGuard(inner, where, depth + 1);
      if (r) return r;
    }
    return null;
  };
  const checkTransition = (t: Transition, where: string): string | null => {
    if ((t.target?.length ?? 0) > 1) return `${where}: several targets`;
    if (t.target?.some((n) => n.type === 'history')) return `${where}: history target`;
    for (const a of t.actions) {
      const r = checkAction(a, where);
      if (r) return r;
    }
    return checkGuard(t.guard, where);
  };
  const visit = (n: Node): string | null => {
    const where = `#${n.id}`;
    if (n.type === 'parallel' || n.type === 'history') return `${where}: ${n.type} state`;
    if (n.type === 'final' && (n.parent === undefined || n.parent.parent === undefined)) return `${where}: final state at the top level`;
    if (n.type === 'final' && n.output !== undefined) return `${where}: final state output`;
    if (n.invoke.length > 0) return `${where}: invoke`;
    if (n.after.length > 0) return `${where}: delayed transition`;
    for (const a of [...n.entry, ...n.exit, ...(initialTransition(n)?.actions ?? [])]) {
      const r = checkAction(a, where);
      if (r) return r;
    }
    for (const [type, ts] of n.transitions) {
      if (type === '*' || type.endsWith('.*')) return `${where}: wildcard event ${type}`;
      for (const t of ts as readonly Transition[]) {
        const r = checkTransition(t, `${where} on ${type}`);
        if (r) return r;
      }
    }
    for (const t of (n.always ?? []) as readonly Transition[]) {
      const r = checkTransition(t, `${where} always`);
      if (r) return r;
    }
    for (const child of Object.values(n.states)) {
      const r = visit(child);
      if (r) return r;
    }
    return null;
  };
  if (Object.keys(machine.root.states).length === 0) return 'a machine without states';
  // Every implementation, referenced or not: an `enqueueActions` body may name any of them at run time.
  for (const name of Object.keys(impl.actions)) {
    const r = checkAction(name, `action ${name}`);
    if (r) return r;
  }
  for (const name of Object.keys(impl.guards)) {
    const r = checkGuard(name, `guard ${name}`);
    if (r) return r;
  }
  return visit(machine.root);
}

const COMPILED = new WeakMap<AnyStateMachine, CompiledMachine | null>();

/** The compiled form of one machine: its leaves (configurations) and their transition plans. */
export class CompiledMachine {
  private readonly leaves = new Map<Node, Leaf>();
  private readonly byValue = new Map<string, Leaf>();
  private readonly actionImpl: Readonly<Record<string, unknown>>;
  private readonly guardImpl: Readonly<Record<string, unknown>>;
  /** xstate's `options.maxIterations`: microsteps per macrostep before it reports an infinite loop. */
  private readonly maxIterations: number;

  private constructor(readonly machine: AnyStateMachine) {
    this.maxIterations = (machine.options as { maxIterations?: number } | undefined)?.maxIterations ?? Number.POSITIVE_INFINITY;
    const impl = machine.implementations as { actions: Record<string, unknown>; guards: Record<string, unknown> };
    this.actionImpl = impl.actions;
    this.guardImpl = impl.guards;
    const walk = (n: Node): void => {
      if (n.type === 'atomic' || n.type === 'final') {
        const leaf = this.leafFor(n);
        this.byValue.set(JSON.stringify(leaf.value), leaf);
      }
      for (const child of Object.values(n.states)) walk(child);
    };
    walk(machine.root);
  }

  /**
   * The compiled machine, or `null` when it uses something only xstate's interpreter runs. Compiled once
   * per machine object (a machine definition is immutable), so every system shares the leaves and plans.
   */
  static compile(machine: AnyStateMachine): CompiledMachine | null {
    let c = COMPILED.get(machine);
    if (c === undefined) {
      c = unsupported(machine) === null ? new CompiledMachine(machine) : null;
      COMPILED.set(machine, c);
    }
    return c;
  }

  private leafFor(n: Node): Leaf {
    let leaf = this.leaves.get(n);
    if (leaf === undefined) {
      const chain: Node[] = [];
      for (let m: Node | undefined = n; m; m = m.parent) chain.push(m);
      // The state value: the leaf's key, wrapped in each ancestor's key below the root.
      let value: string | Record<string, unknown> = n.key;
      for (let i = 1; i < chain.length - 1; i++) {
        const anc = chain[i];
        if (anc) value = Object.freeze({ [anc.key]: value });
      }
      leaf = new Leaf(n, chain, value);
      this.leaves.set(n, leaf);
    }
    return leaf;
  }

  /** The snapshot for an xstate state value and context (restoring a persisted snapshot). */
  fromValue(value: unknown, context: Context): CompiledSnapshot {
    const leaf = this.byValue.get(JSON.stringify(value));
    if (leaf === undefined) throw new Error(`${this.machine.id}: no state ${JSON.stringify(value)}`);
    return new CompiledSnapshot(this, leaf, context);
  }

  /** xstate's persisted form of a compiled snapshot (what checkpoints store). */
  persisted(s: CompiledSnapshot): unknown {
    return this.machine.getPersistedSnapshot(this.machine.resolveState({ value: s.value as never, context: s.context }));
  }

  /**
   * The first enabled candidate for an event (xstate's `StateNode.next`, deepest state first); a guard
   * that throws is reported as xstate reports it.
   */
  select(candidates: readonly Transition[] | undefined, context: Context, event: EventObject): Transition | undefined {
    if (candidates === undefined) return undefined;
    for (const t of candidates) {
      if (t.guard === undefined) return t;
      let passed: boolean;
      try {
        passed = this.guard(t.guard, context, event);
      } catch (err) {
        const g = t.guard;
        const name = typeof g === 'string' ? g : isRecord(g) ? prop(g, 'type') : undefined;
        const message = err instanceof Error ? err.message : String(err);
        throw new Error(`Unable to evaluate guard ${name !== undefined ? `'${String(name)}' ` : ''}in transition for event '${event.type}' in state node '${t.source.id}':\n${message}`);
      }
      if (passed) return t;
    }
    return undefined;
  }

  /** The first enabled eventless transition (xstate's selectEventlessTransitions: guards unwrapped). */
  private selectAlways(candidates: readonly Transition[], context: Context, event: EventObject): Transition | undefined {
    for (const t of candidates) if (t.guard === undefined || this.guard(t.guard, context, event)) return t;
    return undefined;
  }

  /**
   * One macrostep: the event's transition, then eventless transitions and done events until stable.
   * Emitted events are appended to `out` (xstate defers them to the end of the step too). Returns `s`
   * itself when no microstep changed the configuration or the context (xstate then returns the same
   * snapshot object).
   */
  transition(s: CompiledSnapshot, event: EventObject, scope: ExecutionScope, out: EventObject[]): CompiledSnapshot {
    const t = this.enabled(s, event);
    // Nothing to do unless an eventless transition may now be enabled (xstate selects them after every
    // macrostep's first microstep, even an empty one).
    if (t === undefined && s.leaf.always.length === 0) return s;
    return this.macrostep(s, t, event, scope, out);
  }

  /**
   * The actor contract's step (src/runtime/actor.ts): `null` when no transition of the current state is
   * enabled for `event` (not taken: the runtime defers it, and nothing runs), else {@link transition}'s
   * macrostep. "Enabled" is xstate's `machine.getTransitionData(snapshot, event)` being non-empty, so a
   * targetless transition without actions is taken too.
   */
  take(s: CompiledSnapshot, event: EventObject, scope: ExecutionScope, out: EventObject[]): CompiledSnapshot | null {
    const t = this.enabled(s, event);
    if (t === undefined) return null;
    return this.macrostep(s, t, event, scope, out);
  }

  /** Whether {@link take} would take `event` in `s` (xstate: `getTransitionData(s, event).length > 0`). */
  takes(s: CompiledSnapshot, event: EventObject): boolean {
    return this.enabled(s, event) !== undefined;
  }

  /** The transition the event selects in the current state (deepest state first), if any. */
  private enabled(s: CompiledSnapshot, event: EventObject): Transition | undefined {
    if (event.type === 'xstate.stop' || event.type === 'xstate.init' || event.type.startsWith('xstate.error.')) {
      // These have meanings of their own in xstate's macrostep (stop, initial, error status).
      throw new Error(`${this.machine.id}: the compiled engine does not take the reserved event ${event.type} (run with --engine xstate)`);
    }
    return this.select(s.leaf.on.get(event.type), s.context, event);
  }

  private macrostep(s: CompiledSnapshot, t: Transition | undefined, event: EventObject, scope: ExecutionScope, out: EventObject[]): CompiledSnapshot {
    const step = new Step(this, scope, out, s.leaf, s.context);
    if (t !== undefined) step.micro(t, event);
    let ev = event;
    let eventless = true;
    let iterations = 0;
    for (;;) {
      if (++iterations > this.maxIterations) {
        throw new Error(`Infinite loop detected: the machine has processed more than ${this.maxIterations} microsteps without reaching a stable state. This usually happens when there's a cycle of transitions (e.g., eventless transitions or raised events causing state A -> B -> C -> A).`);
      }
      let next: Transition | undefined = eventless ? this.selectAlways(step.leaf.always, step.context, ev) : undefined;
      const wasEventless: boolean = next !== undefined;
      if (next === undefined) {
        const queued = step.queue.shift();
        if (queued === undefined) break;
        ev = queued;
        next = this.select(step.leaf.on.get(ev.type), step.context, ev);
      }
      const changes = step.changes;
      if (next !== undefined) step.micro(next, ev);
      eventless = !wasEventless || step.changes !== changes;
    }
    if (step.changes === 0) return s;
    return new CompiledSnapshot(this, step.leaf, step.context);
  }

  /** The exits, entries and new leaf of transition `t` taken from `leaf` (computed once, then cached). */
  plan(leaf: Leaf, t: Transition): Plan {
    let p = leaf.plans.get(t);
    if (p === undefined) {
      p = this.makePlan(leaf, t);
      leaf.plans.set(t, p);
    }
    return p;
  }

  private makePlan(leaf: Leaf, t: Transition): Plan {
    const target = t.target?.[0];
    const src = t.source;
    if (target === undefined) throw new Error('a targetless transition has no plan');
    // getTransitionDomain
    let domain: Node | undefined;
    if (!t.reenter && (target === src || isDescendant(target, src))) domain = src;
    else {
      domain = properAncestors(target, undefined).find((a) => isDescendant(src, a));
      if (domain === undefined) domain = t.reenter ? undefined : this.machine.root;
    }
    // computeExitSet
    const exit = leaf.chain.filter((n) => isDescendant(n, domain) || (t.reenter === true && n === src && src === domain));
    exit.sort((a, b) => b.order - a.order);
    // computeEntrySet
    const enter = new Map<Node, boolean>();
    if (src !== target || src !== domain || t.reenter === true) enter.set(target, true);
    for (let n: Node = target; n.type === 'compound'; ) {
      const first = initialTransition(n)?.target?.[0];
      if (first === undefined) throw new Error(`#${n.id}: no initial state`);
      enter.set(first, true);
      n = first;
    }
    const reentrancy = src.parent === undefined && t.reenter === true ? undefined : domain;
    for (const anc of properAncestors(target, domain)) if (reentrancy === undefined || isDescendant(anc, reentrancy)) if (!enter.has(anc)) enter.set(anc, false);
    const entry = [...enter].map(([node, initial]) => ({ node, initial })).sort((a, b) => a.node.order - b.node.order);
    // The new configuration: what stays active plus what is entered; a chain with one atomic leaf.
    const active = new Set(leaf.chain.filter((n) => !exit.includes(n)));
    for (const e of entry) active.add(e.node);
    const atoms = [...active].filter((n) => n.type === 'atomic' || n.type === 'final');
    const next = atoms[0];
    if (atoms.length !== 1 || next === undefined) throw new Error(`${this.machine.id}: transition from #${leaf.node.id} to #${target.id} leaves ${atoms.length} atomic states`);
    return { exit, entry, leaf: this.leafFor(next) };
  }

  // ---- guards and actions, resolved as xstate's evaluateGuard / resolveAndExecuteActionsWithContext ----

  guard(g: unknown, context: Context, event: EventObject): boolean {
    if (typeof g === 'function') {
      const check = checkOf(g);
      if (check === undefined) return (g as (a: { context: Context; event: EventObject }, p: unknown) => boolean)({ context, event }, undefined);
      return this.builtinGuard(g, check, context, event);
    }
    const name = typeof g === 'string' ? g : String(prop(g, 'type'));
    const resolved = this.guardImpl[name];
    if (resolved === undefined) throw new Error(`Guard '${name}' is not implemented.'.`);
    if (typeof resolved !== 'function') return this.guard(resolved, context, event);
    const p = typeof g === 'string' ? undefined : params(g, context, event);
    const check = checkOf(resolved);
    if (check !== undefined) return this.builtinGuard(resolved, check, context, event);
    return (resolved as (a: { context: Context; event: EventObject }, p: unknown) => boolean)({ context, event }, p);
  }

  private builtinGuard(g: unknown, check: unknown, context: Context, event: EventObject): boolean {
    const inner = (prop(g, 'guards') as readonly unknown[] | undefined) ?? [];
    if (check === NOT) return !this.guard(inner[0], context, event);
    if (check === AND) return inner.every((x) => this.guard(x, context, event));
    if (check === OR) return inner.some((x) => this.guard(x, context, event));
    throw new Error(`${this.machine.id}: a built-in guard the compiled engine does not run`);
  }

  /**
   * Run an `enqueueActions` body and return what it queued. One `enqueue` function serves every call
   * (built once: creating closures per call costs more than the actions). Bodies run one at a time:
   * the queued actions run after the body returns, so a nested `enqueueActions` starts afresh.
   */
  collect(body: unknown, context: Context, event: EventObject, scope: ExecutionScope, p: unknown): unknown[] {
    const c = this.collector;
    const list: unknown[] = [];
    c.list = list;
    c.context = context;
    c.event = event;
    try {
      (body as (a: unknown, p: unknown) => void)({ context, event, enqueue: c.enqueue, check: c.check, self: scope.self, system: scope.system }, p);
    } finally {
      c.list = null;
    }
    return list;
  }

  private readonly collector = new Collector(this);

  /** The implementation an action names (`undefined`: xstate runs nothing for it either). */
  resolveAction(a: unknown): unknown {
    if (typeof a === 'string') return this.actionImpl[a];
    if (typeof a === 'function') return a;
    if (isRecord(a) && typeof a.type === 'string') return this.actionImpl[a.type];
    return undefined;
  }
}

function params(a: unknown, context: Context, event: EventObject): unknown {
  if (!isRecord(a) || !('params' in a)) return undefined;
  const p = a.params;
  return typeof p === 'function' ? (p as (x: { context: Context; event: EventObject }) => unknown)({ context, event }) : p;
}

/** The `enqueue` and `check` handed to `enqueueActions` bodies (one per compiled machine). */
class Collector {
  list: unknown[] | null = null;
  context: Context = {};
  event: EventObject = { type: '' };
  readonly enqueue: (action: unknown) => void;
  readonly check: (g: unknown) => boolean;

  constructor(m: CompiledMachine) {
    const into = (): unknown[] => {
      if (this.list === null) throw new Error('enqueue called after its enqueueActions body returned');
      return this.list;
    };
    this.enqueue = Object.assign((action: unknown): void => void into().push(action), {
      ...UNSUPPORTED_ENQUEUE,
      assign: (x: unknown): void => void into().push(new Enqueued('assign', x)),
      emit: (x: unknown): void => void into().push(new Enqueued('emit', x)),
    });
    this.check = (g: unknown): boolean => m.guard(g, this.context, this.event);
  }
}

/** The state of one macrostep in progress. */
class Step {
  readonly queue: EventObject[] = [];

  constructor(
    private readonly m: CompiledMachine,
    private readonly scope: ExecutionScope,
    private readonly out: EventObject[],
    public leaf: Leaf,
    public context: Context,
  ) {}

  /** How many microsteps changed the configuration or the context (xstate: made a new snapshot). */
  changes = 0;

  micro(t: Transition, event: EventObject): void {
    const leaf = this.leaf;
    const context = this.context;
    this.microstep(t, event);
    if (this.leaf !== leaf || this.context !== context) this.changes++;
  }

  private microstep(t: Transition, event: EventObject): void {
    if (t.target === undefined || t.target.length === 0) {
      this.run(t.actions, event);
      return;
    }
    const p = this.m.plan(this.leaf, t);
    for (const n of p.exit) this.run(n.exit, event);
    this.run(t.actions, event);
    for (const { node, initial } of p.entry) {
      this.run(node.entry, event);
      if (initial) {
        const it = initialTransition(node);
        if (it) this.run(it.actions, event);
      }
      if (node.type === 'final' && node.parent?.type === 'compound') this.queue.push({ type: `xstate.done.state.${node.parent.id}`, output: undefined } as EventObject);
    }
    this.leaf = p.leaf;
  }

  run(actions: readonly unknown[], event: EventObject): void {
    for (const a of actions) this.one(a, event);
  }

  private one(a: unknown, event: EventObject): void {
    if (a instanceof Enqueued) {
      if (a.kind === 'assign') this.assign(a.arg, event, undefined);
      else this.emit(a.arg, event, undefined);
      return;
    }
    const fn = this.m.resolveAction(a);
    // Params first: xstate evaluates them even for an action with no implementation.
    const p = typeof a === 'string' || typeof a === 'function' ? undefined : params(a, this.context, event);
    if (typeof fn !== 'function') return;
    if (!('resolve' in fn)) {
      (fn as (args: unknown, params: unknown) => void)({ context: this.context, event, self: this.scope.self, system: this.scope.system }, p);
      return;
    }
    switch (prop(fn, 'type')) {
      case 'xstate.assign':
        this.assign(prop(fn, 'assignment'), event, p);
        return;
      case 'xstate.emit':
        this.emit(prop(fn, 'event'), event, p);
        return;
      case 'xstate.enqueueActions':
        this.enqueue(prop(fn, 'collect'), event, p);
        return;
      default:
        throw new Error(`${this.m.machine.id}: action ${String(prop(fn, 'type'))} is not supported by the compiled engine`);
    }
  }

  private assign(assignment: unknown, event: EventObject, p: unknown): void {
    const args = { context: this.context, event, spawn: NO_SPAWN, self: this.scope.self, system: this.scope.system };
    let partial: Record<string, unknown>;
    if (typeof assignment === 'function') partial = (assignment as (a: unknown, p: unknown) => Record<string, unknown>)(args, p);
    else {
      partial = {};
      const spec = assignment as Record<string, unknown>;
      for (const key of Object.keys(spec)) {
        const v = spec[key];
        partial[key] = typeof v === 'function' ? (v as (a: unknown, p: unknown) => unknown)(args, p) : v;
      }
    }
    // A spread, not Object.assign({}, …): V8 clones the context's map for a spread, while
    // Object.assign adds the fields one by one and turns an object of more than ~12 of them (the
    // mm's context has 22) into a dictionary — every later read of it slow (10x per assign, measured).
    this.context = { ...this.context, ...partial };
  }

  private emit(e: unknown, event: EventObject, p: unknown): void {
    const ev = typeof e === 'function' ? (e as (a: unknown, p: unknown) => EventObject)({ context: this.context, event, self: this.scope.self, system: this.scope.system }, p) : (e as EventObject);
    this.out.push(ev);
  }

  private enqueue(collect: unknown, event: EventObject, p: unknown): void {
    const list = this.m.collect(collect, this.context, event, this.scope, p);
    this.run(list, event);
  }

}
