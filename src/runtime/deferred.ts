/**
 * Messages their targets could not take yet (selective receive): kept per target in arrival order, and
 * handed back all at once when that target next changes, to become pending again (as the newest of
 * their channels). Used by the bus (system.ts) and by the router of svasim's machines in a user's xstate
 * system (src/interop/router.ts).
 */
import type { Address } from '../../machines/protocol.ts';
import type { Envelope } from './scheduler.ts';

export class DeferredMessages {
  private readonly byTarget = new Map<Address, Envelope[]>();
  private count = 0;

  /** How many messages wait. */
  get size(): number {
    return this.count;
  }

  add(env: Envelope): void {
    const list = this.byTarget.get(env.to);
    if (list) list.push(env);
    else this.byTarget.set(env.to, [env]);
    this.count++;
  }

  /** Every message waiting for `target`, oldest first, no longer kept (`undefined`: none). */
  take(target: Address): Envelope[] | undefined {
    const list = this.byTarget.get(target);
    if (!list) return undefined;
    this.byTarget.delete(target);
    this.count -= list.length;
    return list;
  }

  /** The waiting messages per target, as copies of the lists (exploration's capture; `null`: none). */
  capture(): readonly (readonly [Address, readonly Envelope[]])[] | null {
    if (this.count === 0) return null;
    return [...this.byTarget].map(([a, list]) => [a, list.slice()] as const);
  }

  /** Replace every waiting message with a capture's. */
  load(c: readonly (readonly [Address, readonly Envelope[]])[] | null): void {
    this.byTarget.clear();
    this.count = 0;
    if (c === null) return;
    for (const [a, list] of c) {
      this.byTarget.set(a, list.slice());
      this.count += list.length;
    }
  }

  /** Every waiting message, per target in the order targets first deferred one (for snapshots). */
  all(): Envelope[] {
    return [...this.byTarget.values()].flat();
  }
}
