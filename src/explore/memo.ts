/**
 * Exploration takes the same step many times: independent deliveries commute, so an actor meets the
 * same message in the same state along many interleavings. A memoized behavior answers such a step from
 * its first answer — the same next state and the same sent messages, as objects — so the step is not
 * run again, nothing new is allocated, and every hash cached on those objects (hash.ts) is reused.
 * Behaviors are pure (the actor contract, src/runtime/actor.ts): a step's answer depends only on the
 * state, the message, the receiver and the sender. Messages are told apart by their 64-bit hash.
 */
import type { Address } from '../../machines/protocol.ts';
import { DEFER, type Behavior, type BusMessage, type Defer, type Sent } from '../runtime/actor.ts';
import { hashValue } from './hash.ts';

interface Entry {
  readonly b: number;
  readonly from: string;
  readonly self: string;
  readonly next: unknown;
  /** What it sent (`null`: it deferred). */
  readonly out: readonly Sent[] | null;
  readonly more: Entry | undefined;
}

interface Birth {
  readonly b: number;
  readonly self: string;
  readonly state: unknown;
  readonly more: Birth | undefined;
}

/**
 * `b`, with each step answered from the first time that state met that message, and each actor's initial
 * state from the first birth with the same input and address (so an actor born along many interleavings
 * starts from one state object, and its steps are memoized from there on).
 */
export function memoize(b: Behavior): Behavior {
  const memo = new WeakMap<object, Map<number, Entry>>();
  const births = new Map<number, Birth>();
  const wrapped: Behavior = {
    initial(input: unknown, self: Address): unknown {
      const h = hashValue(input);
      const first = births.get(h.a);
      for (let e = first; e !== undefined; e = e.more) if (e.b === h.b && e.self === self) return e.state;
      const state = b.initial(input, self) as unknown;
      births.set(h.a, { b: h.b, self, state, more: first });
      return state;
    },
    step(state: unknown, message: BusMessage, out: Sent[], self: Address, from: Address): unknown {
      if (typeof state !== 'object' || state === null) return b.step(state, message, out, self, from);
      const h = hashValue(message);
      let byMsg = memo.get(state);
      if (byMsg === undefined) {
        byMsg = new Map();
        memo.set(state, byMsg);
      }
      const first = byMsg.get(h.a);
      for (let e = first; e !== undefined; e = e.more) {
        if (e.b !== h.b || e.from !== from || e.self !== self) continue;
        if (e.out === null) return DEFER;
        for (let i = 0; i < e.out.length; i++) out.push(e.out[i] as Sent);
        return e.next;
      }
      const sent: Sent[] = [];
      const next = b.step(state, message, sent, self, from) as unknown;
      const deferred = next === (DEFER as Defer);
      byMsg.set(h.a, { b: h.b, from, self, next, out: deferred ? null : sent, more: first });
      for (let i = 0; i < sent.length; i++) out.push(sent[i] as Sent);
      return next;
    },
    persist: (state) => b.persist(state),
    restore: (persisted, self) => b.restore(persisted, self),
    value: (state) => b.value(state),
    context: (state) => b.context(state),
    machine: b.machine,
  };
  return wrapped;
}
