/**
 * The visited set of an exhaustive search: 64-bit state fingerprints (two bits of them spent as flags:
 * 62 bits of hash) with each state's sleep set — 12 bytes a slot in one open-addressing table
 * (linear probing, grown at 3/4 full). No state is kept, only its fingerprint: two different states
 * with the same fingerprint would be taken as one (the README gives the odds, as TLC does).
 */

const EMPTY = 0;
/** Bit 0 of the first word: the slot is used (so a stored first word is never 0). */
const USED = 1;
/** Bit 0 of the second word: the state has been expanded (its successors generated). */
const EXPANDED = 1;

export class FingerprintTable {
  private words: Uint32Array;
  private capacity: number;
  private mask: number;
  private used = 0;

  constructor(initialCapacity = 1 << 16) {
    let cap = 1024;
    while (cap < initialCapacity) cap *= 2;
    this.capacity = cap;
    this.mask = cap - 1;
    this.words = new Uint32Array(cap * 3);
  }

  /** How many states it holds. */
  get size(): number {
    return this.used;
  }

  /** Bytes of memory it uses. */
  get bytes(): number {
    return this.words.byteLength;
  }

  /** The slot of a fingerprint, or -1. */
  find(a: number, b: number): number {
    const hi = (a | USED) >>> 0;
    const lo = (b & ~EXPANDED) >>> 0;
    const w = this.words;
    let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.mask;
    for (;;) {
      const x = w[i * 3] as number;
      if (x === EMPTY) return -1;
      if (x === hi && ((w[i * 3 + 1] as number) & ~EXPANDED) >>> 0 === lo) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** Add a fingerprint not in the table (check with `find` first) with its sleep set; returns its slot. */
  add(a: number, b: number, sleep: number): number {
    if ((this.used + 1) * 4 > this.capacity * 3) this.grow();
    this.used++;
    return this.place((a | USED) >>> 0, (b & ~EXPANDED) >>> 0, sleep >>> 0);
  }

  private place(hi: number, lo: number, sleep: number): number {
    const w = this.words;
    let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.mask;
    while ((w[i * 3] as number) !== EMPTY) i = (i + 1) & this.mask;
    w[i * 3] = hi;
    w[i * 3 + 1] = lo;
    w[i * 3 + 2] = sleep;
    return i;
  }

  private grow(): void {
    const old = this.words;
    const oldCap = this.capacity;
    this.capacity *= 2;
    this.mask = this.capacity - 1;
    this.words = new Uint32Array(this.capacity * 3);
    for (let i = 0; i < oldCap; i++) {
      const hi = old[i * 3] as number;
      if (hi === EMPTY) continue;
      const slot = this.place(hi, (old[i * 3 + 1] as number) & ~EXPANDED, old[i * 3 + 2] as number);
      this.words[slot * 3 + 1] = old[i * 3 + 1] as number;
    }
  }

  sleep(slot: number): number {
    return this.words[slot * 3 + 2] as number;
  }

  setSleep(slot: number, sleep: number): void {
    this.words[slot * 3 + 2] = sleep >>> 0;
  }

  expanded(slot: number): boolean {
    return ((this.words[slot * 3 + 1] as number) & EXPANDED) !== 0;
  }

  setExpanded(slot: number): void {
    this.words[slot * 3 + 1] = ((this.words[slot * 3 + 1] as number) | EXPANDED) >>> 0;
  }
}
