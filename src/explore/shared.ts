/**
 * The visited set that `--workers` share: 62-bit fingerprints and a sleep-set word per state in a
 * SharedArrayBuffer, updated with atomic operations only (12 bytes a slot; a fixed capacity, chosen
 * before the search). A state belongs to the worker that inserted it: only that worker expands it.
 *
 * The word: bit 31 set once the state is expanded; bits 0..30 the sleep-set buckets. Before expansion
 * they are the intersection of the sleep sets of every path that reached the state (each visitor ANDs
 * its own); at expansion the owner takes the transitions its own path let sleep that are also in that
 * intersection (a bucket two enabled transitions share is never taken as asleep, so within a state a
 * bucket names one transition), and leaves there the buckets it let sleep: a later visitor with a
 * smaller sleep set takes the transitions that slept then and are awake for it (Godefroid's condition).
 */

const EXPANDED = 1 << 31;
const MASK = 0x7fffffff;
/** Header words: used slots, capacity, full flag. */
const HEADER = 4;

/** What a visit found. */
export type Visit =
  | { readonly kind: 'new' }
  | { readonly kind: 'waiting' }
  | { readonly kind: 'expanded'; readonly awake: number };

export class SharedVisited {
  private readonly w: Int32Array;
  readonly capacity: number;

  /** A new shared table with room for `states` states (at most 85% full). */
  static create(states: number): SharedArrayBuffer {
    const capacity = Math.max(1024, Math.ceil(states / 0.85));
    const sab = new SharedArrayBuffer((HEADER + capacity * 3) * 4);
    const w = new Int32Array(sab);
    w[1] = capacity;
    return sab;
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.w = new Int32Array(buffer);
    this.capacity = this.w[1] as number;
  }

  get size(): number {
    return Atomics.load(this.w, 0);
  }

  get bytes(): number {
    return this.buffer.byteLength;
  }

  /** The table is full (a search stops: give it a larger capacity). */
  get full(): boolean {
    return Atomics.load(this.w, 0) >= Math.floor(this.capacity * 0.85);
  }

  private home(hi: number, lo: number): number {
    return Math.floor(((hi ^ Math.imul(lo, 0x9e3779b1)) >>> 0) * (this.capacity / 4294967296));
  }

  /** The slot of a fingerprint (inserting it, with `sleep` and `expanded`, when absent) and whether it was new. */
  private slotOf(a: number, b: number, sleep: number, expanded: boolean): { slot: number; fresh: boolean } {
    const hi = a | 1;
    const lo = b | 1;
    const w = this.w;
    const cap = this.capacity;
    let i = this.home(hi, lo);
    for (;;) {
      const at = HEADER + i * 3;
      let x = Atomics.load(w, at);
      if (x === 0) {
        x = Atomics.compareExchange(w, at, 0, hi);
        if (x === 0) {
          Atomics.store(w, at + 2, (sleep & MASK) | (expanded ? EXPANDED : 0));
          // The second word last: a reader that finds the first waits for it (the slot is written).
          Atomics.store(w, at + 1, lo);
          Atomics.add(w, 0, 1);
          return { slot: i, fresh: true };
        }
      }
      if (x === hi) {
        let y = Atomics.load(w, at + 1);
        while (y === 0) y = Atomics.load(w, at + 1);
        if (y === lo) return { slot: i, fresh: false };
      }
      i = i + 1 === cap ? 0 : i + 1;
    }
  }

  /** A state reached with sleep set `sleep` (buckets): new (now ours), waiting for its owner, or expanded. */
  visit(a: number, b: number, sleep: number): Visit {
    const { slot, fresh } = this.slotOf(a, b, sleep, false);
    if (fresh) return { kind: 'new' };
    const at = HEADER + slot * 3 + 2;
    for (;;) {
      const word = Atomics.load(this.w, at);
      const mask = word & MASK;
      const kept = mask & sleep;
      if ((word & EXPANDED) === 0) {
        if (kept === mask || Atomics.compareExchange(this.w, at, word, kept) === word) return { kind: 'waiting' };
        continue;
      }
      const awake = mask & ~sleep;
      if (awake === 0) return { kind: 'expanded', awake: 0 };
      if (Atomics.compareExchange(this.w, at, word, kept | EXPANDED) === word) return { kind: 'expanded', awake };
    }
  }

  /**
   * The owner expands a state: `choose` gets the intersection of its visitors' sleep sets and returns the
   * buckets the owner lets sleep (a subset); they are stored with the expanded flag. `null`: someone
   * expanded it already (never for its owner).
   */
  claim(a: number, b: number, choose: (intersection: number) => number): number | null {
    const { slot } = this.slotOf(a, b, MASK, false);
    const at = HEADER + slot * 3 + 2;
    for (;;) {
      const word = Atomics.load(this.w, at);
      if ((word & EXPANDED) !== 0) return null;
      const used = choose(word & MASK) & MASK;
      if (Atomics.compareExchange(this.w, at, word, used | EXPANDED) === word) return used;
    }
  }

  /** Record a state expanded elsewhere (a prefix every worker searched alike), with the buckets it slept. */
  markExpanded(a: number, b: number, sleep: number): void {
    this.slotOf(a, b, sleep, true);
  }

  /** Every fingerprint (pairs of words). */
  fingerprints(): Uint32Array {
    const out: number[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const hi = Atomics.load(this.w, HEADER + i * 3);
      if (hi !== 0) out.push(hi >>> 0, Atomics.load(this.w, HEADER + i * 3 + 1) >>> 0);
    }
    return Uint32Array.from(out);
  }
}

/**
 * The words of the control buffer `--workers` share (Int32): why to stop (0 go on, 1 interrupted, 2 a
 * finding ended the search, 3 a worker was bounded: its bound is the search's), how many workers are
 * idle, how many handed-over parts are on their way, whether the search is over, then one word a
 * worker: it wants work.
 */
export const Control = { stop: 0, idle: 1, inFlight: 2, over: 3, want: 4 } as const;

/** The control buffer for `n` workers. */
export function controlBuffer(n: number): SharedArrayBuffer {
  return new SharedArrayBuffer((Control.want + n) * 4);
}
