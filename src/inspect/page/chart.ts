/**
 * One machine's statechart as SVG, built once per machine from the server's elk layout and cloned per
 * actor. Compound states are rounded containers, edges are the layout's polylines with their events.
 */
import { s } from './dom.ts';
import type { LayoutEdge, MachineLayout } from './types.ts';

export interface ChartInstance {
  readonly svg: SVGSVGElement;
  readonly nodes: ReadonlyMap<string, SVGGElement>;
  readonly edges: readonly { readonly el: SVGGElement; readonly edge: LayoutEdge }[];
  /** Per state: the events it handles in place. */
  readonly internal: ReadonlyMap<string, ReadonlySet<string>>;
}

/** The global `<defs>` (arrow markers) every chart refers to: put once in the page. */
export function chartDefs(): SVGSVGElement {
  const mk = (id: string): SVGMarkerElement =>
    s(
      'marker',
      { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', markerUnits: 'userSpaceOnUse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: id }),
    );
  return s(
    'svg',
    { width: 0, height: 0, 'aria-hidden': 'true', style: 'position:absolute;width:0;height:0;overflow:hidden' },
    s('defs', {}, mk('sc-arrow'), mk('sc-arrow-hot')),
  );
}

const depth = (id: string): number => id.split('.').length;

interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}
const overlaps = (a: Box, b: Box): boolean => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/**
 * Where an edge's label goes: the middle of one of its segments, the longest first, skipping spots where
 * the label would cover a state or a label already placed.
 */
function labelSpot(points: LayoutEdge['points'], width: number, avoid: Box[]): { x: number; y: number; vertical: boolean } {
  const segs: { x: number; y: number; vertical: boolean; len: number }[] = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (!a || !b) continue;
    segs.push({ x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, vertical: Math.abs(b.x - a.x) < Math.abs(b.y - a.y), len: Math.hypot(b.x - a.x, b.y - a.y) });
  }
  segs.sort((p, q) => q.len - p.len);
  const boxOf = (sp: { x: number; y: number; vertical: boolean }): Box =>
    sp.vertical ? { x: sp.x + 3, y: sp.y - 8, w: width, h: 12 } : { x: sp.x - width / 2, y: sp.y - 13, w: width, h: 12 };
  const first = segs[0];
  if (!first) return { x: 0, y: 0, vertical: false };
  const pick = segs.find((sp) => !avoid.some((b) => overlaps(boxOf(sp), b))) ?? first;
  avoid.push(boxOf(pick));
  return pick;
}

function eventsLabel(events: readonly string[]): string {
  if (events.length <= 2) return events.join(', ');
  return `${events.slice(0, 2).join(', ')} +${events.length - 2}`;
}

/** The template SVG for a machine (clone it with `instantiate`). */
/** The event of a transition label: `insn.enqcmd [guard]` → `insn.enqcmd`. */
export const eventName = (label: string): string => {
  const i = label.indexOf(' [');
  return i < 0 ? label : label.slice(0, i);
};

const LINE_H = 14;

export function buildTemplate(layout: MachineLayout): SVGSVGElement {
  const pad = 14;
  const svg = s('svg', {
    class: 'sc',
    viewBox: `${-pad} ${-pad} ${layout.width + 2 * pad} ${layout.height + 2 * pad}`,
    'data-machine': layout.id,
    role: 'img',
  });
  if (layout.rootEvents && layout.rootEvents.length > 0) svg.append(s('title', {}, `${layout.id}: in every state: ${layout.rootEvents.join(', ')}`));
  const nodesG = s('g', { class: 'sc-nodes' });
  const sorted = [...layout.nodes].sort((a, b) => Number(b.compound) - Number(a.compound) || depth(a.id) - depth(b.id));
  for (const n of sorted) {
    const g = s('g', { class: `sc-node${n.compound ? ' compound' : ''}${n.final ? ' final' : ''}`, 'data-node': n.id });
    g.append(s('rect', { x: n.x, y: n.y, width: n.width, height: n.height, rx: n.compound ? 8 : 6 }));
    if (n.final) g.append(s('rect', { class: 'inner', x: n.x + 3, y: n.y + 3, width: Math.max(0, n.width - 6), height: Math.max(0, n.height - 6), rx: 4 }));
    if (n.compound) g.append(s('text', { x: n.x + 8, y: n.y + 16, class: 'sc-label compound-label' }, n.label));
    else g.append(s('text', { x: n.x + n.width / 2, y: n.y + n.height / 2 + 4.5, class: 'sc-label', 'text-anchor': 'middle' }, n.label));
    const internal = n.internal ?? [];
    if (internal.length > 0 && !n.compound) {
      // A small mark: this state handles some events in place (listed in the tooltip).
      g.append(s('circle', { class: 'internal-mark', cx: n.x + n.width - 6, cy: n.y + 6, r: 2.5 }));
    }
    if (n.initial) {
      const cy = n.compound ? n.y + 11 : n.y + n.height / 2;
      g.append(s('circle', { class: 'initial', cx: n.x - 9, cy, r: 3.5 }), s('path', { class: 'initial-line', d: `M${n.x - 6},${cy} L${n.x},${cy}` }));
    }
    const tip = [n.description ? `${n.id}: ${n.description}` : n.id];
    if (internal.length > 0) tip.push(`handled in place: ${internal.join(', ')}`);
    g.append(s('title', {}, tip.join('\n')));
    nodesG.append(g);
  }
  const edgesG = s('g', { class: 'sc-edges' });
  // Heuristic labels (no box from the layout) keep off the simple states and each other.
  const avoid: Box[] = layout.nodes.filter((n) => !n.compound).map((n) => ({ x: n.x, y: n.y, w: n.width, h: n.height }));
  for (const e of layout.edges) {
    if (e.points.length < 2) continue;
    const d = e.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x},${p.y}`).join(' ');
    const g = s('g', { class: 'sc-edge', 'data-edge': e.id, 'data-events': e.events.map(eventName).join(' ') });
    g.append(s('path', { d, 'marker-end': 'url(#sc-arrow)' }));
    if (e.label) {
      // The layout reserved a box: one line per event.
      const t = s('text', { class: 'sc-edge-label boxed' });
      e.events.forEach((ev, i) => {
        if (e.label) t.append(s('tspan', { x: e.label.x + 4, y: e.label.y + 12 + i * LINE_H, 'data-ev': eventName(ev) }, ev));
      });
      g.append(t);
    } else {
      const text = eventsLabel(e.events);
      const spot = labelSpot(e.points, text.length * 6.7 + 4, avoid);
      g.append(
        s(
          'text',
          spot.vertical
            ? { x: spot.x + 4, y: spot.y + 3, class: 'sc-edge-label' }
            : { x: spot.x, y: spot.y - 3, class: 'sc-edge-label', 'text-anchor': 'middle' },
          text,
        ),
      );
    }
    g.append(s('title', {}, `${e.source} → ${e.target}\n${e.events.join('\n')}`));
    edgesG.append(g);
  }
  svg.append(nodesG, edgesG);
  return svg;
}

export function instantiate(template: SVGSVGElement, layout: MachineLayout, scale: number): ChartInstance {
  const svg = template.cloneNode(true) as SVGSVGElement;
  const vb = svg.viewBox.baseVal;
  svg.setAttribute('width', String(Math.round(vb.width * scale)));
  svg.setAttribute('height', String(Math.round(vb.height * scale)));
  const nodes = new Map<string, SVGGElement>();
  for (const g of svg.querySelectorAll<SVGGElement>('g.sc-node')) {
    const id = g.getAttribute('data-node');
    if (id !== null) nodes.set(id, g);
  }
  const byId = new Map(layout.edges.map((e) => [e.id, e]));
  const internal = new Map(layout.nodes.map((n) => [n.id, new Set((n.internal ?? []).map(eventName))]));
  const edges: { el: SVGGElement; edge: LayoutEdge }[] = [];
  for (const g of svg.querySelectorAll<SVGGElement>('g.sc-edge')) {
    const e = byId.get(g.getAttribute('data-edge') ?? '');
    if (e) edges.push({ el: g, edge: e });
  }
  return { svg, nodes, edges, internal };
}

/** The active state ids of a dotted state value: `alive.closing.draining` → alive, alive.closing, alive.closing.draining (parallel regions split on `,`). */
export function activeIds(state: string): Set<string> {
  const out = new Set<string>();
  for (const part of state.split(',')) {
    const segs = part.split('.');
    for (let i = 1; i <= segs.length; i++) out.add(segs.slice(0, i).join('.'));
  }
  return out;
}

/**
 * Highlight the active states (and the leaf), the edges the last message to this actor may have taken
 * (with `before`, the state before it: only edges from that state to the current one), and the active
 * state that handled it in place (no transition).
 */
export function highlight(c: ChartInstance, state: string | null, lastEvent: string | null, before?: string | null): void {
  const active = state === null ? new Set<string>() : activeIds(state);
  const leaves = new Set(state === null ? [] : state.split(','));
  // The state before the message (seq - 1), when known: only an edge leaving it can have been taken.
  const was = before === undefined || before === null ? null : activeIds(before);
  let tookEdge = false;
  for (const { el, edge } of c.edges) {
    const hot =
      lastEvent !== null &&
      active.has(edge.target) &&
      (was === null || was.has(edge.source)) &&
      edge.events.some((e) => eventName(e) === lastEvent);
    if (hot) tookEdge = true;
    if (el.classList.contains('taken') !== hot) {
      el.classList.toggle('taken', hot);
      el.querySelector('path')?.setAttribute('marker-end', hot ? 'url(#sc-arrow-hot)' : 'url(#sc-arrow)');
    }
    const text = el.querySelector('text');
    if (!text) continue;
    if (text.classList.contains('boxed')) {
      for (const t of text.querySelectorAll('tspan')) t.classList.toggle('hot', hot && t.getAttribute('data-ev') === lastEvent);
    } else if (edge.events.length > 1) {
      // A taken edge names the event that fired (its short label may not list it).
      const want = hot && lastEvent !== null ? lastEvent : eventsLabel(edge.events);
      if (text.textContent !== want) text.textContent = want;
    }
  }
  for (const [id, g] of c.nodes) {
    g.classList.toggle('active', active.has(id));
    g.classList.toggle('leaf', leaves.has(id));
    const inPlace = !tookEdge && lastEvent !== null && active.has(id) && (c.internal.get(id)?.has(lastEvent) ?? false);
    g.classList.toggle('handled', inPlace);
  }
}
