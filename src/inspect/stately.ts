/**
 * The Stately bridge: a svasim event log as the inspection events that `@statelyai/inspect` (the xstate
 * v5 successor of `@xstate/inspect`) sends to Stately's inspector, and a sender that pushes them through
 * `createInspector(adapter)` — by default over the adapter `createSkyInspector` uses (Stately's online
 * inspector).
 *
 * svasim does not wrap its actors in xstate `Actor`s (an actor is an address holding a machine
 * snapshot), so nothing here hooks into xstate's own `inspect` option: the log is re-executed (as
 * `svasim replay` does, in the logged delivery order) and every delivery is described after the fact.
 *
 * What is translated:
 * - Actors. Every address named by a record (as sender or receiver) gets one `@xstate.actor` event, at
 *   its first record, before that record's `@xstate.event`: `sessionId` is the address itself
 *   (`thread:A1`, `mm:1`, `iommu`, `kernel`, `wq:dsa0`, and the pseudo-actors `user` and `monitor`). A
 *   machine actor carries its machine's definition exactly as `createInspector` encodes it for an xstate
 *   machine actor (the machine's `config`, key-sorted JSON, functions as `{ "type": name }`) and, as
 *   `createInspector` names it, the machine id (`thread`, `mm`, `iommu`, `wq`, `kernel`) as `name`; its
 *   snapshot is its state before that record (an actor born by the record — `mm.create`,
 *   `thread.start` — is shown in the state it is born in). `user` and `monitor` have no definition,
 *   are named by their address and have the snapshot `{ status: 'active' }`.
 * - Records. Each log record becomes one `@xstate.event`, in seq order: `sourceId` = the record's
 *   `from`, `sessionId` = its `to`, `event` = the message without routing (`{ type, ...payload }`).
 * - Snapshots. When the receiver is a machine actor (not `user`/`monitor`), the record's event is
 *   followed by an `@xstate.snapshot` of the receiver after it handled the record: `{ status, value,
 *   context }` (the xstate state value, e.g. `{ alive: 'idle' }`, and the full context), with the
 *   record's message as `event`.
 * - Identity and time come from the log, never from the clock or a random source: `createdAt` is the
 *   record's seq in the format `createInspector` uses (a string of milliseconds since the Unix epoch),
 *   i.e. the epoch + seq ms; `id` is `<seq>:event`, `<seq>:snapshot` or
 *   `<seq>:actor:<address>`; `rootId` is the actor's own address (every svasim actor is a root: none is
 *   spawned by another), `parentId` is absent. The same log always gives byte-identical events.
 *
 * What is not translated:
 * - xstate internals svasim does not run as an `Actor`: microsteps, action and guard executions, the
 *   `@xstate.microstep` stream, parent/child links (the kernel creating an mm is a message, not a spawn).
 * - The records' `cause` and `step` (the inspector's events have no place for them; `createdAt` keeps
 *   the order), pending and deferred messages (a deferred message shows up when it is finally
 *   delivered), invariant checks other than the `invariant.violation` records they produced (shown as
 *   `monitor → user` events), and actor lifetimes (an exited thread or a dead mm stays, in its final
 *   state; no actor is ever reported stopped).
 * - Snapshot fields other than status, value and context (no `output`, `historyValue`, `children`,
 *   `tags`); definitions carry the names of guards and actions, not their code.
 * - Actors that no record names (e.g. the work queue of a device nobody used) get no actor event.
 *
 * A log the model does not re-execute identically (another model's log, a tampered record) is refused
 * with a `DivergenceError` at the first differing seq: its snapshots would not be the logged run's.
 */
import { createInspector, createSkyInspector, type StatelyActorEvent, type StatelyInspectionEvent } from '@statelyai/inspect';
import type { AnyStateMachine, Snapshot } from 'xstate';
import { fileMachine } from '../../machines/file.ts';
import { iommuMachine } from '../../machines/iommu.ts';
import { kernelMachine } from '../../machines/kernel.ts';
import { mmMachine } from '../../machines/mm.ts';
import type { Address } from '../../machines/protocol.ts';
import { threadMachine } from '../../machines/thread.ts';
import { wqMachine } from '../../machines/wq.ts';
import { payloadOf, recordLine } from '../log/format.ts';
import type { ParsedLog } from '../log/reader.ts';
import { DivergenceError } from '../replay/checkpoints.ts';
import { ListScheduler, type Envelope } from '../runtime/scheduler.ts';
import { System, type Delivered, type SystemSnapshot } from '../runtime/system.ts';
import { systemConfig } from '../runner/run.ts';

export type { StatelyInspectionEvent } from '@statelyai/inspect';

/** What an inspector hands its events to (`@statelyai/inspect`'s `Adapter`, which it does not export). */
export type Adapter = Parameters<typeof createInspector>[0];
/** An inspector made by `createInspector(adapter)`. */
export type StatelyInspector = ReturnType<typeof createInspector<Adapter>>;
/** A snapshot as the inspector takes it. */
export type InspectedSnapshot = StatelyActorEvent['snapshot'];
/**
 * A machine actor's snapshot as shown: its status, state value and context. (The inspector's snapshot
 * event is typed with xstate's `Snapshot`, whose `output` and `error` are undefined while an actor is
 * active, as svasim's always are; they are left out, as JSON would leave them out.)
 */
type Shown = Snapshot<unknown> & { readonly value: unknown; readonly context: unknown };

/**
 * `createInspector` cuts a definition off below this many levels of nesting (its default, 10, is less
 * than the depth of the mm machine's config, whose nested release states carry transition `meta`):
 * deep enough for every svasim machine, with room to grow.
 */
const DEFINITION_DEPTH = 64;
/** The options svasim's inspectors are made with (the definition depth above). */
export const INSPECTOR_OPTIONS = { serializationDepthLimit: DEFINITION_DEPTH } as const;
/** `sendToStately` lets the event loop run (an adapter's socket flush) after this many events. */
const YIELD_EVERY = 256;

/** The machine behind an address; `undefined` for the pseudo-actors `user` and `monitor`. */
export function machineOf(address: string): AnyStateMachine | undefined {
  if (address === 'kernel') return kernelMachine;
  if (address === 'iommu') return iommuMachine;
  if (address.startsWith('thread:')) return threadMachine;
  if (address.startsWith('mm:')) return mmMachine;
  if (address.startsWith('wq:')) return wqMachine;
  if (address.startsWith('file:')) return fileMachine;
  return undefined;
}

/** An actor reference with just what `createInspector` reads: the session id and the machine's config. */
function actorRef(address: string, machine: AnyStateMachine | undefined): Parameters<StatelyInspector['actor']>[0] {
  const ref: Parameters<StatelyInspector['actor']>[0] & { readonly logic?: AnyStateMachine } = {
    sessionId: address,
    id: address,
    send: () => {},
    getSnapshot: () => undefined,
    ...(machine ? { logic: machine } : {}),
  };
  return ref;
}

/** What the installed `@statelyai/inspect` sends, learnt from one of its inspectors (the clock parts unused). */
function libraryEncoding(): { readonly version: string; definition(address: string, machine: AnyStateMachine): string } {
  let got: StatelyInspectionEvent | undefined;
  const probe = createInspector({ send: (e) => void (got = e) }, INSPECTOR_OPTIONS);
  const take = (): StatelyInspectionEvent => {
    const e = got;
    got = undefined;
    if (e === undefined) throw new Error('@statelyai/inspect: createInspector sent nothing');
    return e;
  };
  probe.snapshot('probe', {});
  const version = take()._version;
  const definitions = new Map<AnyStateMachine, string>();
  return {
    version,
    definition(address, machine) {
      let d = definitions.get(machine);
      if (d === undefined) {
        probe.actor(actorRef(address, machine));
        const e = take();
        if (e.type !== '@xstate.actor' || e.definition === undefined) throw new Error(`@statelyai/inspect: no definition for ${machine.id}`);
        d = e.definition;
        definitions.set(machine, d);
      }
      return d;
    },
  };
}

/** Delivers, among the pending messages, the one the log says comes next (as `replay` does). */
class LoggedOrder extends ListScheduler {
  want: Delivered | null = null;

  protected pick(items: readonly Envelope[]): number {
    const w = this.want;
    if (w === null) return -1;
    return items.findIndex(
      (e) => e.cause === w.cause && e.from === w.from && e.msg.type === w.msg.type && (e.to === w.to || (w.to === 'kernel' && e.from === 'user')),
    );
  }
}

/** A persisted machine snapshot as the inspector shows it: status, state value, context. */
function inspected(persisted: unknown): Shown {
  const p = persisted as { readonly status: Snapshot<unknown>['status']; readonly value: unknown; readonly context: unknown };
  return { status: p.status, value: p.value, context: p.context } as Shown;
}

function divergence(log: ParsedLog, seq: number, actual: string | null, cause: number | undefined): DivergenceError {
  const causes: string[] = [];
  for (let s = cause; s !== undefined; s = log.records[s - 1]?.cause) {
    const line = log.lines[s - 1];
    if (line === undefined) break;
    causes.unshift(line);
  }
  return new DivergenceError({ identical: false, records: log.records.length, seq, expected: log.lines[seq - 1] ?? null, actual, causes });
}

/**
 * The inspection events of a log, lazily, in order (a long log need not be held as events). Re-executes
 * the log; throws `DivergenceError` where the model does not reproduce it.
 */
export function* statelyEvents(log: ParsedLog): Generator<StatelyInspectionEvent, void, undefined> {
  const lib = libraryEncoding();
  const _version = lib.version;
  const sched = new LoggedOrder();
  const sys = new System(systemConfig(log.scenario), sched);
  /** Every machine actor's latest snapshot (updated from the actors each delivery changed). */
  const states = new Map<string, Shown>();
  const absorb = (snap: SystemSnapshot): void => {
    for (const a of snap.actors) states.set(a.address, inspected(a.snapshot));
  };
  const seen = new Set<Address>();

  const actorEvent = (address: Address, seq: number, snapshot: InspectedSnapshot | undefined): StatelyInspectionEvent => {
    const machine = machineOf(address);
    return {
      type: '@xstate.actor',
      name: machine ? machine.id : address,
      sessionId: address,
      createdAt: String(seq),
      _version,
      rootId: address,
      parentId: undefined,
      id: `${seq}:actor:${address}`,
      definition: machine ? lib.definition(address, machine) : undefined,
      snapshot: snapshot ?? { status: 'active' },
    };
  };

  try {
    absorb(sys.snapshot());
    for (let i = 0; i < log.records.length; i++) {
      const rec = log.records[i];
      const line = log.lines[i];
      if (rec === undefined || line === undefined) break;
      const { seq, from, to } = rec;
      // Actors first named here: their state before the record (a born actor has none yet).
      const fresh = (from === to ? [from] : [from, to]).filter((a) => !seen.has(a));
      const before = fresh.map((a) => states.get(a));
      for (const a of fresh) seen.add(a);

      // Inputs and the monitor's reports come from outside the actors; everything else must be pending.
      if ((from === 'user' && rec.cause === undefined) || from === 'monitor') sys.post(rec.msg, from, to, rec.cause, rec.step);
      sched.want = rec;
      const got = sys.step();
      if (got === undefined) throw divergence(log, seq, null, rec.cause);
      const gotLine = recordLine(got);
      if (gotLine !== line) throw divergence(log, seq, gotLine, rec.cause);
      absorb(sys.snapshot({ onlyDirty: true }));

      for (let k = 0; k < fresh.length; k++) {
        const a = fresh[k];
        if (a !== undefined) yield actorEvent(a, seq, before[k] ?? states.get(a));
      }
      const event = { type: rec.msg.type, ...payloadOf(rec) };
      yield { type: '@xstate.event', sourceId: from, sessionId: to, event, id: `${seq}:event`, createdAt: String(seq), rootId: to, _version };
      const after = machineOf(to) ? states.get(to) : undefined;
      if (after !== undefined) {
        yield { type: '@xstate.snapshot', snapshot: after, event, sessionId: to, id: `${seq}:snapshot`, createdAt: String(seq), rootId: to, _version };
      }
    }
  } finally {
    sys.stop();
  }
}

/** Every inspection event of a log, in order (pure: the same log always gives identical events). */
export function toStatelyEvents(log: ParsedLog): StatelyInspectionEvent[] {
  return [...statelyEvents(log)];
}

/** `built` with the log-derived `createdAt`, `id` and `rootId` of `from`, the event it was built from. */
function restamp(built: StatelyInspectionEvent, from: StatelyInspectionEvent): StatelyInspectionEvent {
  const stamp = { createdAt: from.createdAt, id: from.id };
  return built.type === '@xstate.actor' ? { ...built, ...stamp, rootId: from.rootId } : { ...built, ...stamp, rootId: from.rootId ?? built.rootId };
}

export interface StatelyBridge {
  /** The `createInspector(adapter)` the events go through. */
  readonly inspector: StatelyInspector;
  /** Push one translated event through the inspector (its `actor`/`event`/`snapshot`) to the adapter. */
  send(event: StatelyInspectionEvent): void;
}

/**
 * An inspector over `adapter` for translated events. Each event is handed to the inspector's own
 * `actor`, `event` or `snapshot`, so the adapter gets what `createInspector` builds (definition encoding,
 * snapshot defaults, `_version`, its filter and serialize steps); the only fields put back afterwards
 * are the ones it fills from the clock, `Math.random` or a constant (`createdAt`, `id`, `rootId`), which
 * take the translation's log-derived values.
 */
export function createStatelyBridge(adapter: Adapter): StatelyBridge {
  let current: StatelyInspectionEvent | null = null;
  const inspector = createInspector(adapter, {
    ...INSPECTOR_OPTIONS,
    serialize: (built) => (current === null ? built : restamp(built, current)),
  });
  return {
    inspector,
    send(e) {
      current = e;
      try {
        switch (e.type) {
          case '@xstate.actor':
            inspector.actor(actorRef(e.sessionId, e.definition === undefined ? undefined : machineOf(e.sessionId)), e.snapshot);
            break;
          case '@xstate.event':
            inspector.event(e.sessionId, e.event, e.sourceId === undefined ? {} : { source: e.sourceId });
            break;
          case '@xstate.snapshot':
            inspector.snapshot(e.sessionId, e.snapshot, { event: e.event });
            break;
        }
      } finally {
        current = null;
      }
    },
  };
}

/**
 * Send a log to Stately's inspector: every translated event, in order, through `createInspector(adapter)`.
 * The default adapter is the one `createSkyInspector` uses (Stately's online inspector; it prints the
 * session's link when its socket opens). The adapter is started (`adapter.start`) before the first event
 * and left running: stopping it is the caller's. Resolves when every event has been handed to the
 * adapter; rejects with `DivergenceError` if the log does not re-execute (the events before the
 * differing record have been sent by then).
 */
export async function sendToStately(log: ParsedLog, adapter?: Adapter): Promise<{ events: number }> {
  const bridge = createStatelyBridge(adapter ?? createSkyInspector().adapter);
  bridge.inspector.start();
  let events = 0;
  for (const e of statelyEvents(log)) {
    bridge.send(e);
    if (++events % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { events };
}
