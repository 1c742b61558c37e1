/**
 * One lane of `explore --workers N`: the search of part `k` of `n`, in slices, with what the lanes share
 * (the control words, the visited set). Lane 0 runs in the calling thread, between turns of its event
 * loop (index.ts), and searches from the start; lanes 1..n-1 run in worker threads (worker.ts) and join
 * once their thread has loaded the model.
 *
 * Lanes balance their load: one whose frontier runs dry says so (its `want` word) and waits; a busy one
 * that sees it hands over half of its frontier ({@link Search.giveAway}), which reaches the idle lane
 * through the calling thread (lane 0 takes it at once; a worker finds it in its inbox port). The search
 * is over when every lane is idle and no handed-over part is on its way. The control words
 * ({@link Control}) also stop every lane: 1 interrupted (Ctrl-C, time), 2 a finding ended the search, 3 a
 * lane was bounded (a full visited set, memory): a lane that stops for a reason of its own stops the
 * others.
 */
import { Control, SharedVisited } from './shared.ts';
import { SHARE_AT_LEAST, type Finding, type Search, type WorkPart } from './search.ts';

/** What a lane reports (a worker posts it to the calling thread). */
export type LaneMessage =
  | { readonly type: 'started' }
  | { readonly type: 'progress'; readonly stats: ReturnType<Search['stats']> }
  | { readonly type: 'finding'; readonly finding: Finding }
  | { readonly type: 'work'; readonly to: number; readonly part: WorkPart | null }
  | { readonly type: 'done'; readonly stats: ReturnType<Search['stats']>; readonly boundedBy: readonly string[] }
  | { readonly type: 'error'; readonly message: string };

/** What a slice ended with: more to do, out of work for now (another lane may hand some over), or done. */
export type SliceEnd = 'more' | 'idle' | 'done';

export class Lane {
  private readonly control: Int32Array;
  private readonly table: SharedVisited | undefined;
  private reported = 0;
  private last: number;

  constructor(
    private readonly search: Search,
    control: SharedArrayBuffer,
    shared: SharedArrayBuffer | undefined,
    private readonly me: number,
    private readonly n: number,
    private readonly progressEveryMs: number,
    private readonly maxHeapBytes: number | undefined,
    private readonly post: (m: LaneMessage) => void,
  ) {
    this.control = new Int32Array(control);
    // The shared visited set, used only inside slices: it grows between them (shared.ts).
    this.table = shared === undefined ? undefined : new SharedVisited(shared);
    this.last = performance.now();
  }

  /** Search about `budget` transitions; after `idle` call {@link goIdle}, after `done` {@link finish}. */
  slice(budget: number): SliceEnd {
    const { search, control, table } = this;
    table?.enter();
    let out: boolean;
    try {
      out = search.advance(budget);
    } finally {
      table?.leave();
    }
    table?.growIfNeeded();
    const found = search.findings();
    for (; this.reported < found.length; this.reported++) this.post({ type: 'finding', finding: found[this.reported] as Finding });
    const why = Atomics.load(control, Control.stop);
    if (why !== 0) search.stop(why === 2 ? 'first-finding' : 'interrupted');
    else if (!out && search.outOfMemory(this.maxHeapBytes)) search.stop('memory');
    if (search.stopped) {
      // Bounded here (a full visited set, memory, a finding): the others stop too, and none waits for this one.
      Atomics.compareExchange(control, Control.stop, 0, 3);
      return 'done';
    }
    const now = performance.now();
    if (now - this.last >= this.progressEveryMs) {
      this.last = now;
      this.post({ type: 'progress', stats: search.stats() });
    }
    if (!out) {
      if (search.sharing && search.frontierSize >= 2 * SHARE_AT_LEAST) this.share();
      return 'more';
    }
    // Out of work: a lane sharing the visited set waits for more; any other is done.
    return search.sharing ? 'idle' : 'done';
  }

  /** Hand half of the frontier to one idle lane, if there is one. */
  private share(): void {
    const control = this.control;
    for (let k = 0; k < this.n; k++) {
      if (k === this.me || Atomics.compareExchange(control, Control.want + k, 1, 0) !== 1) continue;
      // The part counts as alive work from now until its receiver is busy with it (or gives it back).
      Atomics.add(control, Control.active, 1);
      this.post({ type: 'work', to: k, part: this.search.giveAway() });
      return;
    }
  }

  /** Out of work: say so, then wait for a part ({@link take}) or the end ({@link over}). */
  goIdle(): void {
    Atomics.store(this.control, Control.want + this.me, 1);
    this.release();
  }

  /** This lane's share of the alive work is gone: the one that takes the count to 0 ends the search. */
  private release(): void {
    if (Atomics.sub(this.control, Control.active, 1) === 1) {
      Atomics.store(this.control, Control.over, 1);
      Atomics.notify(this.control, Control.over);
    }
  }

  /** A part handed over while idle (null: the sender had too little to give). Returns whether this lane is busy again. */
  take(part: WorkPart | null): boolean {
    if (part !== null) {
      // The part's count becomes this lane's: busy from here.
      this.search.receive(part);
      return true;
    }
    Atomics.store(this.control, Control.want + this.me, 1);
    this.release();
    return false;
  }

  /**
   * While idle: the search is over (stopped, or no lane busy and no part on its way: a count no lane
   * raises once it is 0, since only a busy lane hands over work).
   */
  over(): boolean {
    return Atomics.load(this.control, Control.stop) !== 0 || Atomics.load(this.control, Control.over) !== 0;
  }

  /** Report the lane's end (it wants no more work). */
  finish(): void {
    Atomics.store(this.control, Control.want + this.me, 0);
    this.post({ type: 'done', stats: this.search.stats(), boundedBy: this.search.boundedBy() });
  }
}
