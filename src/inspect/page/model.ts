/**
 * The page's state: the session, the records loaded so far (in chunks, in the background), the states
 * fetched per seq (an LRU cache), the current seq, the selected record and the filters. Views subscribe
 * to its events and read from it; nothing else fetches.
 */
import type { DataSource } from './api.ts';
import type { ActorInfo, LoadingSizes, LogRecord, ModelsAt, Session, StateAt, StepResult } from './types.ts';

export interface Filters {
  readonly process: ReadonlySet<string>;
  readonly thread: ReadonlySet<string>;
  readonly device: ReadonlySet<string>;
  /** Message types; `pasid.*` style globs allowed. */
  readonly type: ReadonlySet<string>;
  /** Visual classes (`msg-fault`…), toggled from the legend. */
  readonly kind: ReadonlySet<string>;
}
export type FilterKey = keyof Filters;
export const FILTER_KEYS: readonly FilterKey[] = ['process', 'thread', 'device', 'type', 'kind'];

export interface ModelEvents {
  /** The current seq changed. */
  seq: void;
  /** The state for the current seq arrived (or the current seq's state is cached). */
  state: void;
  selection: void;
  /** More records were loaded (or appended by a live step). */
  records: void;
  /** The set of actors changed (a live step created some). */
  actors: void;
  filters: void;
  /** Session-level change: lastSeq / nextStep (live). */
  session: void;
  /** A message for the status line. */
  status: void;
  /** Record loading went idle (what was asked for is loaded). */
  loaded: void;
}
type Listener = () => void;

/** Records per request, and: logs up to `backgroundMax` records are loaded whole in the background, larger ones as they are viewed. */
export const LOADING: LoadingSizes = { chunk: 20_000, backgroundMax: 400_000 };

/** The loading sizes, with a test's overrides (`window.SVASIM_LOADING`) where they are positive integers. */
export function loadingSizes(over: Partial<LoadingSizes> | undefined): LoadingSizes {
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
  return { chunk: ok(over?.chunk) ? over.chunk : LOADING.chunk, backgroundMax: ok(over?.backgroundMax) ? over.backgroundMax : LOADING.backgroundMax };
}
/** The background chunks wait for the first state at most this long. */
const HOLD_MAX_MS = 3_000;

export class Model {
  session: Session;
  lastSeq: number;
  nextStep: number;
  actors: ActorInfo[];
  readonly actorIndex = new Map<string, ActorInfo>();
  /** records[seq] (index 0 unused). */
  readonly records: (LogRecord | undefined)[] = [];
  loadedCount = 0;
  /** cause seq → the seqs it caused. */
  readonly children = new Map<number, number[]>();
  /** Addresses that occur in records but are no actor (user, monitor, …). */
  readonly pseudo = new Set<string>(['user']);
  /** Every message type seen in the loaded records. */
  readonly types = new Set<string>();
  current: number;
  selected: number | null = null;
  filters: Filters = { process: new Set(), thread: new Set(), device: new Set(), type: new Set(), kind: new Set() };
  status = '';
  statusError = false;
  /**
   * The current seq's state could not be had (`no state at #seq: ` and the server's one-line reason):
   * the panels say so where the state would be, instead of "loading…" forever. `null` once a state for
   * the current seq arrives.
   */
  stateError: { readonly seq: number; readonly message: string } | null = null;
  /** The last failed records request (rows it would have filled say so instead of "loading…"). */
  recordsError: string | null = null;
  /** What the status line shows when no error is being reported: the session's warnings (and why the run stopped). */
  private baseStatus: string;
  /** The live run stopped at a failed step: why (one line); no step can run any more. */
  stopped: string | null = null;

  private readonly listeners = new Map<keyof ModelEvents, Set<Listener>>();
  private readonly states = new Map<number, StateAt>();
  private stateCap = 200;
  private inflightState: number | null = null;
  private wantedState: number | null = null;
  /** The state right before the shown one (seq - 1), when known: for "changed" marks. */
  previousState: StateAt | null = null;
  shownState: StateAt | null = null;
  private loadedChunks = new Set<number>();
  private loading = false;

  private readonly chunk: number;
  private readonly backgroundMax: number;

  constructor(
    readonly source: DataSource,
    session: Session,
    sizes: LoadingSizes = LOADING,
  ) {
    this.chunk = sizes.chunk;
    this.backgroundMax = sizes.backgroundMax;
    this.session = session;
    this.lastSeq = session.lastSeq;
    this.nextStep = session.nextStep;
    this.actors = [...session.actors];
    for (const a of this.actors) this.actorIndex.set(a.address, a);
    // A log that stops matching the model opens at its last state, not past it (the warning says why).
    this.current = Math.min(session.lastSeq, session.lastShowable);
    this.records.length = session.lastSeq + 1;
    this.stopped = session.stopped ?? null;
    this.baseStatus = [...(this.stopped === null ? [] : [this.stopped]), ...session.warnings].join(' · ');
    if (this.baseStatus !== '') {
      this.status = this.baseStatus;
      this.statusError = true;
    }
    // Large systems: each state is big, keep fewer.
    this.stateCap = Math.max(8, Math.min(300, Math.floor(50_000 / Math.max(1, this.actors.length))));
  }

  on<K extends keyof ModelEvents>(ev: K, fn: Listener): void {
    let set = this.listeners.get(ev);
    if (!set) this.listeners.set(ev, (set = new Set()));
    set.add(fn);
  }
  emit<K extends keyof ModelEvents>(ev: K): void {
    for (const fn of this.listeners.get(ev) ?? []) fn();
  }

  setStatus(text: string, error = false): void {
    this.status = text;
    this.statusError = error;
    this.emit('status');
  }

  /** An error was resolved: back to the session's warnings (if any), else `text`. */
  clearError(text = ''): void {
    if (this.baseStatus !== '') this.setStatus(this.baseStatus, true);
    else this.setStatus(text);
  }

  // ---- records ----

  record(seq: number): LogRecord | undefined {
    return this.records[seq];
  }

  private addRecords(rs: readonly LogRecord[]): void {
    for (const r of rs) {
      if (!Number.isInteger(r.seq) || r.seq < 1) continue;
      if (this.records[r.seq] !== undefined) continue;
      this.records[r.seq] = r;
      this.loadedCount++;
      this.types.add(r.type);
      if (r.cause !== undefined) {
        const c = this.children.get(r.cause);
        if (c) c.push(r.seq);
        else this.children.set(r.cause, [r.seq]);
      }
      if (!this.actorIndex.has(r.from)) this.pseudo.add(r.from);
      if (!this.actorIndex.has(r.to)) this.pseudo.add(r.to);
    }
  }

  /** Chunks are being loaded (a missing record will arrive with them: no need to fetch it alone). */
  get busy(): boolean {
    return this.loading;
  }

  get fullyLoaded(): boolean {
    return this.loadedCount >= this.lastSeq;
  }

  /**
   * Load the records, chunk by chunk, two requests in flight: the current seq's chunk first, then (for
   * logs up to `backgroundMax` records) every other chunk in order; larger logs load the chunks the
   * view asks for (`ensure`). Resolves when nothing more is to be loaded for now. Called again after a
   * live step, it fetches only what is missing.
   */
  loadAll(): Promise<void> {
    this.background = this.lastSeq <= this.backgroundMax;
    // The first load: the current seq's chunk now, the others once the first state is drawn (they would
    // compete with it for the server and for this thread while the page first renders).
    if (this.holdBackground === null) {
      this.holdBackground = this.source.kind === 'http' && this.background && this.lastSeq > this.chunk;
      if (this.holdBackground) window.setTimeout(() => this.releaseBackground(), HOLD_MAX_MS);
    }
    this.demand.unshift(this.chunkOf(this.current));
    const p = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.pumpChunks();
    return p;
  }

  /** Ask for the records `from`..`to` (on-demand loading of very large logs; cheap when loaded). */
  ensure(from: number, to: number): void {
    const a = this.chunkOf(Math.max(1, from));
    const b = this.chunkOf(Math.min(this.lastSeq, to));
    let added = false;
    for (let i = a; i <= b; i++) {
      if (!this.chunkDone(i) && !this.chunkLoading.has(i) && !this.demand.includes(i)) {
        this.demand.push(i);
        added = true;
      }
    }
    if (added) this.pumpChunks();
  }

  /** Every record is loaded only for logs small enough to load in the background. */
  get partial(): boolean {
    return !this.background && !this.fullyLoaded;
  }

  private background = true;
  /** Background chunks wait for the first state (null: not decided yet). */
  private holdBackground: boolean | null = null;
  private releaseBackground(): void {
    if (this.holdBackground !== true) return;
    this.holdBackground = false;
    this.pumpChunks();
  }
  /** Release the background chunks once the first state is painted (a frame later). */
  private releaseAfterPaint(): void {
    if (this.holdBackground !== true) return;
    let done = false;
    const go = (): void => {
      if (done) return;
      done = true;
      this.releaseBackground();
    };
    requestAnimationFrame(() => window.setTimeout(go, 0));
    // No frames in a background tab: do not wait for one.
    window.setTimeout(go, 250);
  }
  private readonly demand: number[] = [];
  private readonly chunkLoading = new Set<number>();
  private idleWaiters: (() => void)[] = [];

  private chunkOf(seq: number): number {
    return Math.floor(Math.max(0, seq - 1) / this.chunk);
  }

  private chunkDone(i: number): boolean {
    if (this.loadedChunks.has(i)) return true;
    const to = Math.min(this.lastSeq, (i + 1) * this.chunk);
    for (let s = i * this.chunk + 1; s <= to; s++) if (this.records[s] === undefined) return false;
    // Only a full chunk stays complete: the last one grows with a live log.
    if (to === (i + 1) * this.chunk) this.loadedChunks.add(i);
    return true;
  }

  private nextChunk(): number | undefined {
    const n = Math.ceil(this.lastSeq / this.chunk);
    while (this.demand.length > 0) {
      const i = this.demand.shift();
      if (i !== undefined && i < n && !this.chunkLoading.has(i) && !this.chunkDone(i)) return i;
    }
    if (!this.background || this.holdBackground === true) return undefined;
    const first = this.chunkOf(this.current);
    if (first < n && !this.chunkLoading.has(first) && !this.chunkDone(first)) return first;
    for (let i = 0; i < n; i++) if (!this.chunkLoading.has(i) && !this.chunkDone(i)) return i;
    return undefined;
  }

  private pumpChunks(): void {
    while (this.chunkLoading.size < 2) {
      const i = this.nextChunk();
      if (i === undefined) break;
      this.chunkLoading.add(i);
      this.loading = true;
      void this.source
        .records(i * this.chunk + 1, Math.min(this.lastSeq, (i + 1) * this.chunk))
        .then((rs) => {
          this.addRecords(rs);
          // A server that answers less than asked: do not ask again and again.
          if (rs.length === 0) this.loadedChunks.add(i);
          this.emit('records');
        })
        .catch((e: unknown) => {
          this.loadedChunks.add(i);
          this.recordsError = (e as Error).message;
          this.setStatus(`could not load records: ${this.recordsError}`, true);
          this.emit('records');
        })
        .finally(() => {
          this.chunkLoading.delete(i);
          this.pumpChunks();
        });
    }
    if (this.chunkLoading.size === 0) {
      // Held back: still loading (the rest follows the first state); prefetches wait as before.
      if (this.holdBackground === true && !this.fullyLoaded) return;
      const was = this.loading;
      this.loading = false;
      if (was) this.emit('loaded');
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      this.nextPrefetch();
    }
  }

  /** What each record made its receiver do (it never changes once delivered): a small cache. */
  private readonly modelsCache = new Map<number, Promise<ModelsAt>>();

  /**
   * The transitions record `seq`'s receiver took and the kernel code each models (`api/models`). A
   * failed request is not cached: asking again retries it.
   */
  models(seq: number): Promise<ModelsAt> {
    const hit = this.modelsCache.get(seq);
    if (hit) return hit;
    const p = this.source.models(seq);
    this.modelsCache.set(seq, p);
    p.catch(() => this.modelsCache.delete(seq));
    if (this.modelsCache.size > 64) {
      const oldest = this.modelsCache.keys().next();
      if (!oldest.done) this.modelsCache.delete(oldest.value);
    }
    return p;
  }

  /** One record, fetched if it is not loaded yet. */
  async fetchRecord(seq: number): Promise<LogRecord | undefined> {
    const have = this.records[seq];
    if (have) return have;
    if (seq < 1 || seq > this.lastSeq) return undefined;
    const rs = await this.source.records(seq, seq);
    this.addRecords(rs);
    return this.records[seq];
  }

  /**
   * The live run stopped (a step failed): said in the status line from now on (before the session's
   * warnings), and the timeline runs no more steps.
   */
  private markStopped(why: string): void {
    this.stopped = why;
    this.session = { ...this.session, stopped: why };
    this.baseStatus = [why, ...this.session.warnings].join(' · ');
    this.setStatus(this.baseStatus, true);
  }

  /** Apply a live step (from our POST or from the event stream); idempotent. */
  applyStep(s: StepResult): void {
    const grew = s.lastSeq > this.lastSeq;
    const follow = this.current === this.lastSeq;
    if (s.lastSeq >= this.lastSeq) {
      this.lastSeq = s.lastSeq;
      if (this.records.length < s.lastSeq + 1) this.records.length = s.lastSeq + 1;
    }
    this.nextStep = Math.max(this.nextStep, s.nextStep);
    this.addRecords(s.records);
    const before = this.actors.length;
    if (s.actors.length >= this.actors.length) {
      this.actors = [...s.actors];
      for (const a of this.actors) this.actorIndex.set(a.address, a);
      for (const a of this.actors) this.pseudo.delete(a.address);
    }
    this.session = { ...this.session, lastSeq: this.lastSeq, nextStep: this.nextStep, actors: this.actors };
    if (typeof s.stopped === 'string' && this.stopped === null) this.markStopped(s.stopped);
    this.emit('session');
    if (this.actors.length !== before) this.emit('actors');
    this.emit('records');
    // Records the event did not carry (e.g. several steps in another tab): fetch them.
    if (!this.fullyLoaded) void this.loadAll();
    if (grew && follow) this.setCurrent(this.lastSeq);
  }

  // ---- actors ----

  /** The process an address belongs to (threads and mms), else null. */
  processOf(address: string): string | null {
    return this.actorIndex.get(address)?.process ?? null;
  }

  // ---- current seq and states ----

  setCurrent(seq: number): void {
    const s = Math.max(0, Math.min(this.lastSeq, Math.round(seq)));
    if (s === this.current) return;
    this.current = s;
    this.emit('seq');
    this.requestState(s);
  }

  /** The cached state for a seq, if any. */
  cachedState(seq: number): StateAt | undefined {
    const st = this.states.get(seq);
    if (st) {
      // LRU: move to the end.
      this.states.delete(seq);
      this.states.set(seq, st);
    }
    return st;
  }

  /**
   * Ask for the state at `seq`. At most one request is in flight; while it runs, only the latest wanted
   * seq is remembered (playing or scrubbing never queues up requests).
   */
  requestState(seq: number): void {
    const hit = this.cachedState(seq);
    if (hit) {
      this.show(hit);
      return;
    }
    this.wantedState = seq;
    if (this.inflightState !== null) return;
    void this.pump();
  }

  private async pump(): Promise<void> {
    while (this.wantedState !== null) {
      const seq = this.wantedState;
      this.wantedState = null;
      this.inflightState = seq;
      try {
        const st = await this.source.state(seq);
        this.cache(seq, st);
        if (seq === this.current) this.show(st);
        if (this.statusError && this.stateError === null && this.recordsError === null) this.clearError();
      } catch (e) {
        if (seq === this.current) {
          const message = (e as Error).message;
          this.stateError = { seq, message: message.startsWith(`no state at #${seq}`) ? message : `no state at #${seq}: ${message}` };
          this.setStatus(this.stateError.message, true);
          // The panels show the reason where the state would be.
          this.emit('state');
        }
        this.releaseAfterPaint();
      } finally {
        this.inflightState = null;
      }
    }
    this.nextPrefetch();
  }

  private cache(seq: number, st: StateAt): void {
    this.states.set(seq, st);
    while (this.states.size > this.stateCap) {
      const oldest = this.states.keys().next();
      if (oldest.done) break;
      this.states.delete(oldest.value);
    }
  }

  private show(st: StateAt): void {
    this.shownState = st;
    if (this.stateError !== null) {
      this.stateError = null;
      if (this.recordsError === null) this.clearError();
    }
    this.releaseAfterPaint();
    // "Changed" marks compare with the state just before this message (fetched if not cached).
    const before = st.seq > 0 ? this.states.get(st.seq - 1) : undefined;
    this.previousState = before ?? null;
    if (!before && st.seq > 0) this.prefetch([st.seq - 1]);
    this.emit('state');
  }

  /**
   * Prefetch states (the previous seq for "changed" marks, the neighbours for stepping), one request at a
   * time and only while nothing else is wanted. A new call replaces the queue.
   */
  prefetch(seqs: readonly number[]): void {
    this.prefetchQueue = seqs.filter((s) => s >= 0 && s <= this.lastSeq);
    // Not while the records load: the server answers one request at a time.
    if (!this.loading) this.nextPrefetch();
  }
  private prefetchQueue: number[] = [];

  private nextPrefetch(): void {
    if (this.wantedState !== null) {
      void this.pump();
      return;
    }
    if (this.inflightState !== null || this.loading) return;
    let seq: number | undefined;
    while ((seq = this.prefetchQueue.shift()) !== undefined && this.states.has(seq));
    if (seq === undefined) return;
    const want = seq;
    this.inflightState = want;
    void this.source
      .state(want)
      .then((st) => {
        this.cache(want, st);
        if (this.shownState !== null && this.shownState.seq === want + 1 && this.previousState === null) {
          this.previousState = st;
          this.emit('state');
        }
      })
      .catch(() => undefined)
      .finally(() => {
        this.inflightState = null;
        this.nextPrefetch();
      });
  }

  // ---- selection and filters ----

  select(seq: number | null): void {
    if (seq === this.selected) return;
    this.selected = seq;
    this.emit('selection');
  }

  setFilter(key: FilterKey, values: ReadonlySet<string>): void {
    this.filters = { ...this.filters, [key]: values };
    this.emit('filters');
  }

  get filtering(): boolean {
    return FILTER_KEYS.some((k) => this.filters[k].size > 0);
  }

  /** The text of scenario step `index` (`spawn A`, `enqcmd A1 dsa0`…), or `null`. */
  stepText(index: number): string | null {
    const direct = this.session.steps[index];
    if (direct && direct.index === index) return direct.text;
    return this.session.steps.find((s) => s.index === index)?.text ?? null;
  }

  /** The step index of the record at `seq` (or of the last record before it). */
  stepAt(seq: number): number | null {
    for (let s = seq; s >= 1; s--) {
      const r = this.records[s];
      if (r) return r.step;
    }
    return null;
  }
}
