/**
 * Schedulers decide which pending message is delivered next. The runtime never delivers in any other
 * way, so a scheduler is the whole of the nondeterminism: FIFO for `run`, the recorded order for replay,
 * an enumerating choice for exploration.
 */
import type { Address, Message } from '../../machines/protocol.ts';

/**
 * A message on the bus. While pending its `seq` is 0; delivery gives it the next seq (and, for a syscall
 * to a thread that does not exist, re-addresses it to `kernel`). The runtime owns envelopes: consumers
 * must treat delivered ones as read-only.
 */
export interface Envelope {
  readonly msg: Message;
  readonly from: Address;
  to: Address;
  /** The seq of the delivered message whose handling sent this one; absent for inputs. */
  readonly cause: number | undefined;
  readonly step: number;
  seq: number;
}

export interface Scheduler {
  /** A message became pending. */
  enqueue(env: Envelope): void;
  /** Remove and return the message to deliver next; `undefined` when nothing is pending. */
  next(): Envelope | undefined;
  /** How many messages are pending. */
  readonly size: number;
  /** The pending messages, oldest first (for snapshots and for explorers that enumerate choices). */
  pending(): readonly Envelope[];
  /** Replace the pending set (restoring a snapshot). */
  reset(pending: readonly Envelope[]): void;
}

/** First in, first out: each message is delivered in the order it was sent. */
export class FifoScheduler implements Scheduler {
  private items: Envelope[] = [];
  private head = 0;

  enqueue(env: Envelope): void {
    this.items.push(env);
  }

  next(): Envelope | undefined {
    if (this.head >= this.items.length) return undefined;
    const env = this.items[this.head++];
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return env;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  pending(): readonly Envelope[] {
    return this.items.slice(this.head);
  }

  reset(pending: readonly Envelope[]): void {
    this.items = [...pending];
    this.head = 0;
  }
}

/**
 * Delivers the pending message at the index a policy picks. `choose` sees every pending message (oldest
 * first) and returns an index; exploration and custom interleavings plug in here.
 */
export class ChoiceScheduler implements Scheduler {
  private items: Envelope[] = [];

  constructor(private readonly choose: (pending: readonly Envelope[]) => number) {}

  enqueue(env: Envelope): void {
    this.items.push(env);
  }

  next(): Envelope | undefined {
    if (this.items.length === 0) return undefined;
    const i = this.choose(this.items);
    const env = this.items[i];
    if (env === undefined) throw new RangeError(`scheduler chose ${i} of ${this.items.length} pending messages`);
    this.items.splice(i, 1);
    return env;
  }

  get size(): number {
    return this.items.length;
  }

  pending(): readonly Envelope[] {
    return [...this.items];
  }

  reset(pending: readonly Envelope[]): void {
    this.items = [...pending];
  }
}
