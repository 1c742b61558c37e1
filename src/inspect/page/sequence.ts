/**
 * The sequence diagram (`#sequence`): one lane per actor, one fixed-height row per message, an arrow from
 * the sender's lane to the receiver's, labelled with the type and a payload summary. Rows are virtualised
 * (only the visible ones are in the DOM, from a small pool), so 100k-record logs scroll freely. With more
 * than `MAX_LANES` lanes, each process's threads and mms share one lane unless it is filtered to.
 */
import { h } from './dom.ts';
import { recordFilter } from './filters.ts';
import { kindOf } from './kinds.ts';
import type { Model } from './model.ts';
import type { LogRecord } from './types.ts';

export const ROW_H = 22;
const HEAD_H = 38;
const MAX_LANES = 30;
const OVERSCAN = 8;

interface Lane {
  readonly id: string;
  readonly label: string;
  readonly sub: string;
  readonly title: string;
  readonly cls: string;
  /** The process whose actors this lane gathers (collapsed lanes). */
  readonly process: string | null;
}

export type LaneMode = 'auto' | 'actors' | 'processes';

interface RowEl {
  readonly el: HTMLDivElement;
  readonly seqEl: HTMLSpanElement;
  readonly stepEl: HTMLSpanElement;
  readonly arrow: HTMLSpanElement;
  readonly label: HTMLSpanElement;
  readonly typeEl: HTMLSpanElement;
  readonly payloadEl: HTMLSpanElement;
  seq: number;
}

const ROUTING = new Set(['seq', 'type', 'from', 'to', 'cause', 'step']);

/** `k=v` pairs of a record's payload, as in the CLI trace (DMAR reasons in hex). */
export function payloadText(r: LogRecord, max = 90): string {
  let out = '';
  for (const k in r) {
    if (ROUTING.has(k)) continue;
    const v = r[k];
    if (v === undefined) continue;
    const text = k === 'reason' && typeof v === 'number' ? `0x${v.toString(16)}` : typeof v === 'string' ? v : JSON.stringify(v);
    out += `${out === '' ? '' : ' '}${k}=${text}`;
    if (out.length > max) return `${out.slice(0, max)}…`;
  }
  return out;
}

const KIND_ORDER: Record<string, number> = { user: 0, kernel: 1, thread: 3, mm: 4, file: 4.5, wq: 5, iommu: 6, monitor: 7 };

export class SequencePanel {
  private lanes: Lane[] = [];
  private readonly laneOf = new Map<string, number>();
  private rows: Int32Array | null = null;
  private pool: RowEl[] = [];
  private laneW = 120;
  /** Width of the seq · step column (grows with the number of digits). */
  private gutter = 64;
  /** Total width of the diagram (gutter and lanes). */
  private width = 0;
  private mode: LaneMode = 'auto';
  private collapsed = false;
  private readonly head: HTMLDivElement;
  private readonly canvas: HTMLDivElement;
  private readonly note: HTMLDivElement;
  private raf = 0;
  private lastFiltered = -1;
  private filterFn: ((r: LogRecord) => boolean) | null = null;
  /** Scroller geometry, cached (read only when layout is clean: resize and scroll callbacks). */
  private dims = { w: 0, h: 0, top: 0, left: 0 };

  constructor(
    private readonly m: Model,
    private readonly root: HTMLElement,
    private readonly scroller: HTMLElement,
    private readonly onLaneClick: (lane: { id: string; process: string | null }) => void,
  ) {
    this.head = h('div', { class: 'seq-head' });
    this.canvas = h('div', { class: 'seq-canvas' });
    this.note = h('div', { class: 'seq-note', hidden: true });
    scroller.replaceChildren(this.head, this.canvas, this.note);
    // Geometry comes from the ResizeObserver (after layout); a rough guess until then.
    this.dims = { w: Math.max(400, window.innerWidth * 0.55), h: Math.max(200, window.innerHeight - 400), top: 0, left: 0 };
    scroller.addEventListener(
      'scroll',
      () => {
        this.dims.top = scroller.scrollTop;
        this.dims.left = scroller.scrollLeft;
        this.schedule();
      },
      { passive: true },
    );
    this.head.addEventListener('click', (e) => {
      const el = (e.target as HTMLElement).closest<HTMLElement>('.lane-head');
      const lane = this.lanes.find((l) => l.id === el?.dataset['lane']);
      if (lane) this.onLaneClick({ id: lane.id, process: lane.process });
    });
    this.canvas.addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>('.msg-row');
      const seq = Number(row?.dataset['seq']);
      if (row && Number.isInteger(seq) && seq > 0) this.m.setCurrent(seq);
    });
    if (typeof ResizeObserver !== 'undefined') {
      new ResizeObserver(() => {
        this.dims.w = scroller.clientWidth;
        this.dims.h = scroller.clientHeight;
        this.relayout(false);
        this.revealPending();
      }).observe(scroller);
    }
    m.on('records', () => this.onRecords());
    m.on('filters', () => {
      this.filterFn = recordFilter(this.m);
      this.recompute();
      this.reveal(true);
    });
    m.on('actors', () => this.recompute());
    m.on('session', () => this.recompute());
    m.on('seq', () => {
      // A jump to a record not loaded yet (large logs load as they are viewed): its row is scrolled to
      // now, its lanes once its chunk arrives (`onRecords`).
      this.pendingReveal = this.m.current > 0 && this.m.record(this.m.current) === undefined;
      this.render();
      this.reveal(false);
    });
    m.on('selection', () => this.render());
    this.filterFn = recordFilter(m);
    this.recompute();
    this.reveal(true);
  }

  /** Other lanes put the current message's arrow elsewhere: follow it sideways (and keep its row in view). */
  setMode(mode: LaneMode): void {
    this.mode = mode;
    this.recompute();
    this.reveal(false);
  }

  /**
   * The first reveal, and a jump's to a record not loaded yet, wait for the real geometry and the current
   * record (for the sideways part).
   */
  private pendingReveal = true;
  private revealPending(): void {
    if (!this.pendingReveal || this.dims.h === 0) return;
    if (this.m.current > 0 && this.m.record(this.m.current) === undefined) return;
    this.pendingReveal = false;
    this.reveal(true);
  }

  private onRecords(): void {
    this.revealPending();
    // Without filters rows are 1..lastSeq (placeholders fill in): only new lanes (e.g. `monitor`) or a
    // grown log need a relayout. With filters, new records may add rows.
    const laneSource = this.m.pseudo.size + this.m.actors.length;
    if (this.filterFn !== null || laneSource !== this.lastLaneSource || this.canvasRows !== this.rowCount) this.recompute();
    else this.render();
  }
  private lastLaneSource = -1;
  private canvasRows = -1;

  /** Rows and lanes from scratch (filters, lane mode, actors or record set changed). */
  private recompute(): void {
    const f = this.filterFn;
    if (f === null) this.rows = null;
    else {
      const out: number[] = [];
      const rs = this.m.records;
      for (let s = 1; s <= this.m.lastSeq; s++) {
        const r = rs[s];
        if (r !== undefined && f(r)) out.push(s);
      }
      this.rows = Int32Array.from(out);
    }
    this.lastFiltered = this.m.loadedCount;
    this.lastLaneSource = this.m.pseudo.size + this.m.actors.length;
    this.computeLanes();
    this.relayout(true);
  }

  private get rowCount(): number {
    return this.rows === null ? this.m.lastSeq : this.rows.length;
  }
  private seqAt(i: number): number {
    return this.rows === null ? i + 1 : (this.rows[i] ?? 0);
  }
  /** Index of the last row whose seq is ≤ seq (-1 if none). */
  private indexAtOrBefore(seq: number): number {
    if (this.rows === null) return Math.min(seq, this.m.lastSeq) - 1;
    let lo = 0;
    let hi = this.rows.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.rows[mid] ?? 0) <= seq) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  private computeLanes(): void {
    const m = this.m;
    const f = m.filters;
    const focus = new Set<string>(f.process);
    for (const t of f.thread) {
      const p = m.processOf(`thread:${t}`);
      if (p !== null) focus.add(p);
    }
    const pseudo = [...m.pseudo];
    const full = 1 + m.actors.length + pseudo.length;
    this.collapsed = this.mode === 'processes' || (this.mode === 'auto' && full > MAX_LANES);
    // Canonical order: user, kernel, processes (their threads, then mms), devices, iommu, monitor.
    type Entry = { address: string; kind: string; process: string | null; order: number };
    const entries: Entry[] = [];
    const procOrder = new Map<string, number>();
    let i = 0;
    for (const a of m.actors) {
      i++;
      if (a.process !== null && !procOrder.has(a.process)) procOrder.set(a.process, i);
      entries.push({ address: a.address, kind: a.kind, process: a.process, order: i });
    }
    for (const p of pseudo) entries.push({ address: p, kind: p === 'user' ? 'user' : p === 'monitor' ? 'monitor' : 'other', process: null, order: 0 });
    entries.sort((a, b) => {
      const ka = a.process !== null ? 2 : (KIND_ORDER[a.kind] ?? 8);
      const kb = b.process !== null ? 2 : (KIND_ORDER[b.kind] ?? 8);
      if (ka !== kb) return ka - kb;
      if (a.process !== null && b.process !== null && a.process !== b.process) return (procOrder.get(a.process) ?? 0) - (procOrder.get(b.process) ?? 0);
      if (a.kind !== b.kind) return (KIND_ORDER[a.kind] ?? 8) - (KIND_ORDER[b.kind] ?? 8);
      return a.order - b.order;
    });
    // Which lanes the visible rows touch (when filtering, others are hidden).
    let used: Set<string> | null = null;
    if (this.rows !== null) {
      used = new Set(['user']);
      for (const s of this.rows) {
        const r = m.records[s];
        if (r) {
          used.add(r.from);
          used.add(r.to);
        }
      }
    }
    const lanes: Lane[] = [];
    this.laneOf.clear();
    const procLane = new Map<string, number>();
    const counts = new Map<string, number>();
    if (this.collapsed) for (const e of entries) if (e.process !== null) counts.set(e.process, (counts.get(e.process) ?? 0) + 1);
    for (const e of entries) {
      if (used !== null && !used.has(e.address)) continue;
      if (this.collapsed && e.process !== null && !focus.has(e.process)) {
        const have = procLane.get(e.process);
        if (have !== undefined) {
          this.laneOf.set(e.address, have);
          continue;
        }
        procLane.set(e.process, lanes.length);
        this.laneOf.set(e.address, lanes.length);
        lanes.push({
          id: `process:${e.process}`,
          label: e.process,
          sub: `process · ${counts.get(e.process) ?? 0}`,
          title: `process ${e.process}: its threads and mms in one lane (filter to the process to split it)`,
          cls: 'lane-process',
          process: e.process,
        });
        continue;
      }
      const colon = e.address.indexOf(':');
      const name = colon < 0 ? e.address : e.address.slice(colon + 1);
      const kind = colon < 0 ? e.address : e.address.slice(0, colon);
      this.laneOf.set(e.address, lanes.length);
      lanes.push({
        id: e.address,
        label: kind === 'mm' ? e.address : name,
        sub: kind === 'thread' || kind === 'mm' || kind === 'file' ? `${kind}${e.process !== null && e.process !== name ? ` · ${e.process}` : ''}` : kind === name ? '' : kind,
        title: e.address,
        cls: `lane-${kind}`,
        process: e.process,
      });
    }
    this.lanes = lanes;
  }

  /** Sizes, lane headers and the spacer; then rows. */
  private relayout(force: boolean): void {
    const n = Math.max(1, this.lanes.length);
    const lastStep = this.m.session.steps.length;
    const gutter = Math.max(64, 22 + 7 * (String(this.m.lastSeq).length + 1) + 7 * (String(lastStep).length + 1));
    if (gutter !== this.gutter) {
      this.gutter = gutter;
      force = true;
    }
    const avail = this.dims.w - this.gutter - 2;
    // Many lanes (hundreds of processes): narrower, the view follows the current message sideways.
    const min = n > MAX_LANES ? 64 : 58;
    const w = Math.max(min, Math.min(200, Math.floor(avail / n)));
    if (!force && w === this.laneW) {
      this.render();
      return;
    }
    this.laneW = w;
    const width = this.gutter + n * w;
    this.width = width;
    this.root.style.setProperty('--lane-w', `${w}px`);
    this.root.style.setProperty('--gutter', `${this.gutter}px`);
    this.root.style.setProperty('--seq-w', `${7 * (String(this.m.lastSeq).length + 1) + 4}px`);
    this.head.style.width = `${width}px`;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${this.rowCount * ROW_H}px`;
    this.canvasRows = this.rowCount;
    this.head.replaceChildren(
      h('div', { class: 'lane-gutter' }, this.lanes.some((l) => l.process !== null && l.id.startsWith('process:')) ? 'seq · per process' : 'seq · step'),
      ...this.lanes.map((l, i) => {
        return h(
          'div',
          { class: `lane-head ${l.cls}`, style: `left:${this.gutter + i * w}px;width:${w}px`, title: l.title, 'data-lane': l.id },
          h('span', { class: 'lane-name' }, l.label),
          h('span', { class: 'lane-sub' }, l.sub),
        );
      }),
    );
    const empty = this.rowCount === 0;
    this.note.hidden = !empty;
    this.note.textContent = empty ? (this.m.filtering ? 'no message matches the filters' : 'no messages yet') : '';
    this.root.dataset['lanes'] = String(this.lanes.length);
    this.root.classList.toggle('collapsed-lanes', this.collapsed);
    this.render();
  }

  private schedule(): void {
    if (this.raf !== 0) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.draw();
    });
  }

  private makeRow(): RowEl {
    const seqEl = h('span', { class: 'seq' });
    const stepEl = h('span', { class: 'step' });
    const gutter = h('span', { class: 'gutter' }, h('span', { class: 'mark' }), seqEl, stepEl);
    const arrow = h('span', { class: 'arrow' });
    const typeEl = h('span', { class: 'type' });
    const payloadEl = h('span', { class: 'payload' });
    const label = h('span', { class: 'label' }, typeEl, payloadEl);
    const el = h('div', { class: 'msg-row' }, gutter, arrow, label);
    return { el, seqEl, stepEl, arrow, label, typeEl, payloadEl, seq: 0 };
  }

  /** Draw the visible rows at the next frame (calls within a frame coalesce). */
  render(): void {
    this.schedule();
  }

  /** Draw the visible rows (reusing the pool). */
  private draw(): void {
    if (this.m.loadedCount !== this.lastFiltered && this.filterFn !== null) {
      this.recompute();
      return;
    }
    const top = Math.max(0, this.dims.top - HEAD_H);
    const height = this.dims.h;
    const count = this.rowCount;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(count - 1, Math.ceil((top + height) / ROW_H) + OVERSCAN);
    const need = Math.max(0, last - first + 1);
    if (need > 0 && !this.m.fullyLoaded) this.m.ensure(this.seqAt(first), this.seqAt(last));
    while (this.pool.length < need) {
      const r = this.makeRow();
      this.pool.push(r);
      this.canvas.append(r.el);
    }
    const w = this.laneW;
    const x = (lane: number): number => this.gutter + lane * w + w / 2;
    const cur = this.m.current;
    const sel = this.m.selected;
    // Row i always uses pool element i % size: while a row stays in range it keeps its element (a
    // click or a test that scrolls a row into view still finds the same element).
    const size = this.pool.length;
    for (let k = 0; k < size; k++) {
      const row = this.pool[k];
      if (!row) continue;
      const i = first + ((((k - first) % size) + size) % size);
      if (i > last) {
        if (!row.el.hidden) row.el.hidden = true;
        continue;
      }
      row.el.hidden = false;
      const seq = this.seqAt(i);
      const r = this.m.records[seq];
      row.seq = seq;
      row.el.style.transform = `translateY(${i * ROW_H}px)`;
      row.el.dataset['seq'] = String(seq);
      row.seqEl.textContent = `#${seq}`;
      if (!r) {
        // Not loaded: on its way, or its request failed (then the reason, not "loading…" forever).
        const failed = this.m.recordsError !== null && !this.m.busy;
        const text = failed ? `not loaded: ${this.m.recordsError ?? ''}` : 'loading…';
        row.el.className = failed ? 'msg-row loading failed' : 'msg-row loading';
        delete row.el.dataset['type'];
        row.stepEl.textContent = '';
        row.typeEl.textContent = text;
        row.payloadEl.textContent = '';
        row.arrow.style.display = 'none';
        this.placeLabel(row, this.gutter + 6, text, '', null);
        continue;
      }
      const prev = i > 0 ? this.m.records[this.seqAt(i - 1)] : undefined;
      const stepStart = prev === undefined || prev.step !== r.step;
      const kind = kindOf(r.type);
      let cls = `msg-row ${kind.cls}`;
      if (stepStart) cls += ' step-start';
      if (seq === cur) cls += ' current';
      else if (seq > cur) cls += ' future';
      if (seq === sel) cls += ' selected';
      if (r['suppressed'] === true) cls += ' suppressed';
      if (r.cause === undefined) cls += ' input';
      row.el.className = cls;
      row.el.dataset['type'] = r.type;
      row.stepEl.textContent = stepStart ? `s${r.step}` : '';
      row.stepEl.title = stepStart ? `step ${r.step}: ${this.m.stepText(r.step) ?? ''}` : '';
      const a = this.laneOf.get(r.from);
      const b = this.laneOf.get(r.to);
      row.typeEl.textContent = r.type;
      row.payloadEl.textContent = payloadText(r);
      row.el.title = `#${seq} ${r.type}  ${r.from} → ${r.to}${r.cause !== undefined ? `  (cause #${r.cause})` : ''}`;
      const st = row.arrow.style;
      if (a === undefined || b === undefined) {
        st.display = 'none';
        this.placeLabel(row, this.gutter + 6, r.type, row.payloadEl.textContent, null);
        continue;
      }
      st.display = '';
      if (a === b) {
        row.arrow.className = 'arrow self';
        st.left = `${x(a)}px`;
        st.width = '14px';
        this.placeLabel(row, x(a) + 20, r.type, row.payloadEl.textContent, x(a) - 6);
      } else {
        const x1 = x(a);
        const x2 = x(b);
        row.arrow.className = `arrow ${x2 > x1 ? 'ltr' : 'rtl'}`;
        const lo = Math.min(x1, x2);
        const hi = Math.max(x1, x2);
        st.left = `${lo}px`;
        st.width = `${hi - lo}px`;
        // Long arrows scrolled half out of view keep their label in view.
        const viewLeft = this.dims.left + this.gutter + 8;
        this.placeLabel(row, Math.max(lo + 8, viewLeft), r.type, row.payloadEl.textContent, lo - 8);
      }
    }
    this.markLanes();
  }

  /**
   * Put a row's label at `left`. If the whole label (type and payload, estimated) would run past the
   * visible right edge, it goes on the left of the arrow instead (right-aligned to `leftEnd`, the arrow's
   * left end) when that side has room, else as far left as needed, so the text stays readable. The
   * payload is cut with an ellipsis only when neither side has room.
   */
  private placeLabel(row: RowEl, left: number, type: string, payload: string | null, leftEnd: number | null): void {
    const st = row.label.style;
    const typeW = 7.4 * type.length + 12;
    // Monospace at 12px (type) and 11px (payload): about 0.6em a character, plus padding and the gap.
    const fullW = 7.25 * type.length + 8 + (payload ? 6 + 6.65 * payload.length : 0);
    const viewLeft = this.dims.left + this.gutter + 4;
    const viewRight = Math.min(this.width, this.dims.left + (this.dims.w > 0 ? this.dims.w : this.width)) - 4;
    let x = left;
    if (left + fullW > viewRight) {
      if (leftEnd !== null && leftEnd - fullW >= viewLeft) x = leftEnd - fullW;
      else x = Math.max(viewLeft, Math.min(left, viewRight - fullW));
    }
    // Never past the diagram's right end.
    if (x + typeW > this.width) x = Math.max(this.gutter + 4, this.width - typeW);
    st.left = `${Math.round(x)}px`;
    st.maxWidth = `${Math.max(40, this.width - x - 2)}px`;
  }

  private markLanes(): void {
    const r = this.m.record(this.m.current);
    const from = r ? this.laneOf.get(r.from) : undefined;
    const to = r ? this.laneOf.get(r.to) : undefined;
    const heads = this.head.children;
    for (let i = 1; i < heads.length; i++) {
      const el = heads[i];
      if (!el) continue;
      el.classList.toggle('from', from === i - 1);
      el.classList.toggle('to', to === i - 1);
    }
  }

  /** Keep the current seq's row in view (centre it if it is out of view, or always with `force`). */
  reveal(force: boolean): void {
    // The scroll position as it is now: a scroll by the user (or a script) whose event has not been
    // dispatched yet would otherwise leave the cached one stale and the message out of view.
    this.dims.top = this.scroller.scrollTop;
    this.dims.left = this.scroller.scrollLeft;
    const i = this.indexAtOrBefore(this.m.current);
    if (i < 0) {
      // Before the first row (seq 0, or every shown row is later): the top of the diagram.
      if (force || this.dims.top !== 0 || this.scroller.scrollTop !== 0) {
        this.scroller.scrollTop = 0;
        this.dims.top = 0;
      }
      this.render();
      return;
    }
    const y = HEAD_H + i * ROW_H;
    const top = this.dims.top;
    const h = this.dims.h;
    if (force || y < top + HEAD_H || y + ROW_H > top + h) {
      const want = Math.max(0, Math.min(y - h / 2, HEAD_H + this.rowCount * ROW_H - h));
      this.scroller.scrollTop = want;
      this.dims.top = want;
    }
    // Sideways: keep the current message's arrow (or at least its receiver) in view.
    const r = this.m.record(this.seqAt(i));
    const a = r ? this.laneOf.get(r.from) : undefined;
    const b = r ? this.laneOf.get(r.to) : undefined;
    if (a !== undefined && b !== undefined) {
      const w = this.laneW;
      const lo = this.gutter + Math.min(a, b) * w;
      const hi = this.gutter + (Math.max(a, b) + 1) * w;
      const left = this.dims.left;
      const view = this.dims.w - this.gutter;
      if (lo < left + this.gutter || hi > left + this.dims.w) {
        const target = hi - lo <= view ? lo - this.gutter - (view - (hi - lo)) / 2 : this.gutter + b * w - this.gutter - view / 2;
        const want = Math.max(0, Math.round(target));
        if (Math.abs(want - left) > 1) {
          this.scroller.scrollLeft = want;
          this.dims.left = want;
        }
      }
    }
    this.render();
  }
}
