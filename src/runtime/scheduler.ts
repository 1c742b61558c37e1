/**
 * Schedulers decide which pending message is delivered next. The runtime never delivers in any other
 * way, so a scheduler is the whole of the nondeterminism: FIFO for `run`, the recorded order for replay,
 * an enumerating choice for exploration.
 */
import type { Address, AnyMessage } from '../../machines/protocol.ts';

/**
 * A message on the bus. While pending its `seq` is 0; delivery gives it the next seq (and, for a syscall
 * to a thread that does not exist, re-addresses it to `kernel`). The runtime owns envelopes: consumers
 * must treat delivered ones as read-only.
 */
export interface Envelope {
  readonly msg: AnyMessage;
  readonly from: Address;
  to: Address;
  /** The seq of the delivered message whose handling sent this one; absent for inputs. */
  readonly cause: number | undefined;
  readonly step: number;
  seq: number;
  /**
   * A copy of a delivery to one of svasim's actors, made for an actor whose kind observes its type
   * (src/runtime/kinds.ts): `cause` is that delivery. Logged as `"copy":true`; counts and svasim's
   * monitors leave copies out.
   */
  readonly copy?: true;
}

/** A delivered message: what one log record holds (seq, sender, receiver, cause, step, message). */
export type Delivered = Readonly<Envelope>;

/**
 * Chooses the delivery order. The contract every scheduler keeps: **messages between the same two actors
 * are delivered in the order they became pending** (per-channel FIFO, as in any actor system; a message
 * its target deferred becomes pending again, as the newest of its channel). Any order across channels is
 * allowed — that is the nondeterminism a scheduler stands for. `System` checks a scheduler it does not
 * know (one without `keepsChannelOrder`) at every delivery and throws an error naming the two actors when
 * a pick overtakes an older message of the same channel: such a log would be refused by replay later.
 */
export interface Scheduler {
  /**
   * Set by schedulers that keep per-channel order by construction (the built-in ones): `System` then
   * skips its check. A custom scheduler leaves it unset and is checked.
   */
  readonly keepsChannelOrder?: true;
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
  /** How a log header names this schedule (absent: not recorded; FIFO is the default). */
  readonly description?: SchedulerDescription;
}

/** First in, first out: each message is delivered in the order it was sent. */
export class FifoScheduler implements Scheduler {
  readonly keepsChannelOrder = true;
  /** Delivered slots are cleared at once: a queue must not keep delivered messages alive (they would
   * outlive young-generation collections and be promoted, the main cost of GC in long runs). */
  private items: (Envelope | undefined)[] = [];
  private head = 0;

  enqueue(env: Envelope): void {
    this.items.push(env);
  }

  next(): Envelope | undefined {
    if (this.head >= this.items.length) {
      if (this.head > 0) {
        this.items.length = 0;
        this.head = 0;
      }
      return undefined;
    }
    const env = this.items[this.head];
    this.items[this.head++] = undefined;
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
    return this.items.slice(this.head) as Envelope[];
  }

  reset(pending: readonly Envelope[]): void {
    this.items = [...pending];
    this.head = 0;
  }
}

/** Pending messages in a list, delivered at the index `pick` returns (-1: none can be delivered now). */
export abstract class ListScheduler implements Scheduler {
  protected items: Envelope[] = [];

  /** The index in `items` of the message to deliver next, or -1. */
  protected abstract pick(items: readonly Envelope[]): number;

  enqueue(env: Envelope): void {
    this.items.push(env);
  }

  next(): Envelope | undefined {
    if (this.items.length === 0) return undefined;
    const i = this.pick(this.items);
    if (i < 0) return undefined;
    if (i === 0) return this.items.shift();
    const [env] = this.items.splice(i, 1);
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

/**
 * Delivers the message a policy picks among the eligible ones. Messages between the same sender and
 * receiver stay in order (as in any actor system), so only the oldest pending message of each
 * (from, to) pair is eligible; `choose` sees those, oldest first, and returns an index into them.
 * Exploration and custom interleavings plug in here.
 */
export class ChoiceScheduler extends ListScheduler {
  /** Only the oldest message of each channel is ever offered to `choose`. */
  readonly keepsChannelOrder = true;
  constructor(private readonly choose: (eligible: readonly Envelope[]) => number) {
    super();
  }

  private isBirth: ((env: Envelope) => boolean) | null = null;

  /**
   * Set by the `System` this scheduler serves: which pending messages create the actor they go to. A
   * message to an actor whose birth message is still pending waits for it (the kernel creates the mm
   * before the task runs), whatever channel it is on.
   * @internal
   */
  bindBirths(isBirth: (env: Envelope) => boolean): void {
    this.isBirth = isBirth;
  }

  /** The oldest pending message of each (from, to) pair, oldest first (none to an actor not yet born). */
  eligible(): Envelope[] {
    const seen = new Set<string>();
    const out: Envelope[] = [];
    let unborn: Set<string> | null = null;
    const isBirth = this.isBirth;
    if (isBirth !== null) for (const e of this.items) if (isBirth(e)) (unborn ??= new Set()).add(e.to);
    for (const e of this.items) {
      const key = `${e.from}\u0000${e.to}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (unborn?.has(e.to) === true && isBirth?.(e) !== true) continue;
      out.push(e);
    }
    return out;
  }

  protected pick(items: readonly Envelope[]): number {
    const eligible = this.eligible();
    const i = this.choose(eligible);
    const env = eligible[i];
    if (env === undefined) throw new RangeError(`scheduler chose ${i} of ${eligible.length} eligible messages`);
    return items.indexOf(env);
  }
}

/** A (from, to) channel's key. */
const channelOf = (e: Envelope): string => `${e.from}\u0000${e.to}`;

/**
 * Per-channel FIFO, checked: the pending messages of each (from, to) channel in the order they became
 * pending. `System` keeps one for a scheduler that does not declare `keepsChannelOrder`.
 */
export class ChannelOrder {
  private readonly channels = new Map<string, Envelope[]>();

  /** A message became pending (its channel is read now: delivery may re-address it later). */
  add(env: Envelope): void {
    const key = channelOf(env);
    const q = this.channels.get(key);
    if (q) q.push(env);
    else this.channels.set(key, [env]);
  }

  /** The pending set was replaced (a snapshot restored). */
  reset(pending: readonly Envelope[]): void {
    this.channels.clear();
    for (const e of pending) this.add(e);
  }

  /** `env` was picked: it must be its channel's oldest pending message (else a programming error). */
  take(env: Envelope): void {
    const key = channelOf(env);
    const q = this.channels.get(key);
    const oldest = q?.[0];
    if (oldest === undefined) throw new Error(`the scheduler delivered ${env.msg.type} from ${env.from} to ${env.to}, which was never pending`);
    if (oldest !== env) {
      throw new Error(
        `the scheduler broke per-channel FIFO: it picked ${env.msg.type} from ${env.from} to ${env.to} while an older message on that channel, ${oldest.msg.type}, was still pending (messages between the same two actors must be delivered in the order they were sent)`,
      );
    }
    q?.shift();
    if (q?.length === 0) this.channels.delete(key);
  }
}

/**
 * A seeded pseudo-random interleaving: at each delivery, one of the channels' oldest pending messages
 * (per-channel FIFO holds) chosen uniformly by a 32-bit PRNG (mulberry32) seeded with `seed`. The same
 * seed and the same pending messages give the same schedule on any machine; the seed is written in the
 * log header (`scheduler`), and the log itself records the order, so replay needs neither.
 */
export class RandomScheduler extends ChoiceScheduler {
  private state: number;

  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed ${seed} is not an integer in 0..4294967295`);
    let s = seed >>> 0;
    // mulberry32: one 32-bit state word, full period, well distributed for this use.
    const next = (): number => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    super((eligible) => Math.floor(next() * eligible.length));
    this.state = seed;
  }

  /** How the log header names this schedule. */
  get description(): SchedulerDescription {
    return { name: 'random', seed: this.state };
  }
}

/** A schedule as the log header names it (`scheduler`); absent for FIFO, svasim's default. */
export interface SchedulerDescription {
  readonly name: string;
  readonly seed?: number;
  /** An exploration's log (`name` "explore"): the strategy that found it. */
  readonly strategy?: string;
  /** An exploration's log: the index of the random or PCT schedule that found it, and PCT's depth. */
  readonly schedule?: number;
  readonly pctDepth?: number;
  /** An exploration's log: what it shows (the record at `seq` is the violation, or the forbidden message). */
  readonly finding?: { readonly seq: number; readonly kind: FindingKind; readonly what: string; readonly detail: string };
}

/**
 * What an exploration finds: an invariant broken, a forbidden message delivered, a stuck state (messages
 * no actor takes), a final state unlike the scenario's `final` (`explore --final`).
 */
export const FINDING_KINDS = ['invariant', 'forbid', 'stuck', 'final'] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];
