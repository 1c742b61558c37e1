/**
 * The searches over an {@link ExploreModel}'s states.
 *
 * - `bfs`: exhaustive, breadth first (so the first counterexample of each kind is a shortest one), with
 *   a visited set of 64-bit fingerprints (table.ts) and sleep sets (Godefroid 1996) over the independence
 *   of deliveries to different actors: a transition is not taken from a state when an equivalent order of
 *   the same independent transitions was already taken from an ancestor. Sleep sets prune transitions,
 *   never states: the reduced search reaches exactly the states of the unreduced one (tested), so every
 *   state is checked. With a visited set, a state reached again with a smaller sleep set is expanded again
 *   for the transitions that slept the first time (Godefroid's condition for state caching).
 * - `random`: seeded random walks from the initial state to a final state (uniform among enabled
 *   transitions); schedule `i` uses its own generator seeded from (seed, i), so any one is reproducible.
 * - `pct`: Probabilistic Concurrency Testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010)
 *   with depth `d`: each actor gets a random priority when it first has something enabled, the enabled
 *   transition of the highest-priority actor runs, and at `d - 1` random points the running actor's
 *   priority drops below all others. A bug of depth `d` is found by one schedule with probability at
 *   least 1/(n·k^(d-1)) (n actors, k steps).
 *
 * Each strategy checks every state it reaches (check.ts) and the scenario's `forbid`; a state that breaks
 * one is a finding and is not expanded. The search is advanced in slices (`advance`), so a caller can
 * report progress and stop it between slices.
 */
import { getHeapStatistics } from 'node:v8';
import type { Address } from '../../machines/protocol.ts';
import type { Violation } from '../runtime/monitor.ts';
import type { FindingKind } from '../runtime/scheduler.ts';
import { mix2 } from './hash.ts';
import type { Applied, ExploreModel, ModelState, Transition, TransitionRef } from './model.ts';
import { NEW, SharedVisited } from './shared.ts';
import { FingerprintTable } from './table.ts';
import { Level, SHED_STATE, SPENT_STATE, Trace } from './frontier.ts';

export type Strategy = 'bfs' | 'random' | 'pct';
export const STRATEGIES: readonly Strategy[] = ['bfs', 'random', 'pct'];

/** A state that breaks something: an invariant, the scenario's `forbid`, or a stuck state. */
export interface Finding {
  readonly kind: FindingKind;
  /** The invariant (`G10`), the forbidden type (`fault.dmar`), or `stuck`. */
  readonly what: string;
  readonly detail: string;
  /** Transitions from the initial state. */
  readonly depth: number;
  /** The transitions from the initial state that reach it. */
  readonly path: readonly TransitionRef[];
  /** The violations found in that state (for `invariant`; reported in its log). */
  readonly violations: readonly Violation[];
  /** The random or PCT schedule that found it. */
  readonly schedule?: number;
  /** A forbidden message: its sender, receiver and content (what minimizing must find again). */
  readonly message?: { readonly from: string; readonly to: string; readonly json: string };
}

/** Why a search stopped before it had seen every state (a bounded search proves nothing beyond its bound). */
export type Bound = 'max-depth' | 'max-states' | 'time' | 'interrupted' | 'schedules' | 'first-finding' | 'memory';

/**
 * Whether this thread's heap has reached `limitBytes`, or 85% of what Node's heap limit leaves the old
 * generation (the limit counts the young generation's three 16 MiB semi-spaces too), whichever is lower: a
 * search stops there, bounded by `memory`, with its summary and counterexamples, instead of dying when the
 * heap runs out. `limitBytes` can only lower the bound; it counts `offHeapBytes` too, the search's arrays
 * outside the heap ({@link Search.offHeapBytes}: its paths, its frontier's words), which Node's heap limit
 * does not.
 */
export function heapFull(limitBytes?: number, offHeapBytes = 0): boolean {
  const h = getHeapStatistics();
  const old = Math.max(h.heap_size_limit - 48 * 2 ** 20, h.heap_size_limit / 2);
  return h.used_heap_size >= 0.85 * old || (limitBytes !== undefined && h.used_heap_size + offHeapBytes >= limitBytes);
}

export interface SearchOptions {
  readonly strategy: Strategy;
  /** Random and PCT: the seed (default 0). */
  readonly seed?: number | undefined;
  /** Random and PCT: how many schedules (default 1000). */
  readonly schedules?: number | undefined;
  /** PCT's depth `d` (default 3). */
  readonly pctDepth?: number | undefined;
  /** No state deeper than this is expanded (transitions from the initial state). */
  readonly maxDepth?: number | undefined;
  /** Stop after this many distinct states. */
  readonly maxStates?: number | undefined;
  /** Sleep sets on (default) or off (`false`: the unreduced search, for comparison). */
  readonly reduction?: boolean | undefined;
  /** Keep searching after the first finding (default: stop there, as TLC does). */
  readonly continueAfterFinding?: boolean | undefined;
  /**
   * One part of a search split `n` ways (this is part `k`). Random and PCT: schedules i with i mod n = k.
   * bfs: every shard searches the first levels alike, up to the first level of at least 16·n states;
   * from there each keeps the states whose fingerprint is k mod n, and searches on from them (shards may
   * meet the same states later: their union is the whole search, sleep sets included).
   */
  readonly shard?: { readonly k: number; readonly n: number } | undefined;
  /**
   * bfs in a lane of `--workers` (lane.ts): the visited set the lanes share (shared.ts), used from the
   * start — each state is expanded once, by the lane that inserted it. The first lane searches from the
   * initial state; the others ({@link join}) start with nothing and take the frontier parts handed to
   * them ({@link Search.receive}).
   */
  readonly shared?: SharedArrayBuffer | undefined;
  /** With `shared`: start with no work (a lane that joins the search). */
  readonly join?: boolean | undefined;
  /**
   * Check the scenario's `final` in every final state that is not stuck (all steps run, nothing pending):
   * a final state unlike it is a finding (`final`, named by the first entry that differs).
   */
  readonly checkFinal?: boolean | undefined;
  /** Only findings this accepts count (minimizing looks for one finding in particular). */
  readonly accept?: ((f: Finding) => boolean) | undefined;
}

/** Counts so far. */
export interface SearchStats {
  /** Transitions taken (each one a state reached, new or not). */
  readonly transitions: number;
  /** Distinct states (bfs; random and PCT do not count them: a schedule never looks a state up). */
  readonly distinct: number;
  /** Transitions not taken because they slept (bfs with reduction). */
  readonly slept: number;
  /** The deepest level reached. */
  readonly depth: number;
  /** States waiting to be expanded (bfs). */
  readonly frontier: number;
  /** Final states reached: nothing enabled (schedules ended). */
  readonly finals: number;
  readonly schedules: number;
  readonly tableBytes: number;
  /** Times a waiting state was let go to free memory, to be rebuilt from its path when expanded (bfs; 0: none). */
  readonly shed: number;
}

const NONE: readonly Transition[] = [];

/** A sleep set as buckets (for the visited set's revisit rule). */
function bitsOf(ts: readonly Transition[]): number {
  let m = 0;
  for (const t of ts) if (t.bit >= 0) m |= 1 << t.bit;
  return m;
}

/**
 * The child's sleep set after `t`: of the transitions asleep here and those already explored here, the
 * ones independent of `t` (deliveries to different actors; `user` and `monitor` only record).
 */
function independentOf(t: Transition, sleep: readonly Transition[], explored: readonly Transition[]): readonly Transition[] {
  let out: Transition[] | null = null;
  for (const list of [sleep, explored]) {
    for (const u of list) {
      if (u === t) continue;
      if (t.actor === null || u.actor === null || t.actor !== u.actor) (out ??= []).push(u);
    }
  }
  return out ?? NONE;
}

/**
 * Part of a bfs frontier handed from one lane of `--workers` to another (an idle one): the paths from the
 * initial state to each node, as a tree (each path node once, parents first), and the nodes. The receiver
 * rebuilds the states by taking the paths' transitions (the model is deterministic) and checks each
 * rebuilt state's fingerprint against the sender's.
 */
export interface WorkPart {
  /** The transitions the paths take, named (`deliver from to` as `from\0to`, a program step as `#p`). */
  readonly names: readonly string[];
  /** Path tree: each path node's parent (its index, or -1: the initial state) and transition (into `names`). */
  readonly parent: Int32Array;
  readonly via: Int32Array;
  /** Per node, six words: its path node, depth, only, sleep, fingerprint (two words). */
  readonly nodes: Int32Array;
}

/** How many let-go states are rebuilt at once (their paths' common prefixes rebuilt once). */
const UNSHED_BATCH = 1024;
/** Fewer waiting states held than this are not worth letting go (what they hold is too little to matter). */
const MIN_HELD = 4 * UNSHED_BATCH;

/** Fewer frontier nodes than this are not worth handing over (the receiver rebuilds each from the initial state). */
export const SHARE_AT_LEAST = 64;

/** A seeded 32-bit generator (mulberry32), as the random scheduler of `run` uses. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Search {
  private readonly table = new FingerprintTable();
  private readonly findingsByKey = new Map<string, Finding>();
  private transitions = 0;
  private slept = 0;
  private deepest = 0;
  private finals = 0;
  private schedulesRun = 0;
  /**
   * The level being expanded and the next. A search with a visited set of its own indexes their waiting
   * states by fingerprint (to merge the sleep sets of the paths that reach one); with a shared set, the
   * set's sleep word does that.
   */
  private level: Level;
  private next: Level;
  /** The paths to the states kept (each node's trace entry). */
  private readonly trace = new Trace();
  /** A bfs shard has split off its part of the search. */
  private split = false;
  /** States let go to free memory ({@link shed}), and no more shedding before this many transitions. */
  private shedStates = 0;
  private quietUntil = 0;
  /** The visited set shared with other lanes (`opts.shared`). */
  private sharedSet: SharedVisited | null = null;
  private readonly root: ModelState;
  private done = false;
  /** Stopped (a bound, a finding, an interrupt), as opposed to out of work for now. */
  private halted = false;
  private readonly bounds = new Set<Bound>();
  // random / pct
  private schedule = 0;
  private pctLength = 0;

  constructor(
    private readonly model: ExploreModel,
    private readonly opts: SearchOptions,
  ) {
    this.root = model.capture();
    this.table.add(this.root.a, this.root.b);
    const index = opts.shared === undefined && opts.reduction !== false && model.independence;
    this.level = new Level(index);
    this.next = new Level(index);
    if (opts.strategy === 'bfs') this.level.push(this.root, -1, 0, -1, 0);
    if (opts.shard) this.schedule = opts.shard.k;
    if (opts.strategy === 'bfs' && opts.shared !== undefined) {
      if (opts.shard !== undefined) throw new Error('explore: a search shares a visited set or is a shard, not both');
      const shared = new SharedVisited(opts.shared);
      this.sharedSet = shared;
      if (opts.join === true) {
        // Nothing to do until a part is handed over.
        this.level.clear();
        this.done = true;
      } else {
        shared.visit(this.root.a, this.root.b, 0);
        shared.flush();
      }
    }
  }

  get finished(): boolean {
    return this.done;
  }

  /** Findings so far, the first (shortest, for bfs) of each kind. */
  findings(): Finding[] {
    return [...this.findingsByKey.values()];
  }

  /** What bounded the search (empty: it saw every state, or ran every schedule asked for). */
  boundedBy(): Bound[] {
    return [...this.bounds];
  }

  stats(): SearchStats {
    return {
      transitions: this.transitions,
      distinct: this.sharedSet?.size ?? this.table.size,
      slept: this.slept,
      depth: this.deepest,
      frontier: this.opts.strategy === 'bfs' ? this.level.left + this.next.left : 0,
      finals: this.finals,
      schedules: this.schedulesRun,
      tableBytes: this.sharedSet?.bytes ?? this.table.bytes,
      shed: this.shedStates,
    };
  }

  /** Every fingerprint in the visited set (bfs; pairs of 32-bit words), to merge shards exactly. */
  fingerprints(): Uint32Array {
    return this.sharedSet?.fingerprints() ?? this.table.fingerprints();
  }

  /** Stop now (Ctrl-C, a time limit): the search is bounded by `why`. */
  stop(why: Bound): void {
    if (this.halted) return;
    this.done = true;
    this.halted = true;
    this.bounds.add(why);
  }

  /** It was stopped (a bound, a finding, an interrupt); otherwise a finished search ran out of work. */
  get stopped(): boolean {
    return this.halted;
  }

  /** A lane's bfs, sharing the visited set: it can hand over and take frontier nodes. */
  get sharing(): boolean {
    return this.sharedSet !== null;
  }

  /** Bytes of the search's arrays outside the heap: the paths kept (8 bytes a kept state, never freed while it runs) and the frontier's words. */
  get offHeapBytes(): number {
    return this.trace.bytes + this.level.bytes + this.next.bytes;
  }

  /** States waiting to be expanded (bfs). */
  get frontierSize(): number {
    return this.level.left + this.next.left;
  }

  /**
   * Hand over about half of the frontier (bfs with a shared visited set: another lane is idle), or
   * `null` when it is too small to be worth it. The nodes leave this search.
   */
  giveAway(): WorkPart | null {
    if (this.halted || this.sharedSet === null || this.frontierSize < SHARE_AT_LEAST) return null;
    const left = this.level.left;
    // The later half of this level's remaining nodes, or of the next level's.
    const given = left >= SHARE_AT_LEAST ? this.level.cut(this.level.at + Math.ceil(left / 2)) : this.next.cut(Math.ceil(this.next.length / 2));
    const trace = this.trace;
    const names: string[] = [];
    const nameIndex = new Map<string, number>();
    /** Trace entries numbered in the part. */
    const ids = new Map<number, number>();
    const parent: number[] = [];
    const via: number[] = [];
    const chain: number[] = [];
    const nodes = new Int32Array(given.length * 6);
    let j = 0;
    for (let i = 0; i < given.length; i++) {
      const e = given.trace(i);
      // The node's trace entries not yet numbered, numbered from the top down (parents first).
      for (let p = e; p >= 0 && !ids.has(p); p = trace.parent(p)) chain.push(p);
      while (chain.length > 0) {
        const p = chain.pop() as number;
        const r = trace.ref(p);
        const name = r.kind === 'deliver' ? `${r.from}\0${r.to}` : `#${r.program}`;
        let k = nameIndex.get(name);
        if (k === undefined) {
          k = names.length;
          names.push(name);
          nameIndex.set(name, k);
        }
        ids.set(p, parent.length);
        const up = trace.parent(p);
        parent.push(up < 0 ? -1 : (ids.get(up) as number));
        via.push(k);
      }
      nodes[j++] = e < 0 ? -1 : (ids.get(e) as number);
      nodes[j++] = given.depth(i);
      nodes[j++] = given.only(i);
      nodes[j++] = given.sleep(i);
      nodes[j++] = given.a(i);
      nodes[j++] = given.b(i);
    }
    return { names, parent: Int32Array.from(parent), via: Int32Array.from(via), nodes };
  }

  /** Take over frontier nodes another lane handed over (`giveAway`); the search goes on with them. */
  receive(part: WorkPart): void {
    if (this.halted) return;
    const model = this.model;
    const refs: TransitionRef[] = part.names.map((name) => {
      if (name.startsWith('#')) return { kind: 'step', program: Number(name.slice(1)) };
      const at = name.indexOf('\0');
      return { kind: 'deliver', from: name.slice(0, at) as Address, to: name.slice(at + 1) as Address };
    });
    // Rebuild each path node's state from its parent's (parents come first), and its trace entry.
    const states = this.rebuild(part.parent, (i) => refs[part.via[i] as number] as TransitionRef);
    const entries: number[] = [];
    for (let i = 0; i < part.parent.length; i++) {
      const up = part.parent[i] as number;
      entries.push(this.trace.add(up < 0 ? -1 : (entries[up] as number), refs[part.via[i] as number] as TransitionRef));
    }
    const got = new Level(false);
    const w = part.nodes;
    for (let j = 0; j < w.length; j += 6) {
      const id = w[j] as number;
      const s = id < 0 ? this.root : (states[id] as ModelState);
      if ((s.a | 0) !== w[j + 4] || (s.b | 0) !== w[j + 5]) throw new Error('explore: a handed-over state rebuilt to another fingerprint');
      got.push(s, id < 0 ? -1 : (entries[id] as number), w[j + 1] as number, w[j + 2] as number, w[j + 3] as number);
    }
    this.level = this.level.then(got);
    if (this.frontierSize > 0) this.done = false;
  }

  /**
   * The states at the ends of paths, rebuilt by retaking their transitions from the initial state (the
   * model is deterministic): path node `i` goes from node `parent[i]` (-1: the initial state; parents
   * come first) by `refOf(i)`. The invariants are not checked again (these states were checked when
   * first reached).
   */
  private rebuild(parent: ArrayLike<number>, refOf: (i: number) => TransitionRef): ModelState[] {
    const model = this.model;
    const states: ModelState[] = [];
    for (let i = 0; i < parent.length; i++) {
      const up = parent[i] as number;
      const from = up < 0 ? this.root : (states[up] as ModelState);
      const ref = refOf(i);
      model.restore(from);
      const t = model.retake(ref);
      if (t === undefined) throw new Error(`explore: a path names a transition that is not there (${JSON.stringify(ref)})`);
      model.apply(t, false);
      states.push(model.capture(from));
    }
    return states;
  }

  /**
   * Free memory (the heap is full): let go of the states of waiting nodes — the later half of those of
   * the next level still holding theirs, else of this level's — keeping their words; each state is rebuilt
   * from its path when its node comes to be expanded ({@link unshed}). Returns how many were let go (0:
   * none is left to let go).
   */
  shed(): number {
    if (this.opts.strategy !== 'bfs') return 0;
    for (const level of [this.next, this.level]) {
      let held = 0;
      for (let i = level.at; i < level.length; i++) if (level.states[i] !== SHED_STATE) held++;
      if (held === 0) continue;
      // The later half of the nodes still holding their state.
      let skip = Math.floor(held / 2);
      let from = level.at;
      while (skip > 0) if (level.states[from++] !== SHED_STATE) skip--;
      const n = level.shed(from);
      this.shedStates += n;
      return n;
    }
    return 0;
  }

  /**
   * Between slices: whether the search must stop, bounded by memory. When this thread's heap is full
   * ({@link heapFull}), waiting states are let go ({@link relieveMemory}) and the search goes on, as long
   * as that can help: it stops when the states still held are too few to matter (under a quarter of the
   * heap, at ~400 bytes each), when the heap passes a ceiling (95% of what Node's limit leaves the old
   * generation, or 10% over `limitBytes`: what letting go frees may come too late), or when its arrays
   * outside the heap alone reach `limitBytes`.
   */
  outOfMemory(limitBytes?: number): boolean {
    const off = this.offHeapBytes;
    if (!heapFull(limitBytes, off)) return false;
    if (limitBytes !== undefined && off >= limitBytes) return true;
    const h = getHeapStatistics();
    const old = Math.max(h.heap_size_limit - 48 * 2 ** 20, h.heap_size_limit / 2);
    if (h.used_heap_size >= 0.95 * old || (limitBytes !== undefined && h.used_heap_size + off >= 1.1 * limitBytes)) return true;
    if (this.transitions < this.quietUntil) return false;
    if (this.heldStates() < MIN_HELD) return true;
    return !this.relieveMemory();
  }

  /** Waiting states still held (not let go), in this level and the next. */
  private heldStates(): number {
    let n = 0;
    for (const level of [this.level, this.next]) for (let i = level.at; i < level.length; i++) if (level.states[i] !== SHED_STATE) n++;
    return n;
  }

  /**
   * The heap is full: let go of waiting states ({@link shed}), unless that was just done and the
   * collector has yet to take them (for as many transitions as a quarter of what was let go). False when
   * nothing is left to let go: the search is then bounded by memory.
   */
  relieveMemory(): boolean {
    if (this.transitions < this.quietUntil) return true;
    const n = this.shed();
    if (n === 0) return false;
    this.quietUntil = this.transitions + Math.max(1000, Math.floor(n / 4));
    return true;
  }

  /** Rebuild the let-go states of a level's nodes from `from` on, a batch at a time (their paths shared). */
  private unshed(level: Level, from: number): void {
    const trace = this.trace;
    const ids = new Map<number, number>();
    const parent: number[] = [];
    const entries: number[] = [];
    const chain: number[] = [];
    const nodes: number[] = [];
    for (let i = from; i < level.length && nodes.length < UNSHED_BATCH; i++) {
      if (level.states[i] !== SHED_STATE) continue;
      nodes.push(i);
      for (let p = level.trace(i); p >= 0 && !ids.has(p); p = trace.parent(p)) chain.push(p);
      while (chain.length > 0) {
        const p = chain.pop() as number;
        ids.set(p, parent.length);
        const up = trace.parent(p);
        parent.push(up < 0 ? -1 : (ids.get(up) as number));
        entries.push(p);
      }
    }
    const states = this.rebuild(parent, (k) => trace.ref(entries[k] as number));
    for (const i of nodes) {
      const e = level.trace(i);
      const s = e < 0 ? this.root : (states[ids.get(e) as number] as ModelState);
      if ((s.a | 0) !== level.a(i) || (s.b | 0) !== level.b(i)) throw new Error('explore: a state let go to free memory rebuilt to another fingerprint');
      level.states[i] = s;
    }
  }

  /** Run about `budget` transitions; returns whether the search is over. */
  advance(budget: number): boolean {
    if (this.done) return true;
    const end = this.transitions + budget;
    if (this.opts.strategy === 'bfs') {
      // With a shared visited set, the slice ends early when the set should grow (shared.ts).
      this.sharedSet?.refresh();
      while (!this.done && this.transitions < end && this.sharedSet?.wantsGrowth !== true) this.bfsStep();
      // The states this slice inserted count in the shared set's size from now on.
      this.sharedSet?.flush();
    } else {
      while (!this.done && this.transitions < end) this.walk();
    }
    return this.done;
  }

  private record(kind: Finding['kind'], what: string, detail: string, depth: number, path: readonly TransitionRef[], violations: readonly Violation[], schedule?: number, message?: Finding['message']): void {
    const key = `${kind}:${what}`;
    const f: Finding = { kind, what, detail, depth, path, violations, ...(schedule === undefined ? {} : { schedule }), ...(message === undefined ? {} : { message }) };
    if (this.opts.accept !== undefined && !this.opts.accept(f)) return;
    if (!this.findingsByKey.has(key)) this.findingsByKey.set(key, f);
    if (this.opts.continueAfterFinding !== true) this.stop('first-finding');
  }

  /** A finding in the state `a` led to, if any (recorded); true when there is one. */
  private judge(a: Applied, depth: number, path: () => readonly TransitionRef[], schedule?: number): boolean {
    if (a.violations.length > 0) {
      const v = a.violations[0] as Violation;
      this.record('invariant', v.invariant, v.detail, depth, path(), a.violations, schedule);
      return true;
    }
    if (a.forbidden !== null) {
      const d = a.delivered;
      this.record('forbid', a.forbidden, `${a.forbidden} delivered, ${d.from} -> ${d.to} (seq ${d.seq})`, depth, path(), [], schedule, { from: d.from, to: d.to, json: JSON.stringify(d.msg) });
      return true;
    }
    return false;
  }

  /** A final state: stuck when messages are pending that no receiver takes. */
  private final(depth: number, path: () => readonly TransitionRef[], schedule?: number): void {
    this.finals++;
    const left = this.model.pendingCount;
    if (left > 0) this.record('stuck', 'stuck', `${left} message(s) pending and none can be taken`, depth, path(), [], schedule);
    else if (this.opts.checkFinal === true) {
      const miss = this.model.finalMismatches();
      const first = miss[0];
      if (first !== undefined) this.record('final', first.what, miss.map((m) => `${m.what}: expected ${m.expected}, got ${m.got}`).join('; '), depth, path(), [], schedule);
    }
  }

  // ---- breadth first ----

  private bfsStep(): void {
    if (this.level.left === 0) {
      if (this.next.length === 0) {
        this.done = true;
        return;
      }
      const spent = this.level;
      this.level = this.next;
      spent.clear();
      this.next = spent;
      const shard = this.opts.shard;
      if (shard !== undefined && shard.n > 1 && !this.split && this.level.length >= 16 * shard.n) {
        // The split: this shard keeps its part of the level (by fingerprint, the same in every shard).
        this.split = true;
        this.level = this.level.filter((a) => (a >>> 0) % shard.n === shard.k);
        // None of the level is this shard's: its part of the search is over (the next call finds both levels empty).
        if (this.level.left === 0) return;
      }
    }
    const level = this.level;
    const i = level.at;
    if (level.states[i] === SHED_STATE) this.unshed(level, i);
    const s = level.states[i] as ModelState;
    // An expanded node's state is not kept (the level would hold the whole level's states until its end).
    level.states[i] = SPENT_STATE;
    const only = level.only(i);
    level.take();
    this.expand(s, level.trace(i), level.depth(i), only, level.sleep(i));
  }

  /** Expand a node: its state, trace entry, depth, `only` and sleep set (frontier.ts). */
  private expand(s: ModelState, trace: number, depth0: number, only: number, sleep0: number): void {
    const model = this.model;
    const table = this.table;
    const shared = this.sharedSet;
    model.restore(s);
    const ts = model.enabled(s);
    const reduce = this.opts.reduction !== false && model.independence;
    // The sleep set: the enabled transitions the node's paths all let sleep.
    let sleep: Transition[] = [];
    if (reduce && sleep0 !== 0) for (const t of ts) if (t.bit >= 0 && (sleep0 & (1 << t.bit)) !== 0) sleep.push(t);
    if (shared !== null) {
      if (only === -1) {
        // Shared: sleep only what every visitor's path let sleep (buckets two enabled transitions share name neither).
        let seen = 0;
        let twice = 0;
        for (const t of ts) {
          if (t.bit < 0) continue;
          if (seen & (1 << t.bit)) twice |= 1 << t.bit;
          seen |= 1 << t.bit;
        }
        let chosen: Transition[] = sleep;
        const used = shared.claim(s.a, s.b, (inter) => {
          chosen = sleep.filter((t) => t.bit >= 0 && !(twice & (1 << t.bit)) && (inter & (1 << t.bit)) !== 0);
          return bitsOf(chosen);
        });
        if (used === null) return;
        sleep = chosen;
      }
    } else if (only === -1) {
      // What the revisit rule needs: the transitions that slept in this expansion (as buckets, over-approximated).
      const slot = table.find(s.a, s.b);
      table.setSleep(slot, bitsOf(sleep));
      table.setExpanded(slot);
    }
    if (depth0 > this.deepest) this.deepest = depth0;
    if (ts.length === 0) {
      if (only === -1) this.final(depth0, () => this.trace.path(trace));
      return;
    }
    const maxDepth = this.opts.maxDepth;
    if (maxDepth !== undefined && depth0 >= maxDepth) {
      this.bounds.add('max-depth');
      return;
    }
    const explored: Transition[] = [];
    let fresh = true;
    for (const t of ts) {
      if (sleep.includes(t)) {
        this.slept++;
        continue;
      }
      if (only !== -1 && (t.bit < 0 || !(only & (1 << t.bit)))) continue;
      if (!fresh) model.restore(s);
      fresh = false;
      const applied = model.apply(t);
      this.transitions++;
      // The child's fingerprint first: it is captured (kept) only when it is to be expanded.
      model.probe(s);
      const ca = model.probeA;
      const cb = model.probeB;
      // A transition that deferred messages (or made deferred ones pending) may touch other actors' queues:
      // it is taken as dependent on every other (its children sleep nothing, and it never sleeps).
      const childSleep = !reduce || applied.touchedDeferred ? NONE : independentOf(t, sleep, explored);
      if (reduce && !applied.touchedDeferred && t.bit >= 0) explored.push(t);
      const depth = depth0 + 1;
      const childMask = childSleep.length === 0 ? 0 : model.maskNow(childSleep);
      if (shared !== null) {
        const v = shared.visit(ca, cb, childMask);
        if (v === NEW) {
          if (this.judgeNew(applied, depth, trace, t.ref)) {
            shared.claim(ca, cb, () => 0);
            if (this.done) return;
            continue;
          }
          if (shared.full || (this.opts.maxStates !== undefined && shared.size >= this.opts.maxStates)) {
            this.stop('max-states');
            return;
          }
          this.next.push(model.capture(s), this.trace.add(trace, t.ref), depth, -1, childMask);
        } else if (v > 0 && reduce) {
          // Expanded already, with transitions asleep then that are awake on this path: those are taken here.
          this.next.push(model.capture(s), this.trace.add(trace, t.ref), depth, v, childMask);
        }
        continue;
      }
      const at = table.find(ca, cb);
      if (at < 0) {
        const slotNew = table.add(ca, cb);
        if (this.judgeNew(applied, depth, trace, t.ref)) {
          // Not expanded: nothing after a violation is searched (an empty sleep set: never again).
          table.setExpanded(slotNew);
          if (this.done) return;
          continue;
        }
        if (this.opts.maxStates !== undefined && table.size >= this.opts.maxStates) {
          this.stop('max-states');
          return;
        }
        // (Indexed in its level, when reducing: see `waiting`.)
        this.next.push(model.capture(s), this.trace.add(trace, t.ref), depth, -1, childMask);
        continue;
      }
      if (!reduce) continue;
      if (!table.expanded(at)) {
        // Waiting to be expanded (in this level or the next): it will sleep only what every path lets it.
        if (!this.narrowWaiting(ca, cb, childMask)) this.next.push(model.capture(s), this.trace.add(trace, t.ref), depth, -1, childMask);
        continue;
      }
      // Expanded already: what slept then and is awake now must be taken now (Godefroid's condition).
      const old = table.sleep(at);
      const now = childMask;
      const awake = old & ~now;
      if (awake !== 0) {
        table.setSleep(at, old & now);
        this.next.push(model.capture(s), this.trace.add(trace, t.ref), depth, awake, childMask);
      }
    }
  }

  /** A state waiting to be expanded, in this level or the next, sleeps only what `mask` lets sleep too; false when it is not waiting there. */
  private narrowWaiting(a: number, b: number, mask: number): boolean {
    for (const level of [this.next, this.level]) {
      const i = level.waiting(a, b);
      if (i >= 0) {
        level.narrowSleep(i, mask);
        return true;
      }
    }
    return false;
  }

  /** A finding in the state a transition (`ref`, from the node of trace entry `from`) reached at `depth`: recorded; true when there is one. */
  private judgeNew(a: Applied, depth: number, from: number, ref: TransitionRef): boolean {
    if (a.violations.length === 0 && a.forbidden === null) return false;
    return this.judge(a, depth, () => this.trace.path(from, ref));
  }

  // ---- random and PCT ----

  private walk(): void {
    const o = this.opts;
    const total = o.schedules ?? 1000;
    if (this.schedule >= total) {
      this.bounds.add('schedules');
      this.done = true;
      return;
    }
    const i = this.schedule;
    this.schedule += o.shard ? o.shard.n : 1;
    this.schedulesRun++;
    const rnd = prng(mix2(o.seed ?? 0, i));
    const model = this.model;
    model.restore(this.root);
    const path: TransitionRef[] = [];
    const pct = o.strategy === 'pct';
    const d = o.pctDepth ?? 3;
    const priority = new Map<string, number>();
    // PCT's d - 1 change points, uniform over the expected schedule length (the longest seen so far).
    const k = Math.max(1, this.pctLength || 50);
    const changeAt: number[] = [];
    if (pct) for (let j = 1; j < d; j++) changeAt.push(1 + Math.floor(rnd() * k));
    let depth = 0;
    for (;;) {
      const ts = model.enabled();
      if (ts.length === 0) {
        this.final(depth, () => path.slice(), i);
        break;
      }
      if (o.maxDepth !== undefined && depth >= o.maxDepth) {
        this.bounds.add('max-depth');
        break;
      }
      let t: Transition;
      if (!pct) t = ts[Math.floor(rnd() * ts.length)] as Transition;
      else {
        let best: Transition | undefined;
        let bestP = -1;
        for (const u of ts) {
          const who = u.actor ?? 'user';
          let p = priority.get(who);
          if (p === undefined) {
            p = d + rnd();
            priority.set(who, p);
          }
          if (p > bestP) {
            bestP = p;
            best = u;
          }
        }
        t = best as Transition;
        for (let j = 0; j < changeAt.length; j++) if (changeAt[j] === depth + 1) priority.set(t.actor ?? 'user', j + 1);
      }
      const applied = model.apply(t);
      this.transitions++;
      depth++;
      path.push(t.ref);
      if (depth > this.deepest) this.deepest = depth;
      if (this.judge(applied, depth, () => path.slice(), i)) break;
    }
    if (depth > this.pctLength) this.pctLength = depth;
  }
}
