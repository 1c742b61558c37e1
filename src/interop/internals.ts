/**
 * The two internals of xstate 5's actor system that this folder uses, typed and checked before use.
 * xstate's own `fromCallback` (its `sendBack`) and `Actor.send` go through them; they are not in its
 * public types:
 * - `_relay(source, target, event)`: delivers `event` to `target` and reports it to the system's
 *   `inspect` observers as an `@xstate.event` from `source` (a plain `target.send(event)` reports no source);
 * - `_sendInspectionEvent(event)`: reports an inspection event (the system adds `rootId`).
 * Without them (another xstate), events are sent with `send` and nothing extra is inspected.
 */
import type { AnyActorRef, EventObject, InspectionEvent } from 'xstate';

/** An xstate actor system (xstate exports the type only as `ActorSystem<…>`). */
export type AnyActorSystem = AnyActorRef['system'];

/** An inspection event before the system adds its `rootId`. */
export type InspectionEventInput = InspectionEvent extends infer E ? (E extends unknown ? Omit<E, 'rootId'> : never) : never;

interface SystemInternals {
  readonly _relay?: (source: AnyActorRef | undefined, target: AnyActorRef, event: EventObject) => void;
  readonly _sendInspectionEvent?: (event: InspectionEventInput) => void;
}

const internals = (system: AnyActorSystem): SystemInternals => system as AnyActorSystem & SystemInternals;

/** Send `event` to `target` as `source` did (inspected with its source when xstate allows). */
export function relay(system: AnyActorSystem, source: AnyActorRef | undefined, target: AnyActorRef, event: EventObject): void {
  const r = internals(system)._relay;
  if (typeof r === 'function') r.call(system, source, target, event);
  else target.send(event);
}

/** Report an inspection event to the system's `inspect` observers (nothing when xstate does not allow). */
export function inspection(system: AnyActorSystem, event: InspectionEventInput): void {
  const send = internals(system)._sendInspectionEvent;
  if (typeof send === 'function') send.call(system, event);
}
