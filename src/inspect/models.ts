/**
 * What a delivered message made its receiver do, and which kernel code that models: the transitions
 * the receiving actor took on the message, each with the citation its machine names in the
 * transition's `meta` (machines/citations.ts). The inspector's details panel shows it for the selected
 * message, so a reader can go from the picture to the kernel source.
 *
 * The transitions are recomputed, not logged: from the receiver's state right before the message (the
 * state after seq − 1, by replay), xstate's own interpreter takes the message once more and reports the
 * microsteps it made — the message's transition, then the eventless (`always`) and `done` transitions
 * of the same macrostep. svasim's compiled executor takes the same transitions (test/runtime's
 * differential tests), so this is the path the run took; nothing of it leaves this function.
 */
import { createActor, pathToStateValue, type AnyStateMachine, type AnyTransitionDefinition } from 'xstate';
import { citationFor, isCitationId, type CitationId, type ResolvedCitation } from '../../machines/citations.ts';
import { MACHINES, type ActorKind } from '../../machines/index.ts';
import type { PasidPolicy } from '../../machines/protocol.ts';
import type { BusMessage } from '../runtime/actor.ts';

/** One transition the receiver took, and what it models. */
export interface TakenTransition {
  /** What selected it: the message's type, `always` (an eventless transition) or `done` (a compound state finished). */
  readonly on: string;
  /** The state whose transition it is, dotted below the machine (`alive.idle`; `(root)` for the machine's own). */
  readonly source: string;
  /** The state it enters (dotted), or `null` for a transition that stays. */
  readonly target: string | null;
  /** The citation id in the transition's `meta`, or `null` when it has none (a message taken without effect). */
  readonly cite: CitationId | null;
  /** The citation under the run's PASID policy, or `null` with no citation. */
  readonly models: ResolvedCitation | null;
}

/** What the inspector's `api/models` answers for one record. */
export interface ModelsAt {
  readonly seq: number;
  readonly type: string;
  readonly actor: string;
  /** The receiver's state right before the message, or `null` when it had none. */
  readonly state: string | null;
  /** The transitions taken, the message's own first; empty when there is no machine transition to show. */
  readonly transitions: readonly TakenTransition[];
  /** Why no transition is shown (a birth, a pseudo-actor, an actor of a registered kind). */
  readonly why?: string;
}

const isSvasimKind = (kind: string): kind is ActorKind => Object.hasOwn(MACHINES, kind);

/** A state node's path below its machine, dotted (`mm.alive.idle` → `alive.idle`). */
function pathOf(machine: AnyStateMachine, id: string): string {
  return id === machine.id ? '(root)' : id.startsWith(`${machine.id}.`) ? id.slice(machine.id.length + 1) : id;
}

function onOf(t: AnyTransitionDefinition): string {
  const e = String(t.eventType);
  if (e === '') return 'always';
  if (e.startsWith('xstate.done.state.')) return 'done';
  return e;
}

/**
 * The transitions `machine` takes on `msg` from `state` (dotted) with `context`: every microstep of
 * the macrostep, in order. A message the state cannot take gives none.
 */
export function transitionsTaken(machine: AnyStateMachine, state: string, context: unknown, msg: BusMessage): AnyTransitionDefinition[] {
  const before = machine.resolveState({ value: pathToStateValue(state.split('.')), context });
  const taken: AnyTransitionDefinition[] = [];
  let failed: unknown;
  const actor = createActor(machine, {
    snapshot: machine.getPersistedSnapshot(before),
    inspect: (e) => {
      if (e.type === '@xstate.microstep' && e.actorRef === actor) taken.push(...e._transitions);
    },
  });
  // An action that throws puts the actor in error: caught here (xstate would report it asynchronously).
  actor.subscribe({ error: (e) => void (failed = e) });
  actor.start();
  actor.send(msg);
  actor.stop();
  if (failed !== undefined) {
    throw new Error(`${machine.id} could not take ${msg.type} again in state ${state}: ${failed instanceof Error ? failed.message : String(failed)}`);
  }
  return taken;
}

/** The receiver's view of a record: its address and kind, state and context right before it (if it existed). */
export interface Receiver {
  readonly address: string;
  readonly kind: string;
  readonly state: string;
  readonly context: unknown;
}

/**
 * What record `seq` (message `msg`, to `to`) made its receiver do. `receiver` is the receiving actor as
 * it was right before the message (`undefined`: it did not exist yet, or `to` is no actor).
 */
export function modelsOf(seq: number, msg: BusMessage, to: string, receiver: Receiver | undefined, policy: PasidPolicy): ModelsAt {
  const head = { seq, type: msg.type, actor: to };
  if (receiver === undefined) {
    const why = to === 'user' || to === 'monitor' ? `${to} is not an actor: no transition` : `this message creates ${to} (its birth): no transition is taken`;
    return { ...head, state: null, transitions: [], why };
  }
  if (!isSvasimKind(receiver.kind)) {
    return { ...head, state: receiver.state, transitions: [], why: `${to} is an actor of the registered kind ${receiver.kind}: svasim's citations cover its own machines only` };
  }
  const machine = MACHINES[receiver.kind];
  const transitions = transitionsTaken(machine, receiver.state, receiver.context, msg).map((t): TakenTransition => {
    const cite = (t.meta as { readonly cite?: unknown } | undefined)?.cite;
    const id = isCitationId(cite) ? cite : null;
    const target = t.target?.[0];
    return {
      on: onOf(t),
      source: pathOf(machine, t.source.id),
      target: target === undefined ? null : pathOf(machine, target.id),
      cite: id,
      models: id === null ? null : citationFor(id, policy),
    };
  });
  return { ...head, state: receiver.state, transitions };
}
