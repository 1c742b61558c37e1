/**
 * The details panel (`#details`): the selected record in full (`#details-payload`), its chain of causes
 * up to the step's input (`#details-causes`, each clickable) and the messages it caused directly.
 */
import { h } from './dom.ts';
import { kindOf } from './kinds.ts';
import type { Model } from './model.ts';
import { payloadText } from './sequence.ts';
import type { LogRecord } from './types.ts';

export class DetailsPanel {
  private readonly headEl: HTMLElement;
  private readonly payloadEl: HTMLElement;
  private readonly causesEl: HTMLElement;
  private readonly effectsEl: HTMLElement;
  private token = 0;

  constructor(
    private readonly m: Model,
    private readonly root: HTMLElement,
  ) {
    this.headEl = h('div', { class: 'details-head', id: 'details-head' });
    this.payloadEl = h('pre', { id: 'details-payload', class: 'payload-json' });
    this.causesEl = h('ol', { id: 'details-causes', class: 'chain' });
    this.effectsEl = h('ul', { id: 'details-effects', class: 'chain' });
    root.replaceChildren(
      this.headEl,
      h(
        'div',
        { class: 'details-cols' },
        h('div', { class: 'details-col' }, h('h3', {}, 'record'), this.payloadEl),
        h(
          'div',
          { class: 'details-col' },
          h('h3', { title: 'cause, cause of the cause, … up to the step input' }, 'caused by'),
          this.causesEl,
          h('h3', { title: 'messages sent while handling this one' }, 'caused'),
          this.effectsEl,
        ),
      ),
    );
    root.addEventListener('click', (e) => {
      const a = (e.target as HTMLElement).closest<HTMLElement>('[data-goto]');
      const seq = Number(a?.dataset['goto']);
      if (a && Number.isInteger(seq) && seq > 0) this.m.setCurrent(seq);
    });
    m.on('selection', () => void this.render());
    m.on('records', () => void this.render());
    m.on('loaded', () => void this.render());
    void this.render();
  }

  private link(r: LogRecord): HTMLElement {
    return h(
      'button',
      { type: 'button', class: `rec-link ${kindOf(r.type).cls}`, 'data-goto': r.seq, 'data-seq': r.seq, 'data-type': r.type, title: `go to #${r.seq}` },
      h('span', { class: 'seq' }, `#${r.seq}`),
      h('span', { class: 'type' }, r.type),
      h('span', { class: 'route' }, `${r.from} → ${r.to}`),
      h('span', { class: 'payload' }, payloadText(r, 70)),
    );
  }

  private async render(): Promise<void> {
    const token = ++this.token;
    const seq = this.m.selected;
    this.root.classList.toggle('empty', seq === null);
    if (seq === null) {
      this.headEl.replaceChildren(h('span', { class: 'muted' }, 'Select a message (click a row) to see its payload and causes.'));
      this.payloadEl.textContent = '';
      this.causesEl.replaceChildren();
      this.effectsEl.replaceChildren();
      return;
    }
    const r = this.m.record(seq) ?? (this.m.busy ? undefined : await this.m.fetchRecord(seq).catch(() => undefined));
    if (token !== this.token) return;
    if (!r) {
      this.headEl.replaceChildren(h('span', { class: 'muted' }, `#${seq}: loading…`));
      return;
    }
    const step = this.m.stepText(r.step);
    this.headEl.replaceChildren(
      h('span', { class: `tag ${kindOf(r.type).cls}` }, r.type),
      h('span', { class: 'seq' }, `#${r.seq}`),
      h('span', { class: 'route' }, `${r.from} → ${r.to}`),
      h('span', { class: 'muted' }, `step ${r.step}${step !== null ? `: ${step}` : ''}`),
    );
    this.payloadEl.textContent = JSON.stringify(r, null, 2);
    // The chain: cause, its cause, … (records may still be loading: fetch what is missing).
    const chain: LogRecord[] = [];
    let c = r.cause;
    const seen = new Set<number>();
    while (c !== undefined && !seen.has(c) && chain.length < 1000) {
      seen.add(c);
      const cr = this.m.record(c) ?? (this.m.busy ? undefined : await this.m.fetchRecord(c).catch(() => undefined));
      if (token !== this.token) return;
      if (!cr) break;
      chain.push(cr);
      c = cr.cause;
    }
    this.causesEl.replaceChildren(
      ...(chain.length === 0 ? [h('li', { class: 'muted' }, r.from === 'user' ? 'none: this is the step input' : 'none (no cause recorded)')] : chain.map((x) => h('li', {}, this.link(x)))),
    );
    const kids = (this.m.children.get(r.seq) ?? []).map((s) => this.m.record(s)).filter((x): x is LogRecord => x !== undefined);
    this.effectsEl.replaceChildren(...(kids.length === 0 ? [h('li', { class: 'muted' }, 'none')] : kids.map((x) => h('li', {}, this.link(x)))));
  }
}
