/**
 * Mermaid exports: `stateDiagram-v2` for a machine (states and transitions read from its definition)
 * and `sequenceDiagram` for a range of log records.
 */
import type { AnyStateMachine } from 'xstate';
import { payloadOf } from '../log/format.ts';
import type { Delivered } from '../runtime/system.ts';

/** The parts of an xstate v5 state node this exporter reads. */
interface Node {
  readonly key: string;
  readonly id: string;
  readonly type: string;
  readonly states: Readonly<Record<string, Node>>;
  readonly initial?: { readonly target: readonly Node[] };
  readonly transitions: ReadonlyMap<string, readonly Edge[]>;
  readonly always?: readonly Edge[];
}
interface Edge {
  readonly target?: readonly Node[];
  readonly guard?: unknown;
}

/** Mermaid state ids must be plain words: `mm.alive.idle` -> `mm_alive_idle`. */
const sid = (n: Node): string => n.id.replace(/[^\w]/g, '_');

function eventLabel(ev: string, node: Node): string {
  if (ev.startsWith('xstate.done.state.')) return 'done';
  void node;
  return ev;
}

function emit(node: Node, depth: number, out: string[]): void {
  const pad = '  '.repeat(depth);
  const children = Object.values(node.states);
  if (children.length > 0) {
    if (depth > 0) out.push(`${pad}state "${node.key}" as ${sid(node)} {`);
    const inner = depth > 0 ? `${pad}  ` : pad;
    const first = node.initial?.target[0];
    if (first) out.push(`${inner}[*] --> ${sid(first)}`);
    for (const c of children) emit(c, depth + 1, out);
    if (depth > 0) out.push(`${pad}}`);
  } else {
    out.push(`${pad}state "${node.key}" as ${sid(node)}`);
    if (node.type === 'final') out.push(`${pad}${sid(node)} --> [*]`);
  }
  // Transitions that change state: one arrow per (source, target), events joined; targetless ones
  // (handled in place) become the state's description lines.
  const arrows = new Map<string, { to: Node; events: string[] }>();
  const inPlace: string[] = [];
  const add = (ev: string, e: Edge): void => {
    const label = `${eventLabel(ev, node)}${e.guard ? ' [guard]' : ''}`;
    const to = e.target?.[0];
    if (!to) {
      if (!inPlace.includes(label)) inPlace.push(label);
      return;
    }
    const key = to.id;
    const a = arrows.get(key) ?? { to, events: [] };
    if (!a.events.includes(label)) a.events.push(label);
    arrows.set(key, a);
  };
  for (const [ev, edges] of node.transitions) for (const e of edges) add(ev, e);
  for (const e of node.always ?? []) add('always', e);
  for (const a of arrows.values()) out.push(`${pad}${sid(node)} --> ${sid(a.to)}: ${a.events.join(', ')}`);
  if (depth > 0 && inPlace.length > 0) out.push(`${pad}${sid(node)} : ${inPlace.join(', ')}`);
}

/** A machine as a Mermaid `stateDiagram-v2`. */
export function machineDiagram(machine: AnyStateMachine): string {
  const root = machine.root as unknown as Node;
  const out = ['stateDiagram-v2'];
  emit(root, 0, out);
  return `${out.join('\n')}\n`;
}

/** Log records `from`..`to` (inclusive seqs) as a Mermaid `sequenceDiagram`, one lane per actor. */
export function sequenceDiagram(records: readonly Delivered[], from = 1, to = Number.POSITIVE_INFINITY): string {
  const picked = records.filter((d) => d.seq >= from && d.seq <= to);
  const lanes: string[] = [];
  for (const d of picked) for (const a of [d.from, d.to]) if (!lanes.includes(a)) lanes.push(a);
  const id = (a: string): string => a.replace(/[^\w]/g, '_');
  const out = ['sequenceDiagram'];
  for (const a of lanes) out.push(`  participant ${id(a)} as ${a}`);
  for (const d of picked) {
    const payload = Object.entries(payloadOf(d))
      .map(([k, v]) => `${k}=${k === 'reason' && typeof v === 'number' ? `0x${v.toString(16)}` : typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ')
      .replace(/[;#]/g, ' ');
    const arrow = d.msg.type === 'fault.dmar' || d.msg.type === 'signal.sigsegv' || d.msg.type === 'trap.gp' ? '-x' : '->>';
    out.push(`  ${id(d.from)}${arrow}${id(d.to)}: [${d.seq}] ${d.msg.type}${payload ? ` ${payload}` : ''}`);
  }
  return `${out.join('\n')}\n`;
}
