/**
 * What a breadth-first search keeps of the states waiting to be expanded, with no object per waiting
 * state beyond the state itself: the young-generation collector copies every object that lives past two
 * of its collections, and a waiting state lives a whole level (the copying was most of the garbage
 * collector's work, measured; README "Benchmark > Exploration").
 *
 * - {@link Trace}: the paths from the initial state, as a tree in two word arrays.
 * - {@link Level}: one level of the frontier, its states in one array and, per state, five words.
 */
import type { ModelState, TransitionRef } from './model.ts';

/** Grow a word array to hold at least `n` words (by half again, at least). */
function grown(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  if (n <= a.length) return a;
  const b = new Int32Array(Math.max(n, Math.ceil(a.length * 1.5)));
  b.set(a);
  return b;
}

/**
 * The paths from the initial state to every state a search has kept: a tree of entries, each its parent
 * entry (-1: the initial state) and the transition taken from there. 8 bytes an entry, one entry a kept
 * state, never freed while the search runs (TLC keeps the same pairs, in a file): a counterexample's path
 * is read backwards from its state's entry.
 */
export class Trace {
  private up = new Int32Array(1 << 12);
  private via = new Int32Array(1 << 12);
  private n = 0;
  /** The transitions the entries take, each once (the model's are the same object for the same transition). */
  private readonly refs: TransitionRef[] = [];
  private readonly ids = new Map<TransitionRef, number>();

  /** A new entry: `ref` taken from entry `parent` (-1: from the initial state). */
  add(parent: number, ref: TransitionRef): number {
    let id = this.ids.get(ref);
    if (id === undefined) {
      id = this.refs.length;
      this.refs.push(ref);
      this.ids.set(ref, id);
    }
    const e = this.n++;
    if (e >= this.up.length) {
      this.up = grown(this.up, e + 1);
      this.via = grown(this.via, e + 1);
    }
    this.up[e] = parent;
    this.via[e] = id;
    return e;
  }

  /** An entry's parent (-1: the initial state). */
  parent(e: number): number {
    return this.up[e] as number;
  }

  /** The transition an entry takes. */
  ref(e: number): TransitionRef {
    return this.refs[this.via[e] as number] as TransitionRef;
  }

  /** The path from the initial state to entry `e` (-1: the empty path), then `last` when given. */
  path(e: number, last?: TransitionRef): TransitionRef[] {
    const out: TransitionRef[] = last === undefined ? [] : [last];
    for (let i = e; i >= 0; i = this.up[i] as number) out.push(this.refs[this.via[i] as number] as TransitionRef);
    return out.reverse();
  }

  /** Bytes its arrays take. */
  get bytes(): number {
    return this.up.byteLength + this.via.byteLength;
  }
}

/** What an expanded state's place in its level holds (the state itself is let go at once). */
export const SPENT_STATE: ModelState = { cells: [], states: [], seq: 0, lastStep: 0, processMms: new Map(), deferred: null, pcs: [], a: 0, b: 0, actorsA: 0, actorsB: 0 };
/**
 * What a waiting node's place holds once its state was let go to free memory ({@link Level.shed}): the
 * search rebuilds the state from its path before expanding it.
 */
export const SHED_STATE: ModelState = { ...SPENT_STATE };

/** A node's words. */
const TRACE = 0;
const DEPTH = 1;
const ONLY = 2;
const SLEEP = 3;
const SAME = 4;
const A = 5;
const B = 6;
const WORDS = 7;

/**
 * One level of a bfs frontier: its states (let go once expanded, or to free memory: {@link shed}) and,
 * per node, seven words: its trace entry (its path), its depth, `only` (-1: expand every transition;
 * else only those whose bucket bit is set: a state reached again; -2: expanded), its sleep set (bits
 * local to its state, model.ts), the next node of its level with the same first fingerprint word (-1:
 * none; the index of waiting states that merges their sleep sets, kept by a search with a visited set of
 * its own), and its state's fingerprint (two words: known without the state).
 */
export class Level {
  states: ModelState[] = [];
  private w = new Int32Array(WORDS * 1024);
  length = 0;
  /** The next node to expand. */
  at = 0;
  /** The first node waiting in this level, by the first word of its fingerprint (with `index`). */
  private readonly byA = new Map<number, number>();

  constructor(private readonly index: boolean) {}

  /** Add a node; returns its place. */
  push(s: ModelState, trace: number, depth: number, only: number, sleep: number): number {
    return this.place(s, trace, depth, only, sleep, s.a, s.b);
  }

  private place(s: ModelState, trace: number, depth: number, only: number, sleep: number, a: number, b: number): number {
    const i = this.length++;
    if ((i + 1) * WORDS > this.w.length) this.w = grown(this.w, (i + 1) * WORDS);
    this.states.push(s);
    const o = i * WORDS;
    const w = this.w;
    w[o + TRACE] = trace;
    w[o + DEPTH] = depth;
    w[o + ONLY] = only;
    w[o + SLEEP] = sleep;
    w[o + SAME] = -1;
    w[o + A] = a;
    w[o + B] = b;
    if (this.index && only === -1) {
      const first = this.byA.get(a);
      if (first !== undefined) w[o + SAME] = first;
      this.byA.set(a, i);
    }
    return i;
  }

  trace(i: number): number {
    return this.w[i * WORDS + TRACE] as number;
  }
  depth(i: number): number {
    return this.w[i * WORDS + DEPTH] as number;
  }
  only(i: number): number {
    return this.w[i * WORDS + ONLY] as number;
  }
  sleep(i: number): number {
    return this.w[i * WORDS + SLEEP] as number;
  }
  /** Its state's fingerprint (first and second word). */
  a(i: number): number {
    return this.w[i * WORDS + A] as number;
  }
  b(i: number): number {
    return this.w[i * WORDS + B] as number;
  }

  /** Take the next node's state to expand it: its place is let go (marked expanded). */
  take(): number {
    const i = this.at++;
    this.w[i * WORDS + ONLY] = -2;
    return i;
  }

  /** The node of a state waiting here to be expanded (every transition), or -1. */
  waiting(a: number, b: number): number {
    const w = this.w;
    for (let i = this.byA.get(a) ?? -1; i >= 0; i = w[i * WORDS + SAME] as number) {
      if (w[i * WORDS + ONLY] === -1 && w[i * WORDS + B] === b) return i;
    }
    return -1;
  }

  /** A waiting node sleeps only what every path that reached it lets sleep. */
  narrowSleep(i: number, mask: number): void {
    const o = i * WORDS + SLEEP;
    this.w[o] = (this.w[o] as number) & mask;
  }

  /** Bytes of its word array (28 a node). */
  get bytes(): number {
    return this.w.byteLength;
  }

  /** Nodes not yet expanded. */
  get left(): number {
    return this.length - this.at;
  }

  /** Empty it, for reuse as the next level. */
  clear(): void {
    this.states = [];
    this.length = 0;
    this.at = 0;
    this.byA.clear();
  }

  /** Its nodes from `from` on, removed from it (it keeps the ones before; a level without an index). */
  cut(from: number): Level {
    if (this.index) throw new Error('explore: an indexed level is not cut');
    const out = new Level(this.index);
    for (let i = from; i < this.length; i++) out.copy(this, i);
    this.length = from;
    this.states.length = from;
    if (this.at > from) this.at = from;
    return out;
  }

  /** Its nodes not yet expanded, then `more`'s, as a new level. */
  then(more: Level): Level {
    const out = new Level(this.index);
    for (let i = this.at; i < this.length; i++) out.copy(this, i);
    for (let i = more.at; i < more.length; i++) out.copy(more, i);
    return out;
  }

  /** The nodes whose fingerprint's first word `keep` accepts, as a new level. */
  filter(keep: (a: number) => boolean): Level {
    const out = new Level(this.index);
    for (let i = this.at; i < this.length; i++) if (keep(this.a(i))) out.copy(this, i);
    return out;
  }

  /**
   * Let go of the states of its waiting nodes from `from` on (their words stay: the search rebuilds each
   * state from its path when it comes to it); returns how many it let go.
   */
  shed(from: number): number {
    let n = 0;
    for (let i = Math.max(from, this.at); i < this.length; i++) {
      const s = this.states[i] as ModelState;
      if (s === SHED_STATE || s === SPENT_STATE) continue;
      this.states[i] = SHED_STATE;
      n++;
    }
    return n;
  }

  private copy(from: Level, i: number): void {
    this.place(from.states[i] as ModelState, from.trace(i), from.depth(i), from.only(i), from.sleep(i), from.a(i), from.b(i));
  }
}
