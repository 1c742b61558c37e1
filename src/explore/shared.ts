/**
 * The visited set that the lanes of `--workers` share (lane.ts): 62-bit fingerprints and a sleep-set word
 * per state in a growable SharedArrayBuffer, updated with atomic operations only (12 bytes a slot). A
 * state belongs to the lane that inserted it: only that lane expands it.
 *
 * Growth: threads use the table only inside slices of search ({@link SharedVisited.enter} and `leave`).
 * Between slices, the first thread to find it 70% full raises a flag, waits until no thread is in a
 * slice (a thread counts itself in before it looks at the flag), doubles the buffer and re-inserts every
 * slot; the others wait at their next `enter`. A search ends its slice early once the table should
 * grow ({@link SharedVisited.wantsGrowth}), so it never fills between two looks.
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
/**
 * Header words: used slots (counted in batches: see {@link SharedVisited.flush}), capacity, capacity it
 * may grow to, a resize under way, threads in a slice, threads that insert (lanes).
 */
const USED = 0;
const CAPACITY = 1;
const MAX_CAPACITY = 2;
const RESIZING = 3;
const ACTIVE = 4;
const LANES = 5;
const HEADER = 8;
/** Grown (doubled) when this full, between slices. */
const GROW_AT = 0.7;
/** Full (the search stops, bounded) when this full and it cannot grow. */
const FULL_AT = 0.85;
/** The most slots it grows to without a state bound: 2^28 (3 GiB of address space reserved, used as needed). */
const MOST_SLOTS = 2 ** 28;
/** Slots to start with. */
const FIRST_SLOTS = 1 << 20;

/**
 * The longest a lane waits for another at the shared set (a slice takes milliseconds; growing the
 * largest set, seconds). A lane that died inside a slice, or while growing the set, never ends its wait:
 * past this, the wait is an error (the search fails) instead of a hang.
 */
export const STUCK_MS = 120_000;

function stuck(since: number, limitMs: number, what: string): void {
  if (performance.now() - since > limitMs) throw new Error(`explore: ${what} for ${limitMs / 1000} s (a worker thread may have died)`);
}

/**
 * What a visit found: {@link NEW} (now the visitor's), {@link WAITING} (for its owner to expand it), or
 * expanded: the sleep buckets awake for this visitor that slept then (a number ≥ 0; 0: nothing to redo).
 */
export type Visit = number;
export const NEW = -1;
export const WAITING = -2;

export class SharedVisited {
  /** The header (a view of its own: its length never changes). */
  private readonly h: Int32Array;
  /** The whole table, as a fixed-length view over the capacity it had when last looked at ({@link refresh}). */
  private w: Int32Array;
  private cap: number;
  /**
   * States this thread inserted and has not yet added to the used count. One count every thread adds to
   * at each insert would bounce its cache line between cores; a thread adds its inserts every
   * {@link batch} and at the end of each slice ({@link flush}), so the count lags by less than
   * lanes × batch, kept under a tenth of the table.
   */
  private unflushed = 0;
  private batch = 1;
  /** Used slots at which the table should grow (its capacity × {@link GROW_AT}), and at which it is full. */
  private growAt = 0;
  private fullAt = 0;
  /** The capacity it may grow to. */
  private readonly most: number;
  /**
   * The used count as this thread last saw it (at its last {@link flush} or {@link refresh}): what the
   * checks made at every step read, instead of an atomic load of a word every thread writes.
   */
  private counted = 0;

  /**
   * A new shared table (a growable SharedArrayBuffer): room for `maxStates` states at most when given,
   * else for 2^28 slots; it starts small and doubles while no thread is in a slice ({@link growIfNeeded}).
   */
  static create(maxStates?: number, firstSlots = FIRST_SLOTS, lanes = 2): SharedArrayBuffer {
    const most = maxStates === undefined ? MOST_SLOTS : Math.max(1024, Math.ceil(maxStates / FULL_AT) + 1);
    // At least 4,096 slots: the states every worker searched alike go in at once, at the split.
    const capacity = Math.min(most, Math.max(4096, firstSlots));
    const sab = new SharedArrayBuffer((HEADER + capacity * 3) * 4, { maxByteLength: (HEADER + most * 3) * 4 });
    const w = new Int32Array(sab);
    w[CAPACITY] = capacity;
    w[MAX_CAPACITY] = most;
    w[LANES] = Math.max(1, lanes);
    return sab;
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.h = new Int32Array(buffer, 0, HEADER);
    this.cap = this.h[CAPACITY] as number;
    this.most = this.h[MAX_CAPACITY] as number;
    // Fixed-length views: a length-tracking one (which would follow the buffer's growth) is slower to index.
    this.w = new Int32Array(buffer, 0, HEADER + this.cap * 3);
    this.sized();
  }

  /** What follows from the capacity: when to grow, how many inserts to count at once. */
  private sized(): void {
    this.growAt = this.cap * GROW_AT;
    this.fullAt = Math.floor(this.cap * FULL_AT);
    this.batch = Math.max(1, Math.min(256, Math.floor((this.cap * 0.1) / Math.max(1, this.h[LANES] as number))));
  }

  /** Add this thread's inserts to the used count (at the end of every slice, and every {@link batch} inserts). */
  flush(): void {
    if (this.unflushed === 0) return;
    this.counted = Atomics.add(this.h, USED, this.unflushed) + this.unflushed;
    this.unflushed = 0;
  }

  /** Look at the table again after it may have grown (a thread does at the start of each slice). */
  refresh(): void {
    this.counted = Atomics.load(this.h, USED);
    const cap = Atomics.load(this.h, CAPACITY);
    if (cap === this.cap) return;
    this.cap = cap;
    this.w = new Int32Array(this.buffer, 0, HEADER + cap * 3);
    this.sized();
  }

  get capacity(): number {
    return Atomics.load(this.h, CAPACITY);
  }

  /** A thread is growing it (the others wait at their next slice). */
  get growing(): boolean {
    return Atomics.load(this.h, RESIZING) !== 0;
  }

  /** States in it (as counted so far: other threads' inserts since their last {@link flush} not included). */
  get size(): number {
    return Atomics.load(this.h, USED) + this.unflushed;
  }

  get bytes(): number {
    return this.buffer.byteLength;
  }

  /** The table should grow: a search ends its slice early (so the table never fills between two looks). */
  get wantsGrowth(): boolean {
    return this.cap < this.most && this.counted + this.unflushed >= this.growAt;
  }

  /** The table is full and cannot grow (a search stops, bounded). */
  get full(): boolean {
    return this.cap >= this.most && this.counted + this.unflushed >= this.fullAt;
  }

  /**
   * Enter a slice of search (the table is used only inside slices): waits while the table is being grown.
   * A thread counts itself in before it looks at the flag, so a grower that sees no thread in a slice
   * after raising the flag is alone.
   */
  enter(stuckMs = STUCK_MS): void {
    const h = this.h;
    for (;;) {
      Atomics.add(h, ACTIVE, 1);
      if (Atomics.load(h, RESIZING) === 0) {
        this.refresh();
        return;
      }
      if (Atomics.sub(h, ACTIVE, 1) === 1) Atomics.notify(h, ACTIVE);
      const since = performance.now();
      while (Atomics.load(h, RESIZING) !== 0) {
        Atomics.wait(h, RESIZING, 1, 10);
        stuck(since, stuckMs, 'the lane growing the shared visited set has not finished');
      }
    }
  }

  leave(): void {
    if (Atomics.sub(this.h, ACTIVE, 1) === 1) Atomics.notify(this.h, ACTIVE);
  }

  /**
   * Between slices: when the table is {@link GROW_AT} full and may grow, the first thread to see it doubles
   * it (once every thread is out of its slice) and re-inserts every state; the others wait in `enter`.
   * Returns whether this thread grew it.
   */
  growIfNeeded(stuckMs = STUCK_MS): boolean {
    const h = this.h;
    const cap = this.capacity;
    const most = h[MAX_CAPACITY] as number;
    if (cap >= most || Atomics.load(h, USED) < cap * GROW_AT) return false;
    if (Atomics.compareExchange(h, RESIZING, 0, 1) !== 0) return false;
    try {
      const since = performance.now();
      for (let a = Atomics.load(h, ACTIVE); a !== 0; a = Atomics.load(h, ACTIVE)) {
        Atomics.wait(h, ACTIVE, a, 10);
        stuck(since, stuckMs, 'a lane has not left its slice of search');
      }
      // Alone now. Another thread may have grown it in between: look again.
      this.refresh();
      const now = this.cap;
      if (Atomics.load(h, USED) >= now * GROW_AT && now < most) {
        const old = this.w.slice(HEADER, HEADER + now * 3);
        const next = Math.min(most, now * 2);
        this.buffer.grow((HEADER + next * 3) * 4);
        Atomics.store(h, CAPACITY, next);
        this.refresh();
        const w = this.w;
        w.fill(0, HEADER, HEADER + next * 3);
        for (let i = 0; i < now; i++) {
          const hi = old[i * 3] as number;
          if (hi === 0) continue;
          let j = this.home(hi, old[i * 3 + 1] as number);
          while ((w[HEADER + j * 3] as number) !== 0) j = j + 1 === next ? 0 : j + 1;
          w[HEADER + j * 3] = hi;
          w[HEADER + j * 3 + 1] = old[i * 3 + 1] as number;
          w[HEADER + j * 3 + 2] = old[i * 3 + 2] as number;
        }
      }
    } finally {
      // Even when growing failed (memory for the copy or the growth, both before the capacity changes):
      // the others must not wait at their next slice forever.
      Atomics.store(h, RESIZING, 0);
      Atomics.notify(h, RESIZING);
    }
    return true;
  }

  private home(hi: number, lo: number): number {
    return Math.floor(((hi ^ Math.imul(lo, 0x9e3779b1)) >>> 0) * (this.cap / 4294967296));
  }

  /** The slot of a fingerprint, inserting it (with `sleep`) when absent: then as -1 - slot. */
  private slotOf(a: number, b: number, sleep: number): number {
    const hi = a | 1;
    const lo = b | 1;
    const w = this.w;
    const cap = this.cap;
    let i = this.home(hi, lo);
    for (;;) {
      const at = HEADER + i * 3;
      let x = Atomics.load(w, at);
      if (x === 0) {
        x = Atomics.compareExchange(w, at, 0, hi);
        if (x === 0) {
          Atomics.store(w, at + 2, sleep & MASK);
          // The second word last: a reader that finds the first waits for it (the slot is written).
          Atomics.store(w, at + 1, lo);
          if (++this.unflushed >= this.batch) this.flush();
          return -1 - i;
        }
      }
      if (x === hi) {
        let y = Atomics.load(w, at + 1);
        while (y === 0) y = Atomics.load(w, at + 1);
        if (y === lo) return i;
      }
      i = i + 1 === cap ? 0 : i + 1;
    }
  }

  /** A state reached with sleep set `sleep` (buckets): new (now ours), waiting for its owner, or expanded. */
  visit(a: number, b: number, sleep: number): Visit {
    const slot = this.slotOf(a, b, sleep);
    if (slot < 0) return NEW;
    const at = HEADER + slot * 3 + 2;
    for (;;) {
      const word = Atomics.load(this.w, at);
      const mask = word & MASK;
      const kept = mask & sleep;
      if ((word & EXPANDED) === 0) {
        if (kept === mask || Atomics.compareExchange(this.w, at, word, kept) === word) return WAITING;
        continue;
      }
      const awake = mask & ~sleep;
      if (awake === 0) return 0;
      if (Atomics.compareExchange(this.w, at, word, kept | EXPANDED) === word) return awake;
    }
  }

  /**
   * The owner expands a state: `choose` gets the intersection of its visitors' sleep sets and returns the
   * buckets the owner lets sleep (a subset); they are stored with the expanded flag. `null`: someone
   * expanded it already (never for its owner).
   */
  claim(a: number, b: number, choose: (intersection: number) => number): number | null {
    const found = this.slotOf(a, b, MASK);
    const at = HEADER + (found < 0 ? -1 - found : found) * 3 + 2;
    for (;;) {
      const word = Atomics.load(this.w, at);
      if ((word & EXPANDED) !== 0) return null;
      const used = choose(word & MASK) & MASK;
      if (Atomics.compareExchange(this.w, at, word, used | EXPANDED) === word) return used;
    }
  }

  /** Every fingerprint (pairs of words). */
  fingerprints(): Uint32Array {
    this.refresh();
    const out: number[] = [];
    for (let i = 0; i < this.cap; i++) {
      const hi = Atomics.load(this.w, HEADER + i * 3);
      if (hi !== 0) out.push(hi >>> 0, Atomics.load(this.w, HEADER + i * 3 + 1) >>> 0);
    }
    return Uint32Array.from(out);
  }
}

/**
 * The words of the control buffer the lanes of `--workers` share (Int32): why to stop (0 go on, 1
 * interrupted, 2 a finding ended the search, 3 a lane was bounded: its bound is the search's); how much
 * work is alive — busy lanes plus handed-over parts on their way, one count, so that "nothing is left"
 * is one load, never two that a hand-over can fall between (it starts at the number of lanes: a lane
 * counts as busy until it first goes idle); whether the search is over (set by whoever brought that
 * count to 0); then one word a lane: it wants work.
 */
export const Control = { stop: 0, active: 1, over: 2, want: 3 } as const;

/** The control buffer for `n` lanes. */
export function controlBuffer(n: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer((Control.want + n) * 4);
  new Int32Array(sab)[Control.active] = n;
  return sab;
}
