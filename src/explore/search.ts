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
 * heap runs out. `limitBytes` can only lower the bound.
 */
export function heapFull(limitBytes?: number): boolean {
  const h = getHeapStatistics();
  const old = Math.max(h.heap_size_limit - 48 * 2 ** 20, h.heap_size_limit / 2);
  return h.used_heap_size >= Math.min(limitBytes ?? Infinity, 0.85 * old);
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
}

interface PathNode {
  readonly parent: PathNode | null;
  readonly ref: TransitionRef;
}

interface Node {
  /** Its state (once expanded: none, {@link SPENT}). */
  s: ModelState;
  readonly depth: number;
  readonly path: PathNode | null;
  /** -1: expand every transition; else only those whose bucket bit is set (a state reached again); -2 expanded. */
  only: number;
  /**
   * Its sleep set: the transitions every path that reached it so far lets sleep, as their sleep bits in
   * this state (model.ts: no two transitions enabled in a state share a bit).
   */
  sleep: number;
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

/** What an expanded node's place in its level holds (and its state, once expanded: nothing). */
const SPENT: Node = { s: { cells: [], states: [], seq: 0, lastStep: 0, processMms: new Map(), deferred: null, pending: [], pcs: [], a: 0, b: 0, actorsA: 0, actorsB: 0 }, depth: -1, path: null, only: -2, sleep: 0 };

function pathOf(p: PathNode | null): TransitionRef[] {
  const out: TransitionRef[] = [];
  for (let n = p; n !== null; n = n.parent) out.push(n.ref);
  return out.reverse();
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
  private level: Node[] = [];
  private levelAt = 0;
  private next: Node[] = [];
  /** The states of the current and the next level not yet expanded, by fingerprint (to merge sleep sets). */
  private levelIndex = new Map<number, Node[]>();
  /** A bfs shard has split off its part of the search. */
  private split = false;
  /** The visited set shared with other lanes (`opts.shared`). */
  private sharedSet: SharedVisited | null = null;
  private nextIndex = new Map<number, Node[]>();
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
    if (opts.strategy === 'bfs') this.level = [{ s: this.root, depth: 0, path: null, only: -1, sleep: 0 }];
    if (opts.shard) this.schedule = opts.shard.k;
    if (opts.strategy === 'bfs' && opts.shared !== undefined) {
      if (opts.shard !== undefined) throw new Error('explore: a search shares a visited set or is a shard, not both');
      const shared = new SharedVisited(opts.shared);
      this.sharedSet = shared;
      if (opts.join === true) {
        // Nothing to do until a part is handed over.
        this.level = [];
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
      frontier: this.opts.strategy === 'bfs' ? this.level.length - this.levelAt + this.next.length : 0,
      finals: this.finals,
      schedules: this.schedulesRun,
      tableBytes: this.sharedSet?.bytes ?? this.table.bytes,
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

  /** States waiting to be expanded (bfs). */
  get frontierSize(): number {
    return this.level.length - this.levelAt + this.next.length;
  }

  /**
   * Hand over about half of the frontier (bfs with a shared visited set: another lane is idle), or
   * `null` when it is too small to be worth it. The nodes leave this search.
   */
  giveAway(): WorkPart | null {
    if (this.halted || this.sharedSet === null || this.frontierSize < SHARE_AT_LEAST) return null;
    const left = this.level.length - this.levelAt;
    let given: Node[];
    if (left >= SHARE_AT_LEAST) {
      // The later half of this level's remaining nodes.
      const keep = this.levelAt + Math.ceil(left / 2);
      given = this.level.slice(keep);
      this.level.length = keep;
    } else {
      const keep = Math.ceil(this.next.length / 2);
      given = this.next.slice(keep);
      this.next.length = keep;
    }
    const names: string[] = [];
    const nameIndex = new Map<string, number>();
    const ids = new Map<PathNode, number>();
    const parent: number[] = [];
    const via: number[] = [];
    const chain: PathNode[] = [];
    const nodes = new Int32Array(given.length * 6);
    let j = 0;
    for (const n of given) {
      // The node's path nodes not yet numbered, numbered from the top down (parents first).
      for (let p = n.path; p !== null && !ids.has(p); p = p.parent) chain.push(p);
      while (chain.length > 0) {
        const p = chain.pop() as PathNode;
        const r = p.ref;
        const name = r.kind === 'deliver' ? `${r.from}\0${r.to}` : `#${r.program}`;
        let k = nameIndex.get(name);
        if (k === undefined) {
          k = names.length;
          names.push(name);
          nameIndex.set(name, k);
        }
        ids.set(p, parent.length);
        parent.push(p.parent === null ? -1 : (ids.get(p.parent) as number));
        via.push(k);
      }
      nodes[j++] = n.path === null ? -1 : (ids.get(n.path) as number);
      nodes[j++] = n.depth;
      nodes[j++] = n.only;
      nodes[j++] = n.sleep | 0;
      nodes[j++] = n.s.a;
      nodes[j++] = n.s.b;
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
    // Rebuild each path node's state from its parent's (parents come first).
    const states: ModelState[] = [];
    const paths: PathNode[] = [];
    for (let i = 0; i < part.parent.length; i++) {
      const up = part.parent[i] as number;
      const from = up < 0 ? this.root : (states[up] as ModelState);
      const ref = refs[part.via[i] as number] as TransitionRef;
      model.restore(from);
      const t = model.retake(ref);
      if (t === undefined) throw new Error(`explore: a handed-over path names a transition that is not there (${JSON.stringify(ref)})`);
      model.apply(t);
      states.push(model.capture(from));
      paths.push({ parent: up < 0 ? null : (paths[up] as PathNode), ref });
    }
    const got: Node[] = [];
    const w = part.nodes;
    for (let j = 0; j < w.length; j += 6) {
      const id = w[j] as number;
      const s = id < 0 ? this.root : (states[id] as ModelState);
      if ((s.a | 0) !== w[j + 4] || (s.b | 0) !== w[j + 5]) throw new Error('explore: a handed-over state rebuilt to another fingerprint');
      got.push({ s, depth: w[j + 1] as number, path: id < 0 ? null : (paths[id] as PathNode), only: w[j + 2] as number, sleep: w[j + 3] as number });
    }
    this.level = this.level.slice(this.levelAt).concat(got);
    this.levelAt = 0;
    if (this.frontierSize > 0) this.done = false;
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
    if (this.levelAt >= this.level.length) {
      if (this.next.length === 0) {
        this.done = true;
        return;
      }
      this.level = this.next;
      this.levelAt = 0;
      this.next = [];
      this.levelIndex = this.nextIndex;
      this.nextIndex = new Map();
      const shard = this.opts.shard;
      if (shard !== undefined && shard.n > 1 && !this.split && this.level.length >= 16 * shard.n) {
        // The split: this shard keeps its part of the level (by fingerprint, the same in every shard).
        this.split = true;
        const all = this.level;
        this.level = all.filter((n) => (n.s.a >>> 0) % shard.n === shard.k);
        this.levelIndex = new Map();
        for (const n of this.level) {
          const same = this.levelIndex.get(n.s.a);
          if (same === undefined) this.levelIndex.set(n.s.a, [n]);
          else same.push(n);
        }
      }
    }
    const node = this.level[this.levelAt] as Node;
    // Expanded nodes are not kept (the level array and its index would hold the whole level's states until its end).
    this.level[this.levelAt++] = SPENT;
    this.expand(node);
    node.s = SPENT.s;
    node.only = -2;
  }

  private expand(node: Node): void {
    const model = this.model;
    const table = this.table;
    const shared = this.sharedSet;
    model.restore(node.s);
    const ts = model.enabled(node.s);
    const reduce = this.opts.reduction !== false && model.independence;
    // The sleep set: the enabled transitions the node's paths all let sleep.
    let sleep: Transition[] = [];
    if (reduce && node.sleep !== 0) for (const t of ts) if (t.bit >= 0 && (node.sleep & (1 << t.bit)) !== 0) sleep.push(t);
    if (shared !== null) {
      if (node.only === -1) {
        // Shared: sleep only what every visitor's path let sleep (buckets two enabled transitions share name neither).
        let seen = 0;
        let twice = 0;
        for (const t of ts) {
          if (t.bit < 0) continue;
          if (seen & (1 << t.bit)) twice |= 1 << t.bit;
          seen |= 1 << t.bit;
        }
        let chosen: Transition[] = sleep;
        const used = shared.claim(node.s.a, node.s.b, (inter) => {
          chosen = sleep.filter((t) => t.bit >= 0 && !(twice & (1 << t.bit)) && (inter & (1 << t.bit)) !== 0);
          return bitsOf(chosen);
        });
        if (used === null) return;
        sleep = chosen;
      }
    } else if (node.only === -1) {
      // What the revisit rule needs: the transitions that slept in this expansion (as buckets, over-approximated).
      const slot = table.find(node.s.a, node.s.b);
      table.setSleep(slot, bitsOf(sleep));
      table.setExpanded(slot);
    }
    if (node.depth > this.deepest) this.deepest = node.depth;
    if (ts.length === 0) {
      if (node.only === -1) this.final(node.depth, () => pathOf(node.path));
      return;
    }
    const maxDepth = this.opts.maxDepth;
    if (maxDepth !== undefined && node.depth >= maxDepth) {
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
      if (node.only !== -1 && (t.bit < 0 || !(node.only & (1 << t.bit)))) continue;
      if (!fresh) model.restore(node.s);
      fresh = false;
      const applied = model.apply(t);
      this.transitions++;
      // The child's fingerprint first: it is captured (kept) only when it is to be expanded.
      model.probe(node.s);
      const ca = model.probeA;
      const cb = model.probeB;
      // A transition that deferred messages (or made deferred ones pending) may touch other actors' queues:
      // it is taken as dependent on every other (its children sleep nothing, and it never sleeps).
      const childSleep = !reduce || applied.touchedDeferred ? NONE : independentOf(t, sleep, explored);
      if (reduce && !applied.touchedDeferred && t.bit >= 0) explored.push(t);
      const depth = node.depth + 1;
      const childMask = childSleep.length === 0 ? 0 : model.maskNow(childSleep);
      if (shared !== null) {
        const v = shared.visit(ca, cb, childMask);
        if (v === NEW) {
          if (this.judge(applied, depth, () => pathOf({ parent: node.path, ref: t.ref }))) {
            shared.claim(ca, cb, () => 0);
            if (this.done) return;
            continue;
          }
          if (shared.full || (this.opts.maxStates !== undefined && shared.size >= this.opts.maxStates)) {
            this.stop('max-states');
            return;
          }
          this.next.push({ s: model.capture(node.s), depth, path: { parent: node.path, ref: t.ref }, only: -1, sleep: childMask });
        } else if (v > 0 && reduce) {
          // Expanded already, with transitions asleep then that are awake on this path: those are taken here.
          this.next.push({ s: model.capture(node.s), depth, path: { parent: node.path, ref: t.ref }, only: v, sleep: childMask });
        }
        continue;
      }
      const at = table.find(ca, cb);
      if (at < 0) {
        const slotNew = table.add(ca, cb);
        if (this.judge(applied, depth, () => pathOf({ parent: node.path, ref: t.ref }))) {
          // Not expanded: nothing after a violation is searched (an empty sleep set: never again).
          table.setExpanded(slotNew);
          if (this.done) return;
          continue;
        }
        if (this.opts.maxStates !== undefined && table.size >= this.opts.maxStates) {
          this.stop('max-states');
          return;
        }
        const n: Node = { s: model.capture(node.s), depth, path: { parent: node.path, ref: t.ref }, only: -1, sleep: childMask };
        this.next.push(n);
        if (reduce) {
          const same = this.nextIndex.get(ca);
          if (same === undefined) this.nextIndex.set(ca, [n]);
          else same.push(n);
        }
        continue;
      }
      if (!reduce) continue;
      if (!table.expanded(at)) {
        // Waiting to be expanded (in this level or the next): it will sleep only what every path lets it.
        const waiting = this.waiting(ca, cb);
        if (waiting !== undefined) waiting.sleep = waiting.sleep & childMask;
        else this.next.push({ s: model.capture(node.s), depth, path: { parent: node.path, ref: t.ref }, only: -1, sleep: childMask });
        continue;
      }
      // Expanded already: what slept then and is awake now must be taken now (Godefroid's condition).
      const old = table.sleep(at);
      const now = childMask;
      const awake = old & ~now;
      if (awake !== 0) {
        table.setSleep(at, old & now);
        this.next.push({ s: model.capture(node.s), depth, path: { parent: node.path, ref: t.ref }, only: awake, sleep: childMask });
      }
    }
  }

  /** The node of a state waiting to be expanded, in this level or the next. */
  private waiting(a: number, b: number): Node | undefined {
    return this.waitingIn(this.nextIndex, a, b) ?? this.waitingIn(this.levelIndex, a, b);
  }

  private waitingIn(index: ReadonlyMap<number, Node[]>, a: number, b: number): Node | undefined {
    const list = index.get(a);
    if (list !== undefined) for (const n of list) if (n.s.b === b && n.only === -1) return n;
    return undefined;
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
