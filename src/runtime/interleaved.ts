/**
 * How an interleaved run is taken and checked: exploration (src/explore/) and the replay of its logs
 * both use these, so they reach the same states and report the same violations.
 *
 * Selective receive: after every delivery, each channel's oldest pending message that its receiver
 * cannot take in its current state is set aside at once ({@link deferBlocked}: deferred, as a run defers a
 * message it picks), so the channel's later messages can go; it is pending again, as the newest of its
 * channel, after that receiver next changes.
 *
 * The invariants in every state ({@link checkDelivery}), not only at a step's end: after each delivery,
 * the invariants that hold in every state (monitor.ts `always`) over the actor it changed and the message
 * itself; in a state with no message in flight, the others (`quiescent`) over every actor. Nothing here
 * remembers a path: what a run's monitor remembers across steps (the first PASID of an mm for M1, a thread
 * once activated for M3, LOCK_LAM once set for L3) is read from the receiver's state just before the
 * delivery ({@link beforeDelivery}), so a check is a function of the transition, and two paths to one
 * state are checked alike.
 */
import type { MmContext } from '../../machines/mm.ts';
import type { Address } from '../../machines/protocol.ts';
import type { ThreadContext } from '../../machines/thread.ts';
import { InvariantMonitor, type Violation } from './monitor.ts';
import type { Envelope } from './scheduler.ts';
import type { Delivered, System } from './system.ts';

/** What the receiver of a delivery was just before it (the part of it the history-free checks need). */
export interface Before {
  readonly thread?: { readonly name: string; readonly activated: boolean } | undefined;
  readonly mm?: { readonly id: number; readonly pasid: number | null; readonly lockLam: boolean } | undefined;
}

const NOTHING: Before = {};
const MONITOR = new InvariantMonitor();
/** Scratch: every actor's address (a quiescent state's check). */
const ALL = new Set<Address>();

/**
 * The receiver's relevant state before `to` takes a message (call it before delivering): only what a
 * history-free check reads — a thread already activated (M3), an mm with a PASID (M1) or LOCK_LAM (L3).
 */
export function beforeDelivery(sys: System, to: Address): Before {
  if (sys.isForeign(to)) return NOTHING;
  if (to.startsWith('thread:')) {
    const c = sys.contextOf(to) as ThreadContext | undefined;
    return c?.activated === true ? { thread: { name: c.name, activated: true } } : NOTHING;
  }
  if (to.startsWith('mm:')) {
    const c = sys.contextOf(to) as MmContext | undefined;
    if (c === undefined || (c.pasid === null && !c.lam.lockLam)) return NOTHING;
    return { mm: { id: c.id, pasid: c.pasid, lockLam: c.lam.lockLam } };
  }
  return NOTHING;
}

/**
 * The invariants broken by one delivery `d` (`changed`: the actors it changed; `quiescent`: no message is
 * pending after it). Messages from `monitor` (the reports themselves) are not checked.
 */
export function checkDelivery(sys: System, d: Delivered, changed: ReadonlySet<Address>, before: Before, quiescent: boolean): Violation[] {
  if (d.from === 'monitor') return [];
  // One monitor, given each check's history (nothing of it outlives the call).
  MONITOR.forget();
  if (before !== NOTHING) MONITOR.remember(before.mm, before.thread?.activated === true ? before.thread.name : undefined);
  const out = MONITOR.check(sys, [d], changed, 'always');
  if (quiescent) {
    ALL.clear();
    for (const a of sys.addresses()) ALL.add(a.address);
    MONITOR.forget();
    for (const v of MONITOR.check(sys, [], ALL, 'quiescent')) out.push({ ...v, at: d.seq });
  }
  return out;
}

/**
 * Defer every pending channel head whose receiver exists and would not take it, until none is left;
 * `pending` lists the scheduler's messages oldest first, `remove` takes one out. With `focus`, only heads
 * to or from that actor are looked at (the others are known to be takeable: the same result, sooner).
 * Returns how many.
 */
export function deferBlocked(sys: System, pending: () => readonly Envelope[], remove: (env: Envelope) => void, focus?: Address): number {
  let n = 0;
  for (;;) {
    const items = pending();
    let blocked: Envelope | undefined;
    for (let i = 0; i < items.length; i++) {
      const e = items[i] as Envelope;
      // `focus`: the caller knows every head neither to nor from it is takeable.
      if (focus !== undefined && e.to !== focus && e.from !== focus) continue;
      let head = true;
      for (let j = 0; j < i && head; j++) {
        const o = items[j] as Envelope;
        if (o.from === e.from && o.to === e.to) head = false;
      }
      if (!head) continue;
      if (e.to === 'user' || e.to === 'monitor' || !sys.has(e.to)) continue;
      if (!sys.wouldTake(e)) {
        blocked = e;
        break;
      }
    }
    if (blocked === undefined) return n;
    remove(blocked);
    sys.deferNow(blocked);
    n++;
  }
}
