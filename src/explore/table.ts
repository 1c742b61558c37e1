/**
 * The visited set of an exhaustive search: 64-bit state fingerprints (two of their bits spent as flags:
 * 62 bits of hash) and, per state, its sleep set folded to 8 bits — 9 bytes a slot, in one
 * open-addressing table (linear probing), grown by half when 90% full: 10 to 15 bytes per visited state.
 * No state is kept, only its fingerprint: two different states with the same fingerprint would be taken
 * as one (the summary gives the odds, as TLC does).
 *
 * The folded sleep set is what a revisit needs (search.ts): the transitions that slept when the state
 * was expanded, over-approximated (bucket b stands for buckets b, b+8, b+16, b+24), so a revisit takes
 * at least every transition that slept then and is awake now.
 */

const EMPTY = 0;
/** Bit 0 of the first word: the slot is used (so a stored first word is never 0). */
const USED = 1;
/** Bit 0 of the second word: the state has been expanded (its successors generated). */
const EXPANDED = 1;
/** Grow when this full. */
const MAX_LOAD = 0.9;

/** A 32-bucket sleep set folded to 8 bits. */
export const fold = (m: number): number => (m | (m >>> 8) | (m >>> 16) | (m >>> 24)) & 0xff;
/**
 * The superset of a folded sleep set, in the 31 buckets transitions have (model.ts `BUCKETS`): below 2^31,
 * so a sleep set kept in an object field stays a small integer (a value above would make V8 box that
 * field in every such object: a heap number each, measured).
 */
export const unfold = (m8: number): number => Math.imul(m8 & 0xff, 0x01010101) & 0x7fffffff;

export class FingerprintTable {
  private fps: Uint32Array;
  private masks: Uint8Array;
  private capacity: number;
  private used = 0;

  constructor(initialCapacity = 1 << 16) {
    this.capacity = Math.max(1024, initialCapacity);
    this.fps = new Uint32Array(this.capacity * 2);
    this.masks = new Uint8Array(this.capacity);
  }

  /** How many states it holds. */
  get size(): number {
    return this.used;
  }

  /** Bytes of memory it uses. */
  get bytes(): number {
    return this.fps.byteLength + this.masks.byteLength;
  }

  private home(hi: number, lo: number): number {
    return Math.floor(((hi ^ Math.imul(lo, 0x9e3779b1)) >>> 0) * (this.capacity / 4294967296));
  }

  /** The slot of a fingerprint, or -1. */
  find(a: number, b: number): number {
    const hi = (a | USED) >>> 0;
    const lo = (b & ~EXPANDED) >>> 0;
    const w = this.fps;
    const cap = this.capacity;
    let i = this.home(hi, lo);
    for (;;) {
      const x = w[i * 2] as number;
      if (x === EMPTY) return -1;
      if (x === hi && ((w[i * 2 + 1] as number) & ~EXPANDED) >>> 0 === lo) return i;
      i = i + 1 === cap ? 0 : i + 1;
    }
  }

  /** Add a fingerprint not in the table (check with `find` first); returns its slot. */
  add(a: number, b: number): number {
    if (this.used + 1 > this.capacity * MAX_LOAD) this.grow();
    this.used++;
    return this.place((a | USED) >>> 0, (b & ~EXPANDED) >>> 0, 0);
  }

  private place(hi: number, lo: number, mask: number): number {
    const w = this.fps;
    const cap = this.capacity;
    let i = this.home(hi, lo);
    while ((w[i * 2] as number) !== EMPTY) i = i + 1 === cap ? 0 : i + 1;
    w[i * 2] = hi;
    w[i * 2 + 1] = lo;
    this.masks[i] = mask;
    return i;
  }

  private grow(): void {
    const oldFps = this.fps;
    const oldMasks = this.masks;
    const oldCap = this.capacity;
    this.capacity = Math.ceil(oldCap * 1.5);
    this.fps = new Uint32Array(this.capacity * 2);
    this.masks = new Uint8Array(this.capacity);
    for (let i = 0; i < oldCap; i++) {
      const hi = oldFps[i * 2] as number;
      if (hi === EMPTY) continue;
      const lo = oldFps[i * 2 + 1] as number;
      const slot = this.place(hi, (lo & ~EXPANDED) >>> 0, oldMasks[i] as number);
      this.fps[slot * 2 + 1] = lo;
    }
  }

  /** Every fingerprint it holds, as pairs of words (flags cleared), in table order. */
  fingerprints(): Uint32Array {
    const out = new Uint32Array(this.used * 2);
    let j = 0;
    for (let i = 0; i < this.capacity; i++) {
      const hi = this.fps[i * 2] as number;
      if (hi === EMPTY) continue;
      out[j++] = hi;
      out[j++] = ((this.fps[i * 2 + 1] as number) & ~EXPANDED) >>> 0;
    }
    return out;
  }

  /** The sleep set it was expanded with, as a 32-bucket superset. */
  sleep(slot: number): number {
    return unfold(this.masks[slot] as number);
  }

  setSleep(slot: number, sleep: number): void {
    this.masks[slot] = fold(sleep);
  }

  expanded(slot: number): boolean {
    return ((this.fps[slot * 2 + 1] as number) & EXPANDED) !== 0;
  }

  setExpanded(slot: number): void {
    this.fps[slot * 2 + 1] = ((this.fps[slot * 2 + 1] as number) | EXPANDED) >>> 0;
  }
}
