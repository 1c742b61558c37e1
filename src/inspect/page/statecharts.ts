/**
 * The statecharts panel (`#statecharts`): every actor, grouped by process (its mms, threads and the
 * device files it opened; the group's summary names its descriptors and mappings), then the devices, the
 * IOMMU and the kernel. Each actor is one `.actor[data-actor][data-state]` element: a pill
 * (name, state, key facts) always, and when its group is open and it scrolls into view, its statechart
 * with the current state highlighted and its context beside it. Collapsed groups show only the pills.
 */
import { buildTemplate, highlight, instantiate, type ChartInstance } from './chart.ts';
import { compact, h, shortName } from './dom.ts';
import { actorFilter } from './filters.ts';
import type { Model } from './model.ts';
import type { ActorInfo, ActorKind, ActorState, MachineLayout } from './types.ts';

interface Card {
  readonly info: ActorInfo;
  readonly el: HTMLElement;
  readonly stateEl: HTMLElement;
  readonly factEl: HTMLElement;
  body: HTMLElement | null;
  chart: ChartInstance | null;
  ctxEl: HTMLElement | null;
  group: Group;
  shownKey: string;
  /** The state the chart was last scrolled to. */
  scrolledTo: string | null;
}

interface Group {
  readonly key: string;
  readonly title: string;
  readonly el: HTMLElement;
  readonly body: HTMLElement;
  readonly countEl: HTMLElement;
  readonly summaryEl: HTMLElement;
  readonly cards: Card[];
  open: boolean;
}

/** Context keys not worth a line (fixed for the whole run, or shown in the header). */
const HIDDEN: Partial<Record<ActorKind, ReadonlySet<string>>> = {
  thread: new Set(['name', 'process']),
  mm: new Set(['id', 'process', 'policy', 'cpu']),
  iommu: new Set(['policy']),
  wq: new Set(['device']),
  // A file's address is its id; `holder` is its first reference, already in `holders`.
  file: new Set(['id', 'holder']),
};
const LABEL: Record<string, string> = { msr: 'IA32_PASID', activated: 'activated', bindings: 'binds', users: 'users (mm_users)' };
/** Labels per kind, where a kind's field means something of its own. */
const KIND_LABEL: Partial<Record<ActorKind, Readonly<Record<string, string>>>> = {
  mm: { fds: 'fd table', maps: 'mappings', grabs: 'grabs (SVA bonds: mm_count)' },
  file: { mm: 'ctx->mm', pasid: 'ctx->pasid', sva: 'SVA bound (ctx->sva)', holders: 'holders (f_count)', safe: 'user_submission_safe' },
};

/** A process's fd table in one line: `dsa0→file:1.1, wq→file:1.2 (O_CLOEXEC)`; `none` when empty. */
export function fdTableText(fds: unknown): string {
  if (fds === null || typeof fds !== 'object') return compact(fds);
  const parts = Object.entries(fds as Record<string, unknown>).map(([name, e]) => {
    const f = e !== null && typeof e === 'object' ? (e as { file?: unknown; cloexec?: unknown }) : {};
    return `${name}→${typeof f.file === 'string' ? f.file : '?'}${f.cloexec === true ? ' (O_CLOEXEC)' : ''}`;
  });
  return parts.join(', ') || 'none';
}

/** An mm's portal mappings in one line: `dsa0 (file:1.1)`; `none` when empty. */
export function mappingsText(maps: unknown): string {
  if (!Array.isArray(maps)) return compact(maps);
  return (
    maps
      .map((m: unknown) => {
        const x = m !== null && typeof m === 'object' ? (m as { device?: unknown; file?: unknown }) : {};
        return `${typeof x.device === 'string' ? x.device : '?'} (${typeof x.file === 'string' ? x.file : '?'})`;
      })
      .join(', ') || 'none'
  );
}

function contextRows(kind: ActorKind, ctx: unknown): [string, string, string][] {
  if (ctx === null || typeof ctx !== 'object') return [['context', compact(ctx), '']];
  const hidden = HIDDEN[kind];
  const rows: [string, string, string][] = [];
  for (const [k, v] of Object.entries(ctx as Record<string, unknown>)) {
    if (hidden?.has(k)) continue;
    let text = compact(v, 10);
    if (kind === 'thread' && k === 'msr') text = v === null ? 'unset' : `${String(v)}  (MSR 0x${((Number(v) | 0x80000000) >>> 0).toString(16)})`;
    if (kind === 'mm' && k === 'pasid' && v === null) text = 'none';
    if (kind === 'mm' && k === 'fds') text = fdTableText(v);
    if (kind === 'mm' && k === 'maps') text = mappingsText(v);
    if (kind === 'file' && k === 'holders' && Array.isArray(v)) text = `${v.length}: ${v.join(' ') || 'none'}`;
    if (kind === 'wq' && k === 'queue' && Array.isArray(v)) text = `${v.length} queued${v.length > 0 ? ` ${compact(v, 4)}` : ''}`;
    rows.push([KIND_LABEL[kind]?.[k] ?? LABEL[k] ?? k, text, JSON.stringify(v) ?? '']);
  }
  return rows;
}

/** A few words for the pill: the facts a kernel engineer looks for first. */
function facts(kind: ActorKind, ctx: unknown): string {
  if (ctx === null || typeof ctx !== 'object') return '';
  const c = ctx as Record<string, unknown>;
  switch (kind) {
    case 'thread':
      return c['msr'] === null || c['msr'] === undefined ? 'MSR unset' : `MSR ${String(c['msr'])}${c['activated'] === true ? '' : ' (!act)'}`;
    case 'mm': {
      const pasid = c['pasid'] === null || c['pasid'] === undefined ? 'no PASID' : `PASID ${String(c['pasid'])}`;
      const fds = c['fds'] !== null && typeof c['fds'] === 'object' ? Object.keys(c['fds']).length : 0;
      const maps = Array.isArray(c['maps']) ? c['maps'].length : 0;
      return `${pasid}${fds > 0 ? ` · ${fds} fd${fds === 1 ? '' : 's'}` : ''}${maps > 0 ? ` · ${maps} map${maps === 1 ? '' : 's'}` : ''}`;
    }
    case 'file': {
      // The device, ctx->pasid, and f_count: what keeps the file (and its bond's mm) alive.
      const n = Array.isArray(c['holders']) ? c['holders'].length : 0;
      return `${String(c['device'] ?? '?')} · PASID ${String(c['pasid'] ?? '?')}${c['sva'] === false ? ' (unbound)' : ''} · ${n} ref${n === 1 ? '' : 's'}`;
    }
    case 'wq': {
      // Occupancy against the queue's size, the threshold apart (a limited portal is accepted below it).
      const q = Array.isArray(c['queue']) ? c['queue'].length : 0;
      return `occ ${q}/${String(c['wqSize'] ?? '?')} thr ${String(c['threshold'] ?? '?')}`;
    }
    case 'iommu': {
      const owner = c['owner'];
      const n = owner !== null && typeof owner === 'object' ? Object.keys(owner).length : 0;
      return `${n} PASID${n === 1 ? '' : 's'}`;
    }
    default:
      return '';
  }
}

/**
 * Where to scroll a chart `view` px wide so the followed state stays whole (any scroll in `lo`..`hi`)
 * while cutting as few labels and state boxes as possible at the box's edges: among the positions that
 * put an edge just beside a label or box, the one that cuts the fewest, the nearest to `centred` on a
 * tie. A span's optional third element weighs its cut (default 1). With `lo` > `hi` (the state and its
 * margins are wider than the view) it is `centred`.
 */
export function leastCutScroll(spans: readonly (readonly [number, number, number?])[], view: number, lo: number, hi: number, centred: number): number {
  if (lo > hi) return centred;
  const cuts = (x: number): number => {
    let n = 0;
    for (const [a, b, weight] of spans) if ((a < x && x < b) || (a < x + view && x + view < b)) n += weight ?? 1;
    return n;
  };
  const candidates = [lo, hi, Math.max(lo, Math.min(hi, centred))];
  const gap = 3;
  for (const [a, b] of spans) candidates.push(a - gap, b + gap, a - gap - view, b + gap - view);
  let best = candidates[2] ?? lo;
  let bestCuts = Infinity;
  for (const c of candidates) {
    if (c < lo || c > hi) continue;
    const n = cuts(c);
    if (n < bestCuts || (n === bestCuts && Math.abs(c - centred) < Math.abs(best - centred))) {
      best = c;
      bestCuts = n;
    }
  }
  return best;
}

/**
 * `leastCutScroll` over a drawn chart: its labels and its simple states' boxes, in px from the chart's
 * left. Those more than a panel's height above or below the followed state (`leaf`) are not seen with it
 * (following scrolls the panel to it): they only break ties.
 */
function leastCut(svg: SVGSVGElement, leaf: Element | null, panelH: number, view: number, lo: number, hi: number, centred: number): number {
  const left = svg.getBoundingClientRect().left;
  const at = leaf?.getBoundingClientRect();
  const spans: [number, number, number][] = [];
  for (const el of svg.querySelectorAll('text, g.sc-node:not(.compound) > rect')) {
    const r = el.getBoundingClientRect();
    if (r.width <= 0) continue;
    const near = at === undefined || (r.bottom > at.top - panelH && r.top < at.bottom + panelH);
    spans.push([r.left - left, r.right - left, near ? 1 : 0.01]);
  }
  return leastCutScroll(spans, view, lo, hi, centred);
}

const KIND_ORDER: Readonly<Record<string, number>> = { mm: 0, thread: 1, file: 2, wq: 3, iommu: 4, kernel: 5 };
/** Registered kinds' actors come after svasim's. */
const kindOrder = (kind: ActorKind): number => KIND_ORDER[kind] ?? 6;
/** Kinds shown in their process's group: a file goes with the process that opened it. */
const PROCESS_KINDS: ReadonlySet<ActorKind> = new Set(['thread', 'mm', 'file']);
/** The panel's padding (2 × 8px), a group's borders (2 × 1px) and its body's padding (2 × 6px), rounded up. */
const CARD_INSET = 32;
/** Room kept beside a followed state when its chart scrolls: the edges and labels next to it. */
const LEAF_MARGIN = 24;

export class StatechartsPanel {
  private groups: Group[] = [];
  private readonly cards = new Map<string, Card>();
  private readonly templates = new Map<ActorKind, SVGSVGElement>();
  private readonly observer: IntersectionObserver | null;
  private readonly userToggled = new Map<string, boolean>();
  private zoom = 0.8;
  private follow = true;
  private zoomed: { card: Card; chart: ChartInstance; el: HTMLElement; title: HTMLElement; onKey: (e: KeyboardEvent) => void } | null = null;
  private readonly list: HTMLElement;
  /** Why the current seq has no state (a failed request), shown above the cards. */
  private readonly errorEl: HTMLElement;
  /** The panel's width, cached from a ResizeObserver (no forced layout per chart). */
  private width = 600;

  constructor(
    private readonly m: Model,
    private readonly root: HTMLElement,
    private readonly scroller: HTMLElement,
    zoomEl: HTMLElement | null,
  ) {
    this.list = h('div', { class: 'groups' });
    // Above the scrolling charts (not inside them): in view whichever actor the panel follows.
    this.errorEl = h('div', { class: 'panel-error', id: 'statecharts-error', role: 'alert', hidden: true });
    scroller.before(this.errorEl);
    root.replaceChildren(this.list);
    this.list.addEventListener('click', (e) => this.onCardClick(e));
    this.observer =
      typeof IntersectionObserver === 'undefined'
        ? null
        : new IntersectionObserver((entries) => this.onVisible(entries), { root: scroller, rootMargin: '300px 0px' });
    this.width = Math.max(300, window.innerWidth * 0.4);
    if (typeof ResizeObserver !== 'undefined') {
      let drawnAt = this.width;
      let timer = 0;
      new ResizeObserver(() => {
        this.width = scroller.clientWidth;
        // A much wider or narrower panel: redraw the charts at a scale that fits (once resizing settles).
        if (Math.abs(this.width - drawnAt) < 80) return;
        window.clearTimeout(timer);
        timer = window.setTimeout(() => {
          drawnAt = this.width;
          for (const c of this.cards.values()) this.dropBody(c);
          this.observeAll();
        }, 200);
      }).observe(scroller);
    }
    if (zoomEl) this.buildZoom(zoomEl);
    this.build();
    m.on('actors', () => this.build());
    m.on('state', () => {
      this.update();
      if (this.followPending) this.followCurrent();
    });
    m.on('seq', () => {
      this.update();
      this.followCurrent();
    });
    // The current record arrived (large logs load records as they are viewed): follow it now.
    m.on('records', () => {
      if (this.followPending) this.followCurrent();
    });
    m.on('filters', () => this.applyFilter(true));
  }

  private buildZoom(el: HTMLElement): void {
    const out = h('span', { class: 'zoom-value' }, `${Math.round(this.zoom * 100)}%`);
    const set = (z: number): void => {
      this.zoom = Math.max(0.3, Math.min(1.5, Math.round(z * 10) / 10));
      out.textContent = `${Math.round(this.zoom * 100)}%`;
      for (const c of this.cards.values()) this.dropBody(c);
      this.observeAll();
    };
    const minus = h('button', { type: 'button', class: 'btn small', title: 'smaller charts', id: 'btn-zoom-out' }, '−');
    const plus = h('button', { type: 'button', class: 'btn small', title: 'larger charts', id: 'btn-zoom-in' }, '+');
    minus.addEventListener('click', () => set(this.zoom - 0.1));
    plus.addEventListener('click', () => set(this.zoom + 0.1));
    const follow = h('input', { type: 'checkbox', id: 'follow-actor', checked: true });
    follow.addEventListener('change', () => (this.follow = follow.checked));
    const followLabel = h('label', { class: 'check', title: 'scroll to the actor receiving the current message' }, follow, 'follow');
    const expand = h('button', { type: 'button', class: 'btn small', title: 'open every group shown', id: 'btn-open-all' }, '▾ all');
    const collapse = h('button', { type: 'button', class: 'btn small', title: 'close every group', id: 'btn-close-all' }, '▸ all');
    expand.addEventListener('click', () => this.setAll(true));
    collapse.addEventListener('click', () => this.setAll(false));
    el.replaceChildren(followLabel, expand, collapse, minus, out, plus);
  }

  private setAll(open: boolean): void {
    for (const g of this.groups) {
      if (g.el.hidden) continue;
      this.userToggled.set(g.key, open);
      this.setOpen(g, open);
    }
  }

  private layout(kind: ActorKind): MachineLayout | undefined {
    return this.m.session.machines[kind];
  }

  private template(kind: ActorKind): SVGSVGElement | null {
    let t = this.templates.get(kind);
    if (t) return t;
    const l = this.layout(kind);
    if (!l || l.nodes.length === 0) return null;
    t = buildTemplate(l);
    this.templates.set(kind, t);
    return t;
  }

  /** (Re)build groups and cards from the actor list, keeping open/closed state. */
  private build(): void {
    const wasOpen = new Map(this.groups.map((g) => [g.key, g.open]));
    // Live steps add actors: the cards that exist already (and their drawn charts) are kept.
    const old = new Map(this.cards);
    // Moving a card into its new group takes it out of the document, which drops its chart's sideways
    // scroll: kept here and set again once the groups are in place (else a followed state scrolled into
    // view stays cut, its chart back at the left end, until its state changes).
    const scrolled: [HTMLElement, number][] = [];
    for (const c of old.values()) {
      const box = c.chart?.svg.parentElement;
      if (box && box.scrollLeft > 0) scrolled.push([box, box.scrollLeft]);
    }
    this.observer?.disconnect();
    this.cards.clear();
    const byKey = new Map<string, { title: string; actors: ActorInfo[]; order: number }>();
    const add = (key: string, title: string, order: number, a: ActorInfo): void => {
      let g = byKey.get(key);
      if (!g) byKey.set(key, (g = { title, actors: [], order }));
      g.actors.push(a);
    };
    let i = 0;
    for (const a of this.m.actors) {
      i++;
      if (PROCESS_KINDS.has(a.kind) && a.process !== null) add(`proc:${a.process}`, `process ${a.process}`, i, a);
      else if (a.device !== null) add('devices', 'devices', 1e9, a);
      else if (a.kind === 'iommu') add('iommu', 'IOMMU', 1e9 + 1, a);
      else if (a.kind === 'kernel') add('kernel', 'kernel', 1e9 + 2, a);
      else add('other', 'other', 1e9 + 3, a);
    }
    const many = this.m.actors.length > 60;
    this.groups = [...byKey.entries()]
      .sort((a, b) => a[1].order - b[1].order)
      .map(([key, g]) => {
        const open = this.userToggled.get(key) ?? wasOpen.get(key) ?? (!many || !key.startsWith('proc:'));
        const countEl = h('span', { class: 'group-count' });
        const summaryEl = h('span', { class: 'group-summary' });
        const toggle = h('button', { type: 'button', class: 'group-toggle', 'aria-expanded': String(open) }, h('span', { class: 'caret' }), g.title);
        const head = h('div', { class: 'group-head' }, toggle, countEl, summaryEl);
        if (key.startsWith('proc:')) {
          const proc = key.slice(5);
          const only = h('button', { type: 'button', class: 'btn tiny', title: `filter everything to process ${proc}` }, 'filter');
          only.addEventListener('click', () => this.m.setFilter('process', new Set([proc])));
          head.append(only);
        }
        const body = h('div', { class: 'group-body' });
        const el = h('section', { class: `group${open ? '' : ' collapsed'}`, 'data-group': key }, head, body);
        const group: Group = { key, title: g.title, el, body, countEl, summaryEl, cards: [], open };
        toggle.addEventListener('click', () => {
          this.userToggled.set(key, !group.open);
          this.setOpen(group, !group.open);
        });
        const actors = [...g.actors].sort((a, b) => kindOrder(a.kind) - kindOrder(b.kind));
        for (const a of actors) {
          const had = old.get(a.address);
          const card = had && had.info.kind === a.kind ? had : this.makeCard(a, group);
          card.group = group;
          group.cards.push(card);
          body.append(card.el);
          this.cards.set(a.address, card);
        }
        countEl.textContent = `${group.cards.length}`;
        return group;
      });
    this.list.replaceChildren(...this.groups.map((g) => g.el));
    for (const [box, left] of scrolled) box.scrollLeft = left;
    this.applyFilter(false);
    this.update();
  }

  /** One card's skeleton, cloned per actor (much cheaper than building thousands element by element). */
  private cardTemplate: HTMLElement | null = null;

  private makeCard(a: ActorInfo, group: Group): Card {
    this.cardTemplate ??= h(
      'div',
      { class: 'actor', 'data-state': '' },
      h('div', { class: 'actor-head' }, h('span', { class: 'kind-badge' }), h('span', { class: 'actor-name' }), h('span', { class: 'state-pill' }), h('span', { class: 'facts' })),
    );
    const el = this.cardTemplate.cloneNode(true) as HTMLElement;
    el.className = `actor k-${a.kind}`;
    el.dataset['actor'] = a.address;
    el.dataset['kind'] = a.kind;
    const head = el.firstElementChild as HTMLElement;
    const [badge, name, stateEl, factEl] = [...head.children] as HTMLElement[];
    if (!badge || !name || !stateEl || !factEl) throw new Error('card template');
    badge.textContent = a.kind;
    name.textContent = a.kind === 'thread' ? shortName(a.address) : a.address;
    name.title = a.address;
    return { info: a, el, stateEl, factEl, body: null, chart: null, ctxEl: null, group, shownKey: '', scrolledTo: null };
  }

  /** A click on a pill in a closed group opens the group (one listener for the whole panel). */
  private onCardClick(e: MouseEvent): void {
    const head = (e.target as HTMLElement).closest('.actor-head');
    const el = head?.parentElement;
    const c = el ? this.cards.get(el.dataset['actor'] ?? '') : undefined;
    if (!c || c.group.open) return;
    this.userToggled.set(c.group.key, true);
    this.setOpen(c.group, true);
    requestAnimationFrame(() => c.el.scrollIntoView({ block: 'nearest' }));
  }

  private setOpen(g: Group, open: boolean): void {
    g.open = open;
    g.el.classList.toggle('collapsed', !open);
    g.el.querySelector('.group-toggle')?.setAttribute('aria-expanded', String(open));
    if (open) for (const c of g.cards) this.observe(c);
    else for (const c of g.cards) this.observer?.unobserve(c.el);
  }

  private observe(c: Card): void {
    if (c.body) return;
    if (this.observer) this.observer.observe(c.el);
    else this.renderBody(c);
  }

  private observeAll(): void {
    for (const g of this.groups) if (g.open && !g.el.hidden) for (const c of g.cards) this.observe(c);
  }

  private onVisible(entries: IntersectionObserverEntry[]): void {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      const c = this.cards.get((e.target as HTMLElement).dataset['actor'] ?? '');
      if (!c || !c.group.open) continue;
      this.observer?.unobserve(e.target);
      this.renderBody(c);
    }
  }

  /**
   * Fit beside the context if that keeps the chart readable; else the whole width of the card, down to
   * 3/4 of the zoom, or a little smaller still when that fits the chart whole (a chart slightly wider
   * than its box scrolls, and every scroll position cuts the states and labels at one edge); otherwise
   * readable and scrollable sideways.
   */
  private chartScale(l: MachineLayout): number {
    const full = l.width + 28;
    const beside = Math.max(240, this.width - 300);
    const fit = beside / full;
    if (fit >= this.zoom * 0.75) return Math.min(this.zoom, fit);
    const whole = this.chartRoom() / full;
    if (whole >= this.zoom * 0.6) return Math.min(this.zoom, whole);
    return this.zoom * 0.75;
  }

  /** The width a chart's box has in a card: the panel's, less the panel's and the group's padding and borders. */
  private chartRoom(): number {
    return Math.max(200, this.width - CARD_INSET);
  }

  private renderBody(c: Card): void {
    if (c.body) return;
    const kind = c.info.kind;
    const t = this.template(kind);
    const l = this.layout(kind);
    const chartBox = h('div', { class: 'chart' });
    // A machine of one state is drawn too (its state and the events it takes in place).
    if (t && l && l.nodes.length > 0) {
      c.chart = instantiate(t, l, this.chartScale(l));
      chartBox.append(c.chart.svg);
      chartBox.title = 'click to enlarge';
      chartBox.addEventListener('click', () => this.enlarge(c));
    } else {
      c.chart = null;
      chartBox.classList.add('trivial');
    }
    c.ctxEl = h('dl', { class: 'ctx' });
    c.body = h('div', { class: 'actor-body' }, chartBox, c.ctxEl);
    c.el.append(c.body);
    c.shownKey = '';
    this.updateCard(c, this.stateIndex(), this.prevIndex());
  }

  /** The chart of one actor at full size in an overlay (follows the current seq until closed). */
  private enlarge(c: Card): void {
    const t = this.template(c.info.kind);
    const l = this.layout(c.info.kind);
    if (!t || !l) return;
    this.closeZoom();
    const chart = instantiate(t, l, Math.min(1.4, Math.max(1, (window.innerWidth - 120) / (l.width + 28))));
    const title = h('span', { class: 'overlay-title' });
    const close = h('button', { type: 'button', class: 'btn small', id: 'btn-overlay-close' }, 'close (Esc)');
    const el = h(
      'div',
      { class: 'overlay', id: 'chart-overlay', role: 'dialog', 'aria-label': `statechart of ${c.info.address}` },
      h('div', { class: 'overlay-box' }, h('div', { class: 'overlay-head' }, title, close), h('div', { class: 'overlay-chart' }, chart.svg)),
    );
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') this.closeZoom();
    };
    close.addEventListener('click', () => this.closeZoom());
    el.addEventListener('click', (e) => {
      if (e.target === el) this.closeZoom();
    });
    document.addEventListener('keydown', onKey);
    document.body.append(el);
    this.zoomed = { card: c, chart, el, title, onKey };
    this.updateZoom(this.stateIndex());
  }

  private closeZoom(): void {
    if (!this.zoomed) return;
    this.zoomed.el.remove();
    document.removeEventListener('keydown', this.zoomed.onKey);
    this.zoomed = null;
  }

  private updateZoom(idx: Map<string, ActorState> | null): void {
    const z = this.zoomed;
    if (!z) return;
    const a = idx?.get(z.card.info.address);
    const rec = this.m.record(this.m.current);
    highlight(z.chart, a ? a.state : null, rec && rec.to === z.card.info.address && this.m.shownState?.seq === rec.seq ? rec.type : null);
    z.title.textContent = `${z.card.info.address} · ${a ? a.state : 'not created'} · after #${this.m.shownState?.seq ?? '?'}`;
  }

  /**
   * A chart wider than its box scrolls sideways to show the active state whole: left alone when the
   * state is already whole in view (with a margin for the edges beside it), else centred on it, within
   * the chart's bounds. Measured at the next frame, every card at once (one layout, not one per card).
   */
  private scrollToLeaf(c: Card, state: string | null): void {
    if (state === null || state === c.scrolledTo) return;
    c.scrolledTo = state;
    this.toScroll.add(c);
    if (this.scrollFrame !== 0) return;
    this.scrollFrame = requestAnimationFrame(() => {
      this.scrollFrame = 0;
      const moves: [HTMLElement, number][] = [];
      for (const card of this.toScroll) {
        const l = this.layout(card.info.kind);
        const svg = card.chart?.svg;
        const box = svg?.parentElement;
        const leaf = l?.nodes.find((n) => n.id === (card.scrolledTo ?? '').split(',')[0]);
        if (!l || !svg || !box || !leaf) continue;
        const view = box.clientWidth;
        const w = svg.width.baseVal.value;
        if (!(w > view) || view <= 0) continue;
        // The viewBox starts 14 units left of the layout's origin (chart.ts pads every side by 14).
        const scale = w / (l.width + 28);
        const x0 = (leaf.x + 14) * scale - LEAF_MARGIN;
        const x1 = (leaf.x + leaf.width + 14) * scale + LEAF_MARGIN;
        const at = box.scrollLeft;
        if (x0 >= at && x1 <= at + view) continue;
        const max = w - view;
        const centred = Math.max(0, Math.min(max, (x0 + x1) / 2 - view / 2));
        const leafEl = card.chart?.nodes.get(leaf.id)?.querySelector(':scope > rect') ?? null;
        moves.push([box, Math.round(leastCut(svg, leafEl, this.scroller.clientHeight, view, Math.max(0, Math.min(x1, w) - view), Math.min(max, x0), centred))]);
      }
      this.toScroll.clear();
      for (const [box, left] of moves) box.scrollLeft = left;
    });
  }
  private readonly toScroll = new Set<Card>();
  private scrollFrame = 0;

  private dropBody(c: Card): void {
    c.body?.remove();
    c.body = null;
    c.chart = null;
    c.ctxEl = null;
    c.scrolledTo = null;
  }

  private stateIndex(): Map<string, ActorState> | null {
    const st = this.m.shownState;
    if (!st) return null;
    return new Map(st.actors.map((a) => [a.address, a]));
  }
  private prevIndex(): Map<string, ActorState> | null {
    const st = this.m.previousState;
    if (!st) return null;
    return new Map(st.actors.map((a) => [a.address, a]));
  }

  private update(): void {
    const idx = this.stateIndex();
    const prev = this.prevIndex();
    for (const c of this.cards.values()) this.updateCard(c, idx, prev);
    this.updateZoom(idx);
    const st = this.m.shownState;
    const stale = st !== null && st.seq !== this.m.current;
    const err = this.m.stateError !== null && this.m.stateError.seq === this.m.current ? this.m.stateError : null;
    this.root.classList.toggle('stale', stale);
    this.errorEl.hidden = err === null;
    this.errorEl.textContent = err === null ? '' : `${err.message}${st !== null ? ` — showing the state after #${st.seq}` : ''}`;
    const note = document.getElementById('statecharts-seq');
    if (note) {
      const inline = this.m.source.kind === 'inline';
      note.textContent =
        err !== null
          ? `no state at #${err.seq}`
          : st === null
            ? 'loading state…'
            : !stale
              ? `state after #${st.seq}`
              : inline
                ? `state after #${st.seq} (the report holds none for #${this.m.current})`
                : `state at #${st.seq} (loading #${this.m.current}…)`;
      note.classList.toggle('warn', stale || err !== null);
    }
    // Group summaries: alive threads, PASID of the live mm, the process's descriptors and mappings.
    for (const g of this.groups) {
      if (!g.key.startsWith('proc:')) continue;
      let threads = 0;
      let alive = 0;
      const pasids: string[] = [];
      const fds: string[] = [];
      const maps: string[] = [];
      for (const c of g.cards) {
        const a = idx?.get(c.info.address);
        if (c.info.kind === 'thread') {
          threads++;
          if (a && a.state !== 'exited') alive++;
        } else if (c.info.kind === 'mm' && a) {
          const ctx = a.context as { pasid?: unknown; fds?: unknown; maps?: unknown } | null;
          if (ctx && ctx.pasid !== null && ctx.pasid !== undefined && !a.state.startsWith('dead')) pasids.push(String(ctx.pasid));
          // The fd table is on the process's current mm (exec moves it); mappings on any mm still mapped.
          if (ctx && ctx.fds !== null && typeof ctx.fds === 'object' && Object.keys(ctx.fds).length > 0) fds.push(fdTableText(ctx.fds));
          if (ctx && Array.isArray(ctx.maps) && ctx.maps.length > 0) maps.push(mappingsText(ctx.maps));
        }
      }
      const table = `${fds.length > 0 ? ` · fds ${fds.join(', ')}` : ''}${maps.length > 0 ? ` · mapped ${maps.join(', ')}` : ''}`;
      // Before any state arrived nothing is known to be live: say how many threads, not "0 live".
      g.summaryEl.textContent =
        idx === null ? `${threads} thread${threads === 1 ? '' : 's'}` : `${alive}/${threads} threads live${pasids.length > 0 ? ` · PASID ${pasids.join(', ')}` : ''}${table}`;
      g.summaryEl.title = table === '' ? '' : `${g.title}: fd table and portal mappings${table}`;
      g.el.classList.toggle('absent', idx !== null && g.cards.every((c) => !idx.has(c.info.address)));
    }
  }

  private updateCard(c: Card, idx: Map<string, ActorState> | null, prev: Map<string, ActorState> | null): void {
    const a = idx?.get(c.info.address);
    const state = a ? a.state : '';
    const rec = this.m.record(this.m.current);
    const receiving = rec !== undefined && rec.to === c.info.address;
    const sending = rec !== undefined && rec.from === c.info.address;
    if (c.el.dataset['state'] !== state) c.el.dataset['state'] = state;
    c.el.classList.toggle('absent', !a && idx !== null);
    c.el.classList.toggle('receiving', receiving);
    c.el.classList.toggle('sending', sending);
    const failed = idx === null && this.m.stateError !== null;
    const stateText = a ? state : idx === null ? (failed ? 'no state' : '…') : 'not yet created';
    if (c.stateEl.textContent !== stateText) c.stateEl.textContent = stateText;
    c.stateEl.className = `state-pill s-${(state.split('.')[0] ?? '').replace(/[^\w-]/g, '')}`;
    const f = a ? facts(c.info.kind, a.context) : '';
    if (c.factEl.textContent !== f) c.factEl.textContent = f;
    if (!c.body) return;
    const key = `${this.m.shownState?.seq ?? -1}|${this.m.current}|${this.m.previousState?.seq ?? -1}|${this.m.stateError?.seq ?? -1}`;
    if (c.shownKey === key) return;
    c.shownKey = key;
    if (c.chart) {
      const prevSt = this.m.previousState;
      const was = prevSt !== null && rec !== undefined && prevSt.seq === rec.seq - 1 ? (prev?.get(c.info.address)?.state ?? null) : null;
      highlight(c.chart, a ? state : null, receiving && rec && this.m.shownState?.seq === rec.seq ? rec.type : null, was);
      this.scrollToLeaf(c, a ? state : null);
      if (c === this.followed && a) requestAnimationFrame(() => this.revealLeaf(c));
    }
    if (c.ctxEl) {
      if (!a) {
        const why = failed ? (this.m.stateError?.message ?? 'no state') : idx === null ? 'loading…' : `does not exist at #${this.m.shownState?.seq ?? '?'}`;
        c.ctxEl.replaceChildren(h('div', { class: failed ? 'error-text' : 'muted' }, why));
        return;
      }
      const before = prev?.get(c.info.address);
      const beforeRows = new Map(before ? contextRows(c.info.kind, before.context).map(([k, , j]) => [k, j]) : []);
      const rows = contextRows(c.info.kind, a.context);
      c.ctxEl.replaceChildren(
        ...rows.flatMap(([k, v, j]) => {
          const changed = before !== undefined && beforeRows.get(k) !== j;
          return [h('dt', { class: changed ? 'changed' : null }, k), h('dd', { class: changed ? 'changed' : null, title: v.length > 40 ? v : null }, v)];
        }),
      );
    }
  }

  private applyFilter(fromUser: boolean): void {
    const pred = actorFilter(this.m);
    let shownGroups = 0;
    for (const g of this.groups) {
      let any = false;
      for (const c of g.cards) {
        const show = pred === null || pred(c.info);
        c.el.hidden = !show;
        if (show) any = true;
      }
      g.el.hidden = !any;
      if (any) shownGroups++;
    }
    // Filtering down to a few processes opens them (unless the user closed them on purpose).
    if (fromUser && pred !== null && shownGroups <= 8) {
      for (const g of this.groups) if (!g.el.hidden && !g.open && this.userToggled.get(g.key) !== false) this.setOpen(g, true);
    }
    this.observeAll();
  }

  /**
   * Follow the current message (on opening and on every seq change) once its record is loaded: a large
   * log's records load as they are viewed, so after a jump the record (and who receives it) may arrive
   * later, with its chunk.
   */
  private followPending = true;
  /** The card followed last, until its active state has been brought into view (`revealLeaf`). */
  private followed: Card | null = null;

  /** Keep the receiver of the current message in view (without opening its group), and its active state. */
  private followCurrent(): void {
    if (!this.follow) {
      this.followPending = false;
      return;
    }
    const r = this.m.record(this.m.current);
    this.followPending = r === undefined && this.m.current > 0;
    const c = r ? this.cards.get(r.to) : undefined;
    this.followed = null;
    if (!c || c.el.hidden) return;
    this.followed = c;
    // After this frame's layout (groups scrolled into view render and may change height).
    requestAnimationFrame(() => {
      if (this.followed !== c) return;
      const panel = this.scroller.getBoundingClientRect();
      const box = c.el.getBoundingClientRect();
      if (box.top < panel.top + 30 || box.bottom > panel.bottom) c.el.scrollIntoView({ block: box.height > panel.height - 40 ? 'start' : 'nearest' });
      this.revealLeaf(c);
    });
  }

  /**
   * The followed card's active state, vertically in the panel: a tall chart (a narrow panel draws it
   * larger than the panel is high) can have it below the fold even with the card's top in view; and
   * sideways in its chart's box (`scrollToLeaf`). Done
   * once per follow, when the chart is drawn and highlighted (it may be drawn a frame or two later).
   */
  private revealLeaf(c: Card): void {
    // Only the current seq's state: an older one (still shown while the new one loads) is no target.
    if (this.followed !== c || !c.chart || this.m.shownState?.seq !== this.m.current) return;
    const leaf = c.chart.svg.querySelector('g.sc-node.leaf rect');
    if (!leaf) return;
    this.followed = null;
    // Sideways too, even when its state is the one it was last scrolled to: the chart may have been
    // scrolled away since (by hand), and following shows the active state.
    const state = c.el.dataset['state'] ?? '';
    if (state !== '') {
      c.scrolledTo = null;
      this.scrollToLeaf(c, state);
    }
    const panel = this.scroller.getBoundingClientRect();
    const r = leaf.getBoundingClientRect();
    // Room for the transition drawn into the state (its edge and label) above it.
    const above = 60;
    const below = 12;
    if (r.bottom + below > panel.bottom) this.scroller.scrollTop += Math.min(r.bottom + below - panel.bottom, r.top - above - panel.top);
    else if (r.top - above < panel.top) this.scroller.scrollTop -= Math.max(0, panel.top - (r.top - above));
  }

  /** Scroll the panel to an actor (opening its group). */
  reveal(address: string): void {
    const c = this.cards.get(address);
    if (!c) return;
    if (!c.group.open) this.setOpen(c.group, true);
    c.el.scrollIntoView({ block: 'nearest' });
  }
}
