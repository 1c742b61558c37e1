/**
 * Statechart layouts for the inspector: the states and transitions of each machine, read from its xstate
 * definition, laid out by ELK (elkjs, layered, hierarchical) into absolute coordinates the page draws as
 * SVG. Computed once per machine kind: every actor of a kind shares its layout.
 */
import { createRequire } from 'node:module';
import type { ELK as ElkInstance, ELKConstructorArguments, ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { AnyStateMachine } from 'xstate';
import { MACHINES, type ActorKind } from '../../machines/index.ts';
import type { Kinds } from '../runtime/kinds.ts';

// elkjs is CommonJS: its module.exports is the ELK class (the bundled build runs in-process, no worker).
const ELK = createRequire(import.meta.url)('elkjs/lib/elk.bundled.js') as new (args?: ELKConstructorArguments) => ElkInstance;

export interface LayoutNode {
  /** The state's path below the machine root, dotted (`alive.idle`): what the actor's state names. */
  readonly id: string;
  readonly label: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly parent: string | null;
  readonly compound: boolean;
  readonly initial: boolean;
  readonly final: boolean;
  readonly description: string | null;
  /** Events handled without leaving the state (targetless transitions). */
  readonly internal: readonly string[];
}

export interface LayoutEdge {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly events: readonly string[];
  readonly points: readonly { readonly x: number; readonly y: number }[];
  readonly label: { readonly x: number; readonly y: number } | null;
}

export interface MachineLayout {
  readonly id: string;
  readonly width: number;
  readonly height: number;
  readonly nodes: readonly LayoutNode[];
  readonly edges: readonly LayoutEdge[];
  /** Events the machine handles in every state (root-level transitions). */
  readonly rootEvents: readonly string[];
}


/** The parts of an xstate v5 state node read here. */
interface StateNodeLike {
  readonly key: string;
  readonly path: readonly string[];
  readonly type: string;
  readonly description?: string;
  readonly states: Readonly<Record<string, StateNodeLike>>;
  readonly initial?: { readonly target: readonly StateNodeLike[] };
  readonly transitions: ReadonlyMap<string, readonly TransitionLike[]>;
  /** Eventless transitions (`always`): taken as soon as their guard holds. */
  readonly always?: readonly TransitionLike[];
}
interface TransitionLike {
  readonly target?: readonly StateNodeLike[];
  readonly guard?: unknown;
}

/**
 * The label an event's transitions are drawn with, as `svasim diagram` writes them: a compound state's
 * `onDone` (xstate's `xstate.done.state.<id>`) is `done`; xstate's other internal events are not drawn.
 */
function eventLabel(event: string): string | null {
  if (event.startsWith('xstate.done.state.')) return 'done';
  return event.startsWith('xstate.') ? null : event;
}

const pathId = (n: StateNodeLike): string => n.path.join('.');
const CHAR_W = 6.6;
const LINE_H = 14;

interface Collected {
  nodes: Map<string, { node: StateNodeLike; parent: string | null; initial: boolean; internal: string[] }>;
  edges: Map<string, { source: string; target: string; events: string[] }>;
}

function collect(node: StateNodeLike, parent: string | null, initial: boolean, out: Collected): void {
  const id = pathId(node);
  const internal: string[] = [];
  out.nodes.set(id, { node, parent, initial, internal });
  // Eventless transitions too (`always`, labelled so): a state left as soon as a guard holds.
  const all: [string, readonly TransitionLike[]][] = [...node.transitions, ...(node.always && node.always.length > 0 ? [['always', node.always] as [string, readonly TransitionLike[]]] : [])];
  for (const [event, transitions] of all) {
    const name = eventLabel(event);
    if (name === null) continue;
    for (const t of transitions) {
      const label = `${name}${t.guard ? ' [guard]' : ''}`;
      const target = t.target?.[0];
      if (!target) {
        if (!internal.includes(label)) internal.push(label);
        continue;
      }
      const key = `${id}->${pathId(target)}`;
      const e = out.edges.get(key) ?? { source: id, target: pathId(target), events: [] };
      if (!e.events.includes(label)) e.events.push(label);
      out.edges.set(key, e);
    }
  }
  const first = node.initial?.target[0];
  for (const child of Object.values(node.states)) collect(child, id, child === first, out);
}

function labelSize(lines: readonly string[]): { width: number; height: number } {
  return { width: Math.max(...lines.map((l) => l.length), 1) * CHAR_W + 8, height: lines.length * LINE_H + 4 };
}

/** Lay out one machine. */
export async function layoutMachine(machine: AnyStateMachine): Promise<MachineLayout> {
  const root = machine.root as unknown as StateNodeLike;
  const found: Collected = { nodes: new Map(), edges: new Map() };
  const first = root.initial?.target[0];
  for (const child of Object.values(root.states)) collect(child, null, child === first, found);
  // Root-level transitions (handled in every state) are listed on the machine, not drawn as edges.
  const rootInternal = [...root.transitions.keys()].flatMap((e) => eventLabel(e) ?? []);

  const elkNodes = new Map<string, ElkNode>();
  const top: ElkNode[] = [];
  for (const [id, n] of found.nodes) {
    const compound = Object.keys(n.node.states).length > 0;
    const size = labelSize([n.node.key]);
    const elk: ElkNode = compound
      ? { id, children: [], labels: [{ text: n.node.key, ...size }], layoutOptions: { 'elk.padding': '[top=28,left=12,bottom=12,right=12]' } }
      : { id, width: Math.max(size.width + 24, 84), height: 34 };
    elkNodes.set(id, elk);
    const parent = n.parent === null ? undefined : elkNodes.get(n.parent);
    if (parent) (parent.children ??= []).push(elk);
    else top.push(elk);
  }
  const edges: ElkExtendedEdge[] = [...found.edges.entries()].map(([key, e]) => ({
    id: key,
    sources: [e.source],
    targets: [e.target],
    labels: [{ text: e.events.join('\n'), ...labelSize(e.events) }],
  }));
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'POLYLINE',
      'elk.layered.spacing.nodeNodeBetweenLayers': '36',
      'elk.spacing.nodeNode': '28',
      'elk.spacing.edgeLabel': '4',
      'elk.edgeLabels.inline': 'false',
      'elk.padding': '[top=12,left=12,bottom=12,right=12]',
    },
    children: top,
    edges,
  };
  const laid = await new ELK().layout(graph);

  // Absolute positions: ELK gives children relative to their parent.
  const abs = new Map<string, { x: number; y: number; width: number; height: number }>();
  const walk = (n: ElkNode, ox: number, oy: number): void => {
    for (const c of n.children ?? []) {
      const x = ox + (c.x ?? 0);
      const y = oy + (c.y ?? 0);
      abs.set(c.id, { x, y, width: c.width ?? 0, height: c.height ?? 0 });
      walk(c, x, y);
    }
  };
  walk(laid, 0, 0);
  // Edge coordinates are relative to the edge's container (ELK reports it); the root here.
  const offsetOf = (container: string | undefined): { x: number; y: number } => {
    const p = container === undefined || container === 'root' ? undefined : abs.get(container);
    return p ? { x: p.x, y: p.y } : { x: 0, y: 0 };
  };
  const allEdges: (ElkExtendedEdge & { container?: string })[] = [];
  const gather = (n: ElkNode): void => {
    for (const e of n.edges ?? []) allEdges.push(e as ElkExtendedEdge & { container?: string });
    for (const c of n.children ?? []) gather(c);
  };
  gather(laid);

  const nodes: LayoutNode[] = [];
  for (const [id, n] of found.nodes) {
    const p = abs.get(id);
    if (!p) throw new Error(`layout of ${machine.id}: state ${id} was not placed`);
    nodes.push({
      id,
      label: n.node.key,
      ...p,
      parent: n.parent,
      compound: Object.keys(n.node.states).length > 0,
      initial: n.initial,
      final: n.node.type === 'final',
      description: n.node.description ?? null,
      internal: n.internal,
    });
  }
  const out: LayoutEdge[] = allEdges.map((e) => {
    const src = found.edges.get(e.id);
    if (!src) throw new Error(`layout of ${machine.id}: unknown edge ${e.id}`);
    const o = offsetOf(e.container);
    const points: { x: number; y: number }[] = [];
    for (const s of e.sections ?? []) {
      points.push({ x: o.x + s.startPoint.x, y: o.y + s.startPoint.y });
      for (const b of s.bendPoints ?? []) points.push({ x: o.x + b.x, y: o.y + b.y });
      points.push({ x: o.x + s.endPoint.x, y: o.y + s.endPoint.y });
    }
    const l = e.labels?.[0];
    return {
      id: e.id,
      source: src.source,
      target: src.target,
      events: src.events,
      points,
      label: l && l.x !== undefined && l.y !== undefined ? { x: o.x + l.x, y: o.y + l.y } : null,
    };
  });
  // ELK may place an edge label or bend a little outside the graph's box: shift everything so the
  // drawing starts at (PAD, PAD) and grow the box to hold it all.
  const PAD = 4;
  let minX = 0;
  let minY = 0;
  let maxX = laid.width ?? 0;
  let maxY = laid.height ?? 0;
  const see = (x: number, y: number, w = 0, h = 0): void => {
    minX = Math.min(minX, x);
    minY = Math.min(minY, y);
    maxX = Math.max(maxX, x + w);
    maxY = Math.max(maxY, y + h);
  };
  for (const n of nodes) see(n.x, n.y, n.width, n.height);
  for (const e of allEdges) {
    const l = e.labels?.[0];
    const src = out.find((o) => o.id === e.id);
    if (l && src?.label) see(src.label.x, src.label.y, l.width ?? 0, l.height ?? 0);
  }
  for (const e of out) for (const p of e.points) see(p.x, p.y);
  const dx = minX < 0 ? PAD - minX : 0;
  const dy = minY < 0 ? PAD - minY : 0;
  const moved = (p: { readonly x: number; readonly y: number }): { x: number; y: number } => ({ x: p.x + dx, y: p.y + dy });
  return {
    id: machine.id,
    width: maxX + dx + (dx > 0 ? PAD : 0),
    height: maxY + dy + (dy > 0 ? PAD : 0),
    nodes: dx === 0 && dy === 0 ? nodes : nodes.map((n) => ({ ...n, ...moved(n) })),
    edges: dx === 0 && dy === 0 ? out : out.map((e) => ({ ...e, points: e.points.map(moved), label: e.label ? moved(e.label) : null })),
    rootEvents: rootInternal,
  };
}

/** Each machine's layout, computed once per process (a machine definition never changes). */
const cached = new WeakMap<AnyStateMachine, Promise<MachineLayout>>();

function layoutOnce(m: AnyStateMachine): Promise<MachineLayout> {
  let p = cached.get(m);
  if (p === undefined) {
    p = layoutMachine(m);
    cached.set(m, p);
  }
  return p;
}

/**
 * The layouts of svasim's machine kinds and of every registered kind whose behavior steps an xstate
 * machine (`fromMachine`); a kind without a machine (a decider) has none: the page shows its state
 * name and context.
 */
export async function machineLayouts(kinds?: Kinds): Promise<Record<string, MachineLayout>> {
  const machines: [string, AnyStateMachine][] = Object.entries(MACHINES);
  for (const d of kinds?.registered() ?? []) if (d.behavior.machine) machines.push([d.name, d.behavior.machine]);
  const entries = await Promise.all(machines.map(async ([k, m]) => [k, await layoutOnce(m)] as const));
  return Object.fromEntries(entries) as Record<ActorKind | string, MachineLayout>;
}
