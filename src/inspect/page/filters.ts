/**
 * Filters by process, thread, device, message type (globs like `pasid.*`) and visual kind (the legend):
 * OR within a category, AND across categories. The record predicate drives the sequence rows and lanes,
 * the actor predicate the statecharts panel.
 */
import { h } from './dom.ts';
import { KINDS, kindOf } from './kinds.ts';
import type { FilterKey, Model } from './model.ts';
import type { ActorInfo, LogRecord } from './types.ts';

const globRe = (g: string): RegExp => new RegExp(`^${g.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);

/** A predicate over records for the current filters, or `null` when nothing is filtered. */
export function recordFilter(m: Model): ((r: LogRecord) => boolean) | null {
  const f = m.filters;
  if (!m.filtering) return null;
  const procs = f.process;
  const threads = f.thread;
  const devices = f.device;
  const exact = new Set([...f.type].filter((t) => !t.includes('*')));
  const globs = [...f.type].filter((t) => t.includes('*')).map(globRe);
  const kinds = f.kind;
  const procOfThread = (t: unknown): string | null => (typeof t === 'string' ? m.processOf(`thread:${t}`) : null);
  return (r) => {
    if (kinds.size > 0 && !kinds.has(kindOf(r.type).cls)) return false;
    if (f.type.size > 0 && !exact.has(r.type) && !globs.some((g) => g.test(r.type))) return false;
    if (procs.size > 0) {
      const p1 = m.processOf(r.from);
      const p2 = m.processOf(r.to);
      const ok =
        (p1 !== null && procs.has(p1)) ||
        (p2 !== null && procs.has(p2)) ||
        (typeof r['process'] === 'string' && procs.has(r['process'])) ||
        procs.has(procOfThread(r['thread']) ?? '\u0000') ||
        procs.has(procOfThread(r['new']) ?? '\u0000') ||
        (typeof r['mm'] === 'number' && procs.has(m.processOf(`mm:${r['mm']}`) ?? '\u0000'));
      if (!ok) return false;
    }
    if (threads.size > 0) {
      const ok =
        (r.from.startsWith('thread:') && threads.has(r.from.slice(7))) ||
        (r.to.startsWith('thread:') && threads.has(r.to.slice(7))) ||
        (typeof r['thread'] === 'string' && threads.has(r['thread'])) ||
        (typeof r['new'] === 'string' && threads.has(r['new']));
      if (!ok) return false;
    }
    if (devices.size > 0) {
      const ok =
        (r.from.startsWith('wq:') && devices.has(r.from.slice(3))) ||
        (r.to.startsWith('wq:') && devices.has(r.to.slice(3))) ||
        (typeof r['device'] === 'string' && devices.has(r['device']));
      if (!ok) return false;
    }
    return true;
  };
}

/** A predicate over actors for the statecharts panel (type and kind filters do not hide actors). */
export function actorFilter(m: Model): ((a: ActorInfo) => boolean) | null {
  const { process: procs, thread: threads, device: devices } = m.filters;
  if (procs.size + threads.size + devices.size === 0) return null;
  const threadProcs = new Set<string>();
  for (const t of threads) {
    const p = m.processOf(`thread:${t}`);
    if (p !== null) threadProcs.add(p);
  }
  return (a) => {
    if (a.kind === 'iommu' || a.kind === 'kernel') return true;
    // A device's actor: svasim's work queue or a registered device model.
    if (a.device !== null) return devices.size > 0 ? devices.has(a.device) : procs.size + threads.size > 0;
    if (procs.size > 0 && a.process !== null && procs.has(a.process)) return true;
    if (threads.size > 0) {
      if (a.kind === 'thread' && threads.has(a.address.slice(7))) return true;
      if ((a.kind === 'mm' || a.kind === 'file') && a.process !== null && threadProcs.has(a.process)) return true;
    }
    return false;
  };
}

const LABELS: Record<Exclude<FilterKey, 'kind'>, string> = { process: 'process', thread: 'thread', device: 'device', type: 'type' };

/** The filter bar (`#filters`) and the legend (`#legend`, whose items toggle kind filters). */
export class FilterBar {
  private readonly lists = new Map<string, HTMLDataListElement>();
  private readonly chipBoxes = new Map<string, HTMLElement>();
  private readonly legendItems = new Map<string, HTMLButtonElement>();
  private knownTypes = 0;
  /** Process, thread and device suggestions are built on first focus (thousands of options). */
  private optionsStale = true;

  constructor(
    private readonly m: Model,
    root: HTMLElement,
    legend: HTMLElement,
  ) {
    root.replaceChildren();
    for (const key of ['process', 'thread', 'device', 'type'] as const) {
      const listId = `dl-${key}`;
      const dl = h('datalist', { id: listId });
      const chips = h('span', { class: 'chips' });
      const input = h('input', {
        type: 'text',
        list: listId,
        id: `filter-${key}`,
        placeholder: key === 'type' ? '+ type (pasid.*)' : `+ ${key}`,
        autocomplete: 'off',
        spellcheck: 'false',
        'aria-label': `filter by ${key}`,
      });
      const add = (): void => {
        const v = input.value.trim();
        if (v === '') return;
        const next = new Set(this.m.filters[key]);
        for (const part of v.split(/[\s,]+/)) if (part !== '') next.add(part);
        input.value = '';
        this.m.setFilter(key, next);
      };
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') add();
        else if (e.key === 'Backspace' && input.value === '') {
          const vals = [...this.m.filters[key]];
          vals.pop();
          this.m.setFilter(key, new Set(vals));
        }
      });
      // Picking a datalist option fires `input` with the full value.
      input.addEventListener('input', (e) => {
        const ie = e as InputEvent;
        if (ie.inputType === 'insertReplacementText' || ie.inputType === undefined) {
          if ([...dl.options].some((o) => o.value === input.value)) add();
        }
      });
      input.addEventListener('change', add);
      input.addEventListener('focus', () => {
        if (this.optionsStale) {
          this.optionsStale = false;
          this.fillOptions();
        }
      });
      this.lists.set(key, dl);
      this.chipBoxes.set(key, chips);
      root.append(h('div', { class: 'filter', 'data-filter': key }, h('span', { class: 'filter-label' }, LABELS[key]), chips, input, dl));
    }
    const clear = h('button', { id: 'btn-clear-filters', type: 'button', class: 'btn small', title: 'remove every filter' }, 'clear');
    clear.addEventListener('click', () => {
      for (const k of ['process', 'thread', 'device', 'type', 'kind'] as const) if (this.m.filters[k].size > 0) this.m.setFilter(k, new Set());
    });
    root.append(clear);

    legend.replaceChildren(h('span', { class: 'legend-title' }, 'messages'));
    for (const k of KINDS) {
      const b = h(
        'button',
        { type: 'button', class: `legend-item ${k.cls}`, 'data-kind': k.cls, title: `${k.types}\nclick: show only these (toggle)`, 'aria-pressed': 'false' },
        h('span', { class: 'swatch' }),
        k.label,
      );
      b.addEventListener('click', () => {
        const next = new Set(this.m.filters.kind);
        if (next.has(k.cls)) next.delete(k.cls);
        else next.add(k.cls);
        this.m.setFilter('kind', next);
      });
      this.legendItems.set(k.cls, b);
      legend.append(b);
    }

    m.on('filters', () => this.renderChips());
    m.on('actors', () => (this.optionsStale = true));
    m.on('records', () => this.fillTypes());
    this.fillTypes();
    this.renderChips();
  }

  private renderChips(): void {
    for (const key of ['process', 'thread', 'device', 'type'] as const) {
      const box = this.chipBoxes.get(key);
      if (!box) continue;
      box.replaceChildren(
        ...[...this.m.filters[key]].map((v) => {
          const chip = h('button', { type: 'button', class: 'chip', 'data-value': v, title: 'remove' }, v, h('span', { class: 'x' }, '×'));
          chip.addEventListener('click', () => {
            const next = new Set(this.m.filters[key]);
            next.delete(v);
            this.m.setFilter(key, next);
          });
          return chip;
        }),
      );
    }
    for (const [cls, b] of this.legendItems) {
      const on = this.m.filters.kind.has(cls);
      b.setAttribute('aria-pressed', String(on));
      b.classList.toggle('on', on);
    }
    document.body.classList.toggle('filtering', this.m.filtering);
  }

  private setOptions(key: string, values: Iterable<string>): void {
    const dl = this.lists.get(key);
    if (!dl) return;
    dl.replaceChildren(...[...values].slice(0, 5000).map((v) => h('option', { value: v })));
  }

  private fillOptions(): void {
    const procs = new Set<string>();
    const threads: string[] = [];
    const devices: string[] = [];
    for (const a of this.m.actors) {
      if (a.process !== null) procs.add(a.process);
      if (a.kind === 'thread') threads.push(a.address.slice(7));
      if (a.device !== null) devices.push(a.device);
    }
    this.setOptions('process', procs);
    this.setOptions('thread', threads);
    this.setOptions('device', devices);
  }

  private fillTypes(): void {
    if (this.m.types.size === this.knownTypes) return;
    this.knownTypes = this.m.types.size;
    const types = this.m.types;
    const prefixes = new Set([...types].map((t) => `${t.split('.')[0] ?? t}.*`));
    this.setOptions('type', [...[...types].sort(), ...[...prefixes].sort()]);
  }
}
