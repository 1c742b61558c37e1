/** Tiny DOM helpers (no framework). */

type Attrs = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined | false;

function apply(el: Element, attrs: Attrs | undefined, children: readonly Child[]): void {
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c);
  }
}

/** An HTML element: `h('div', { class: 'x' }, 'text', child)`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, attrs, children);
  return el;
}

export const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs, children);
  return el;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el as T;
}

/** Compact one-line rendering of a value: `{a: 1, b: [x, y]}`, strings unquoted, long lists cut. */
export function compact(v: unknown, max = 12): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const parts = v.slice(0, max).map((x) => compact(x, max));
    return `[${parts.join(', ')}${v.length > max ? `, … +${v.length - max}` : ''}]`;
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    const parts = entries.slice(0, max).map(([k, x]) => `${k}: ${compact(x, max)}`);
    return `{${parts.join(', ')}${entries.length > max ? `, … +${entries.length - max}` : ''}}`;
  }
  return String(v);
}

/** Address without its kind prefix: `thread:A1` → `A1`. */
export const shortName = (address: string): string => {
  const i = address.indexOf(':');
  return i < 0 ? address : address.slice(i + 1);
};
