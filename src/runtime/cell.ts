/**
 * One actor as the bus keeps it ({@link Cell}: its kind's behavior and its state, restored lazily) and
 * the read-only views of actors the system hands out.
 */
import type { Address } from '../../machines/protocol.ts';
import type { Behavior } from './actor.ts';

/** An actor as a view: its address, current state (dotted) and context. */
export interface ActorView<C> {
  readonly address: Address;
  readonly state: string;
  readonly context: C;
}

/** Dotted names of the compiled engine's state values (shared, frozen objects: one name each). */
const NAMES = new WeakMap<object, string>();

/** A state value as one dotted name (`alive.bound`; parallel regions joined by commas). */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    const known = NAMES.get(value);
    if (known !== undefined) return known;
    const name = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}.${stateName(v)}`)
      .join(',');
    if (Object.isFrozen(value)) NAMES.set(value, name);
    return name;
  }
  return String(value);
}

/** Structural equality of two xstate state values (strings or small nested objects). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** A read-only view of one actor: its address, current state (dotted) and context. */
export class View<C> implements ActorView<C> {
  constructor(
    readonly address: Address,
    private readonly value: unknown,
    readonly context: C,
  ) {}
  get state(): string {
    return stateName(this.value);
  }
}

/**
 * One actor: its address, its kind's behavior and its state. A restored actor stays data (its persisted
 * form) until something reads or steps it: restoring a checkpoint of thousands of actors costs only the
 * few a seek touches.
 */
export class Cell {
  /** An actor of a registered kind (its code is the user's: failures are reported as theirs). */
  foreign = false;
  private current: unknown;
  private data: unknown;
  private asleep: boolean;

  constructor(
    readonly kind: string,
    readonly behavior: Behavior,
    readonly address: Address,
    state: unknown,
    asleep = false,
  ) {
    this.asleep = asleep;
    this.current = asleep ? undefined : state;
    this.data = asleep ? state : undefined;
  }

  get state(): unknown {
    if (this.asleep) {
      this.current = this.behavior.restore(this.data, this.address);
      this.asleep = false;
      this.data = undefined;
    }
    return this.current;
  }

  set state(next: unknown) {
    this.current = next;
    this.asleep = false;
    this.data = undefined;
  }

  persisted(): unknown {
    return this.asleep ? this.data : this.behavior.persist(this.current);
  }
}
