/**
 * svasim as an xstate v5 actor: {@link fromSvasim} makes an `ActorLogic` that runs a whole svasim system
 * on one scenario, so a user's machine can `invoke` or `spawnChild` it, drive it with events and hear
 * its messages as events.
 *
 * - Events it takes ({@link SvasimEvent}): `svasim.step` (the next step, or the one in progress, to its
 *   end), `svasim.run` (every remaining step), `svasim.deliver` (one delivery), `svasim.input` (put a
 *   message on svasim's bus as an input). Other event types are ignored, as a machine ignores an event
 *   it has no transition for; a malformed `svasim.*` event or a message its schema refuses is a
 *   programming error: the actor fails (its parent gets `xstate.error.actor.<id>`).
 * - Its snapshot's `context` ({@link SvasimContext}) is a small JSON view: the step counters, the verdict
 *   so far and the whole system state (`systemState`). When every step has run the actor is done: its
 *   `output` is the run's `RunResult` (as `runScenario` returns it, without a log), so `onDone` works.
 * - Every delivered message is emitted (`actor.on(type, …)`) as its log record ({@link SvasimRecord}:
 *   `seq`, `type`, `from`, `to`, `cause`, `step` and the payload beside them) and, by default, also sent
 *   to the parent; `forward` chooses which (a list of types) or maps each to the event the parent gets.
 *   Both happen after the actor's snapshot is updated, in delivery order, before its done event.
 * - In xstate's `inspect` stream each of svasim's actors shows up as a child of this actor (one
 *   `@xstate.actor` for every actor that exists when this actor starts or is restored — quiet ones
 *   included — and for each actor born later, at its birth; `sessionId` `<this actor's
 *   sessionId>/<address>`, the svasim machine as its logic), each delivery as an `@xstate.event` from
 *   the sender's ref to the receiver's, followed by an `@xstate.snapshot` of the receiver (its state
 *   value and context). `user` and `monitor` appear as senders and receivers too, at their first message.
 * - Persistable: `actor.getPersistedSnapshot()` holds the run as JSON data (`System.snapshot()`, the
 *   monitors' memory, the step in progress, the verdict so far: src/interop/resumable.ts), and
 *   `createActor(logic, { snapshot })` (or a restored parent) goes on with the same deliveries.
 *
 * Deterministic: nothing reads a clock or a random source. Sending to the parent and inspection go
 * through xstate's actor-system internals (src/interop/internals.ts), as xstate's own `fromCallback` does.
 */
import { match } from 'ts-pattern';
import { pathToStateValue, type ActorLogic, type ActorRefLike, type AnyActorRef, type AnyStateMachine, type EventObject, type Snapshot } from 'xstate';
import { z } from 'zod';
import type { Address, AnyMessage, Message } from '../../machines/protocol.ts';
import { payloadOf } from '../log/format.ts';
import type { Delivered } from '../runtime/system.ts';
import { systemState, type SystemState } from '../runtime/state.ts';
import { scenarioFromValue } from '../scenario/load.ts';
import type { Failure, RunResult, StepOutcome } from '../runner/run.ts';
import type { Scenario } from '../scenario/types.ts';
import { inspection, relay, type AnyActorSystem, type InspectionEventInput } from './internals.ts';
import { ResumableRun, type ResumableOptions, type ResumableState } from './resumable.ts';

/** What the svasim actor takes. */
export type SvasimEvent =
  /** Run the scenario's next step to its end (or finish the one in progress). */
  | { readonly type: 'svasim.step' }
  /** Run every remaining step. */
  | { readonly type: 'svasim.run' }
  /** Deliver one message (starting the next step when none is in progress). */
  | { readonly type: 'svasim.deliver' }
  /**
   * Put `message` on the bus as an input from `from` (default `user`), to `to`. Within a step in
   * progress it joins that step; otherwise it is delivered to quiescence as a step of its own.
   */
  | { readonly type: 'svasim.input'; readonly message: AnyMessage; readonly to: Address; readonly from?: Address };

/** The svasim actor's input. */
export interface SvasimInput {
  /** The scenario to run (from `loadScenario`; any scenario value is checked by the loader). */
  readonly scenario: Scenario;
}

/** The svasim actor's snapshot context: JSON data. */
export interface SvasimContext {
  /** The scenario's name. */
  readonly name: string;
  /** How many steps the scenario has. */
  readonly steps: number;
  /** The index of the next step to start. */
  readonly nextStep: number;
  /** Whether a step is in progress (`svasim.deliver` left it partly delivered). */
  readonly inStep: boolean;
  /** The seq of the last delivered message. */
  readonly lastSeq: number;
  /** Messages pending / deferred now. */
  readonly pending: number;
  readonly deferred: number;
  /** No failure and no invariant violation so far (`final` is checked at the end). */
  readonly ok: boolean;
  /** Expectation and `forbid` failures so far (with the end, the output's `failures` has them all). */
  readonly failures: readonly Failure[];
  /** The outcome of the last step that ended (`null` before any). */
  readonly lastStep: StepOutcome | null;
  /** Every process, thread, mm, the IOMMU and the work queues (src/runtime/state.ts). */
  readonly state: SystemState;
}

/** The svasim actor's snapshot; `output` (when done) is the run's result. */
export type SvasimSnapshot = Snapshot<RunResult> & { readonly context: SvasimContext };

/** What `getPersistedSnapshot` gives: the snapshot and, while the run goes on, the run as data. */
export type SvasimPersistedSnapshot = SvasimSnapshot & { readonly run: ResumableState | null };

/**
 * A delivered message as an xstate event: its log record, `seq`, `type`, `from`, `to`, `cause` (absent
 * for inputs), `step`, `copy` (observers' copies only) and the message's payload fields beside them. `M` narrows the messages (default:
 * svasim's own; add your kinds' messages when the scenario has actors of registered kinds).
 */
export type SvasimRecord<M extends AnyMessage = Message> = M extends unknown
  ? Omit<M, 'to'> & {
      readonly type: M['type'];
      readonly seq: number;
      readonly from: Address;
      readonly to: Address;
      readonly cause?: number;
      readonly step: number;
      /** An observer's copy of a delivery to one of svasim's actors (its `cause`). */
      readonly copy?: true;
    }
  : never;

/** How the svasim actor runs and what its parent hears. */
export interface SvasimLogicOptions extends ResumableOptions {
  /**
   * What reaches the parent: every delivered message as its {@link SvasimRecord} (default); only the
   * records of these message types; or, per record, the event to send (`undefined`: none).
   */
  readonly forward?: readonly string[] | ((record: SvasimRecord<AnyMessage>) => EventObject | undefined) | undefined;
}

/** The svasim actor's logic: takes {@link SvasimEvent}s, emits {@link SvasimRecord}s. */
export type SvasimLogic<M extends AnyMessage = Message> = ActorLogic<SvasimSnapshot, SvasimEvent, SvasimInput, AnyActorSystem, SvasimRecord<M>>;

/** The log record of a delivery, as an event. */
export function recordEvent(d: Delivered): SvasimRecord<AnyMessage> {
  const head = { seq: d.seq, type: d.msg.type, from: d.from, to: d.to, ...(d.cause === undefined ? {} : { cause: d.cause }), step: d.step, ...(d.copy === true ? { copy: true } : {}) };
  // The routing fields first (the log's order); spread again last so that no payload field replaces one.
  return { ...head, ...payloadOf(d), ...head } as SvasimRecord<AnyMessage>;
}

const ADDRESS = /^(user|kernel|iommu|monitor|[a-z][a-z0-9_-]*:.+)$/;
const address = z.custom<Address>((v) => typeof v === 'string' && ADDRESS.test(v), { message: 'not an address (user, kernel, iommu, monitor or <prefix>:<name>)' });
const message = z.custom<AnyMessage>((v) => typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string', { message: 'not a message ({ type, …payload })' });
/** The events the actor takes, as they must look (the TypeScript type says the same). */
const COMMAND = z.discriminatedUnion('type', [
  z.object({ type: z.literal('svasim.step') }),
  z.object({ type: z.literal('svasim.run') }),
  z.object({ type: z.literal('svasim.deliver') }),
  z.object({ type: z.literal('svasim.input'), message, to: address, from: address.optional() }),
]);
const INPUT = z.object({ scenario: z.unknown().refine((v) => v !== undefined, { message: 'required: a scenario (from loadScenario)' }) });

/** One issue as a line: `path: message`. */
function issueLine(e: z.ZodError): string {
  const first = e.issues[0];
  return first === undefined ? 'invalid' : `${first.path.length > 0 ? `${first.path.join('.')}: ` : ''}${first.message}`;
}

/** One of svasim's actors as the inspection stream shows it: a child of the svasim actor. */
interface ShownActor extends ActorRefLike {
  readonly id: Address;
  readonly _parent: AnyActorRef;
  /** Its statechart, when it is a machine (inspectors draw it from here, as for an xstate actor). */
  readonly logic?: AnyStateMachine;
}

/** A live run and the snapshot that is current for it (an older snapshot of the same actor is stale). */
interface Live {
  readonly run: ResumableRun;
  current: SvasimSnapshot | null;
  /** Deliveries since the last transition began. */
  readonly batch: Delivered[];
  /** The scope of the transition in progress (inspection goes to its system). */
  scope: { readonly self: AnyActorRef; readonly system: AnyActorSystem } | null;
  readonly shown: Map<Address, ShownActor>;
}

/** Each live snapshot's run (xstate keeps snapshots; `getPersistedSnapshot` gets only the snapshot). */
const LIVE = new WeakMap<object, Live>();

/** A dotted state name as an xstate state value (`alive.idle` → `{ alive: 'idle' }`); parallel names stay as they read. */
function stateValue(name: string): unknown {
  return name.includes(',') ? name : pathToStateValue(name.split('.'));
}

function viewOf(run: ResumableRun): SvasimContext {
  const failures = run.failuresSoFar;
  return {
    name: run.scenario.name,
    steps: run.scenario.steps.length,
    nextStep: run.nextStep,
    inStep: run.inStep,
    lastSeq: run.sys.lastSeq,
    pending: run.sys.scheduler.size,
    deferred: run.sys.deferredSize,
    ok: failures.length === 0 && run.violationsSoFar.length === 0,
    failures: [...failures],
    lastStep: run.steps[run.steps.length - 1] ?? null,
    state: systemState(run.sys),
  };
}

/**
 * The logic of svasim as an xstate actor (see the module's header). The options are code, not data:
 * pass the same ones to the logic that restores a persisted snapshot.
 *
 * @example
 * ```ts
 * const parent = setup({ actors: { svasim: fromSvasim({ forward: ['fault.dmar'] }) } }).createMachine({
 *   invoke: { id: 'sim', src: 'svasim', input: { scenario: loadScenario('seed-a-unbind-dmar') },
 *             onDone: { actions: ({ event }) => console.log(event.output.ok) } },
 *   on: {
 *     next: { actions: sendTo('sim', { type: 'svasim.step' }) },
 *     'fault.dmar': { actions: ({ event }) => console.log('DMAR fault at seq', event.seq) },
 *   },
 * });
 * ```
 */
export function fromSvasim<M extends AnyMessage = Message>(options: SvasimLogicOptions = {}): SvasimLogic<M> {
  const forward = options.forward;
  const only = Array.isArray(forward) ? new Set<string>(forward) : null;
  const mapOf = typeof forward === 'function' ? forward : null;

  const shownActor = (live: Live, at: Address): ShownActor | undefined => {
    const scope = live.scope;
    if (scope === null) return undefined;
    let ref = live.shown.get(at);
    if (ref === undefined) {
      const kind = live.run.sys.actor(at)?.kind;
      const machine = kind === undefined ? undefined : live.run.sys.kinds.get(kind)?.machine;
      const created: ShownActor = {
        id: at,
        sessionId: `${scope.self.sessionId}/${at}`,
        _parent: scope.self,
        ...(machine ? { logic: machine } : {}),
        send: () => {
          throw new Error(`${at} is inside svasim: send { type: 'svasim.input', message, to: '${at}' } to the svasim actor`);
        },
        getSnapshot: () => shownSnapshot(live, at),
      };
      ref = created;
      live.shown.set(at, ref);
      inspection(scope.system, { type: '@xstate.actor', actorRef: ref });
    }
    return ref;
  };

  const shownSnapshot = (live: Live, at: Address): Snapshot<unknown> & { readonly value?: unknown; readonly context?: unknown } => {
    const a = live.run.sys.actor(at);
    return a === undefined
      ? { status: 'active', output: undefined, error: undefined }
      : { status: 'active', output: undefined, error: undefined, value: stateValue(a.state), context: a.context };
  };

  /**
   * Every actor that exists, announced (`@xstate.actor`) in creation order: at start and at restore, so an
   * actor that never gets a message (a second device, an idle actor of a registered kind) is shown too.
   * Actors born later are announced at their birth, the delivery that creates them.
   */
  const announceAll = (live: Live): void => {
    for (const { address } of live.run.sys.addresses()) shownActor(live, address);
  };

  /** A delivery, as it happens: into this transition's batch and the inspection stream. */
  const delivered = (live: Live, d: Delivered): void => {
    live.batch.push(d);
    const scope = live.scope;
    if (scope === null) return;
    const send = (e: InspectionEventInput): void => inspection(scope.system, e);
    const source = shownActor(live, d.from);
    const target = shownActor(live, d.to);
    if (target === undefined) return;
    const event = recordEvent(d);
    send({ type: '@xstate.event', sourceRef: source, actorRef: target, event });
    if (live.run.sys.actor(d.to) !== undefined) send({ type: '@xstate.snapshot', actorRef: target, event, snapshot: shownSnapshot(live, d.to) });
  };

  const liveRun = (run: ResumableRun): Live => {
    const live: Live = { run, current: null, batch: [], scope: null, shown: new Map() };
    run.onDelivered = (d) => delivered(live, d);
    return live;
  };

  /** The snapshot after a transition: active, or done with the run's result once every step has run. */
  const settle = (live: Live): SvasimSnapshot => {
    const run = live.run;
    const context = viewOf(run);
    const snapshot: SvasimSnapshot = run.allStepsRun
      ? { status: 'done', output: run.finish(), error: undefined, context }
      : { status: 'active', output: undefined, error: undefined, context };
    live.current = snapshot;
    LIVE.set(snapshot, live);
    return snapshot;
  };

  /** Emit this transition's deliveries and send them to the parent, after the snapshot is updated. */
  const publish = (live: Live, scope: { readonly self: AnyActorRef; readonly system: AnyActorSystem; readonly emit: (e: SvasimRecord<M>) => void; readonly defer: (fn: () => void) => void }): void => {
    const batch = live.batch.splice(0);
    if (batch.length === 0) return;
    scope.defer(() => {
      const parent = scope.self._parent;
      for (const d of batch) {
        const record = recordEvent(d);
        scope.emit(record as SvasimRecord<M>);
        if (parent === undefined) continue;
        const event = mapOf ? mapOf(record) : only === null || only.has(record.type) ? record : undefined;
        if (event === undefined) continue;
        relay(scope.system, scope.self, parent, event);
      }
    });
  };

  return {
    config: options,
    getInitialSnapshot(scope, input) {
      const given = INPUT.safeParse(input);
      if (!given.success) throw new Error(`svasim actor input: ${issueLine(given.error)}`);
      const scenario = scenarioFromValue(given.data.scenario, 'svasim actor input.scenario', undefined, { kinds: options.kinds });
      const live = liveRun(ResumableRun.start(scenario, options));
      live.scope = scope;
      try {
        announceAll(live);
        return settle(live);
      } finally {
        live.scope = null;
      }
    },
    transition(snapshot, event, scope) {
      const type: string = event.type;
      if (type === 'xstate.stop') {
        const live = LIVE.get(snapshot);
        if (live !== undefined && snapshot.status === 'active') live.run.sys.stop();
        return { ...snapshot, status: 'stopped', output: undefined, error: undefined };
      }
      if (snapshot.status !== 'active' || !type.startsWith('svasim.')) return snapshot;
      const parsed = COMMAND.safeParse(event);
      if (!parsed.success) throw new Error(`svasim actor: event ${event.type}: ${issueLine(parsed.error)}`);
      const live = LIVE.get(snapshot);
      if (live === undefined || live.current !== snapshot) throw new Error('svasim actor: a transition from a snapshot that is not its current one');
      live.scope = scope;
      try {
        const run = live.run;
        match(parsed.data)
          .with({ type: 'svasim.step' }, () => void run.step())
          .with({ type: 'svasim.run' }, () => {
            while (!run.allStepsRun) run.step();
          })
          .with({ type: 'svasim.deliver' }, () => void run.deliver())
          .with({ type: 'svasim.input' }, (e) => void run.input(e.message, e.to, e.from))
          .exhaustive();
        publish(live, scope);
        return settle(live);
      } finally {
        live.scope = null;
      }
    },
    getPersistedSnapshot(snapshot): SvasimPersistedSnapshot {
      const live = LIVE.get(snapshot);
      if (live !== undefined && live.current !== snapshot) throw new Error('svasim actor: persist the actor\'s current snapshot (this one is stale)');
      const run = live !== undefined && snapshot.status === 'active' ? live.run.persist() : null;
      return { ...snapshot, run };
    },
    restoreSnapshot(persisted, scope) {
      const p = persisted as SvasimPersistedSnapshot;
      const { run, ...snapshot } = p;
      if (run === null || run === undefined || p.status !== 'active') return snapshot as SvasimSnapshot;
      const live = liveRun(ResumableRun.restore(run, options));
      live.scope = scope;
      try {
        announceAll(live);
        return settle(live);
      } finally {
        live.scope = null;
      }
    },
  };
}

/** {@link fromSvasim} with the defaults: svasim's own kinds, the compiled engine, FIFO, every record to the parent. */
export const svasimLogic: SvasimLogic = fromSvasim();
