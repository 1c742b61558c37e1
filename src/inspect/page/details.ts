/**
 * The details panel (`#details`): the selected record in full (`#details-payload`), what its receiver
 * did with it and the kernel code that models (`#details-models`), its chain of causes up to the step's
 * input (`#details-causes`, each clickable) and the messages it caused directly.
 */
import { REFUSALS, type RefusalInfo } from '../../../machines/refusals.ts';
import { h } from './dom.ts';
import { kindOf } from './kinds.ts';
import type { Model } from './model.ts';
import { payloadText } from './sequence.ts';
import type { LogRecord, ModelsAt, StateAt } from './types.ts';

/** VT-d fault reasons the model emits (`DMAR_REASON_*` in machines/protocol.ts). */
const DMAR_REASONS: Readonly<Record<number, string>> = {
  0x59: 'SM: Present bit in PASID Table Entry is clear',
};

const hex = (n: number): string => `0x${n.toString(16)}`;

/** A readable line for a `fault.dmar` record's reason (and whether it was suppressed). */
export function dmarLines(r: LogRecord): string[] {
  const out: string[] = [];
  const reason = r['reason'];
  if (typeof reason === 'number') out.push(`reason ${hex(reason)}: ${DMAR_REASONS[reason] ?? 'unknown VT-d fault reason'}`);
  if (r['suppressed'] === true) {
    out.push('suppressed: fault processing was disabled (FPD) at exit teardown — nothing logged by the kernel');
  } else {
    out.push('not suppressed: the kernel logs this DMAR fault');
  }
  return out;
}

/**
 * Readable lines for a refused syscall's `sys.return`: the errno and the kernel check that refused
 * (its `reason`, a code of machines/refusals.ts), then where the kernel makes that check. Empty for a
 * return without a known reason (success, or a log of a model before reasons were logged).
 */
export function refusalLines(r: LogRecord): string[] {
  const reason = r['reason'];
  if (r.type !== 'sys.return' || typeof reason !== 'string' || !Object.hasOwn(REFUSALS, reason)) return [];
  const info: RefusalInfo = REFUSALS[reason as keyof typeof REFUSALS];
  const errno = typeof r['errno'] === 'string' ? r['errno'] : 'refused';
  return [
    `${errno}: ${info.check}`,
    info.where === undefined ? `reason ${reason}: a check of the model (no kernel function)` : `reason ${reason}: checked in ${info.where}()`,
  ];
}

/** The state behind a `fault.dmar`: the device's PASID-table entry, the PASID's owner, the thread's MSR. */
export function dmarContext(r: LogRecord, st: StateAt): string[] {
  const sys = st.system;
  const device = typeof r['device'] === 'string' ? r['device'] : null;
  const pasid = typeof r['pasid'] === 'number' ? r['pasid'] : null;
  const thread = typeof r['thread'] === 'string' ? r['thread'] : null;
  const out: string[] = [];
  if (device !== null && pasid !== null) {
    const table = sys.iommu.tables[device];
    const entry = table?.[String(pasid)];
    const n = table ? Object.keys(table).length : 0;
    out.push(
      entry === undefined
        ? `${device} PASID table: no entry for PASID ${pasid} (table has ${n === 0 ? 'no entries' : `${n} entr${n === 1 ? 'y' : 'ies'}`})`
        : `${device} PASID table: PASID ${pasid} → ${entry.present ? 'present' : 'not present'}${entry.fpd ? ', FPD (faults not reported)' : ''}`,
    );
  }
  if (pasid !== null) {
    const p = sys.iommu.pasids.find((x) => x.pasid === pasid);
    const mm = p ? sys.mms.find((x) => x.id === p.mm) : undefined;
    out.push(
      p === undefined
        ? `PASID ${pasid}: not allocated (freed)`
        : `PASID ${pasid}: owned by mm ${p.mm}${mm ? ` (${mm.state}, process ${mm.process})` : ''}${p.refs !== null ? `, refs ${p.refs}` : ''}`,
    );
  }
  if (thread !== null) {
    const t = sys.threads.find((x) => x.name === thread);
    out.push(
      t === undefined
        ? `thread ${thread}: gone`
        : `thread ${thread} (${t.state}): IA32_PASID ${t.msr === null ? 'unset' : `${t.msr} (valid)`}${t.msr !== null && pasid !== null && t.msr === pasid ? ' — still submits with it' : ''}`,
    );
  }
  return out;
}

/** One line of `#details-models`: a label, then either a citation (function, file, note) or plain text. */
export interface ModelsLine {
  /** `models` for the message's own transition, `then (always)` / `then (done)` for the ones it led to. */
  readonly label: string;
  readonly cite: string | null;
  /** The kernel function (or call path) the transition models. */
  readonly fn?: string;
  /** Where to read it: a path in the kernel tree, or Intel's document. */
  readonly file?: string;
  readonly note?: string;
  /** Instead of a citation: the model's own rule, a transition without effect, or why none is shown. */
  readonly text?: string;
}

/**
 * The lines of `#details-models` for what `api/models` answered: one per transition the receiver took
 * (the message's own first, then the eventless and `done` ones of the same step), each naming the
 * kernel function it models and its file (machines/citations.ts).
 */
export function modelsLines(m: ModelsAt): ModelsLine[] {
  if (m.transitions.length === 0) return [{ label: 'models', cite: null, text: m.why ?? 'no transition' }];
  return m.transitions.map((t, i): ModelsLine => {
    const label = i === 0 ? 'models' : `then (${t.on})`;
    const c = t.models;
    if (c === null) return { label, cite: null, text: `nothing: ${m.actor} (${t.source}) takes ${m.type} without effect` };
    if ('model' in c) return { label, cite: t.cite, text: `the model's own rule: ${c.model}` };
    return { label, cite: t.cite, fn: c.fn, file: c.file, ...(c.note === undefined ? {} : { note: c.note }) };
  });
}

export class DetailsPanel {
  private readonly headEl: HTMLElement;
  private readonly modelsEl: HTMLElement;
  private readonly payloadEl: HTMLElement;
  private readonly causesEl: HTMLElement;
  private readonly effectsEl: HTMLElement;
  private readonly summaryEl: HTMLElement;
  private token = 0;
  private shown: LogRecord | null = null;

  constructor(
    private readonly m: Model,
    private readonly root: HTMLElement,
  ) {
    this.headEl = h('div', { class: 'details-head', id: 'details-head' });
    this.modelsEl = h('div', { id: 'details-models', class: 'details-models', hidden: true });
    this.payloadEl = h('pre', { id: 'details-payload', class: 'payload-json' });
    this.causesEl = h('ol', { id: 'details-causes', class: 'chain' });
    this.effectsEl = h('ul', { id: 'details-effects', class: 'chain' });
    this.summaryEl = h('div', { id: 'details-summary', class: 'details-summary', hidden: true });
    root.replaceChildren(
      this.headEl,
      this.modelsEl,
      this.summaryEl,
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
    m.on('state', () => this.renderSummary());
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

  /**
   * Readable lines above the record: for a DMAR fault, its reason and the state that caused it; for a
   * refused syscall, the kernel check that refused it.
   */
  private renderSummary(): void {
    const r = this.shown;
    const refusal = r === null ? [] : refusalLines(r);
    if (refusal.length > 0) {
      this.summaryEl.replaceChildren(...refusal.map((t, i) => h('div', { class: i === 0 ? 'sum-reason' : 'sum-note' }, t)));
      this.summaryEl.hidden = false;
      return;
    }
    if (r === null || r.type !== 'fault.dmar') {
      this.summaryEl.hidden = true;
      this.summaryEl.replaceChildren();
      return;
    }
    const lines = dmarLines(r).map((t, i) => h('div', { class: i === 0 ? 'sum-reason' : 'sum-note' }, t));
    const st = this.m.shownState?.seq === r.seq ? this.m.shownState : this.m.cachedState(r.seq);
    if (st) {
      lines.push(
        h(
          'div',
          { class: 'sum-context', title: 'from the state right after this message' },
          h('span', { class: 'sum-label' }, `context at #${r.seq}: `),
          dmarContext(r, st).join(' · '),
        ),
      );
    } else if (this.m.stateError?.seq === r.seq) lines.push(h('div', { class: 'sum-context error-text' }, this.m.stateError.message));
    else lines.push(h('div', { class: 'sum-context muted' }, `context: state at #${r.seq} not loaded (go to #${r.seq} to see it)`));
    this.summaryEl.replaceChildren(...lines);
    this.summaryEl.hidden = false;
  }

  /** `#details-models`: what the record's receiver did with it, and the kernel code each transition models. */
  private async renderModels(seq: number, token: number): Promise<void> {
    this.modelsEl.hidden = false;
    this.modelsEl.dataset['seq'] = String(seq);
    this.modelsEl.replaceChildren(h('div', { class: 'models-line muted' }, h('span', { class: 'models-label' }, 'models:'), ' …'));
    let m: ModelsAt;
    try {
      m = await this.m.models(seq);
    } catch (e) {
      if (token !== this.token) return;
      this.modelsEl.replaceChildren(h('div', { class: 'models-line' }, h('span', { class: 'models-label' }, 'models:'), ' ', h('span', { class: 'error-text' }, (e as Error).message)));
      return;
    }
    if (token !== this.token) return;
    this.modelsEl.replaceChildren(
      ...modelsLines(m).map((l) =>
        h(
          'div',
          { class: 'models-line', 'data-cite': l.cite ?? undefined },
          h('span', { class: 'models-label' }, `${l.label}:`),
          ' ',
          ...(l.fn !== undefined
            ? [
                h('code', { class: 'models-fn' }, l.fn),
                ' (',
                h('code', { class: 'models-file', title: 'where to read it (select to copy)' }, l.file ?? ''),
                ')',
                l.note === undefined ? null : h('span', { class: 'models-note' }, ` — ${l.note}`),
              ]
            : [h('span', { class: 'models-text' }, l.text ?? '')]),
        ),
      ),
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
      this.modelsEl.hidden = true;
      this.modelsEl.replaceChildren();
      this.shown = null;
      this.renderSummary();
      return;
    }
    let failed: string | null = null;
    const r =
      this.m.record(seq) ??
      (this.m.busy
        ? undefined
        : await this.m.fetchRecord(seq).catch((e: unknown) => {
            failed = (e as Error).message;
            return undefined;
          }));
    if (token !== this.token) return;
    if (!r) {
      // Still loading, or its request failed: then the reason, here and in the status line.
      const why = failed ?? (this.m.busy ? null : this.m.recordsError);
      this.headEl.replaceChildren(h('span', { class: why === null ? 'muted' : 'error-text' }, why === null ? `#${seq}: loading…` : `#${seq}: not loaded: ${why}`));
      if (failed !== null) this.m.setStatus(`record #${seq}: ${failed}`, true);
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
    this.shown = r;
    this.renderSummary();
    void this.renderModels(r.seq, token);
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
