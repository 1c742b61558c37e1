/**
 * The inspector's statechart layouts (src/inspect/layout.ts) draw what the machine definitions say, as
 * `svasim diagram <machine>` (src/inspect/mermaid.ts) writes it: every transition that changes state —
 * eventless `always` ones and compound states' `done` included — and every state, also for a machine
 * of a single state.
 */
import { describe, expect, it } from 'vitest';
import { createMachine, type AnyStateMachine } from 'xstate';
import { MACHINES } from '../../machines/index.ts';
import { layoutMachine, type MachineLayout } from '../../src/inspect/layout.ts';
import { machineDiagram } from '../../src/inspect/mermaid.ts';

/** A state's Mermaid id, from its dotted path below the root (`alive.idle` → `mm_alive_idle`). */
const sid = (machine: AnyStateMachine, path: string): string => `${machine.id}.${path}`.replace(/[^\w]/g, '_');

/** The diagram's arrows between states (not the initial / final markers), one `from --> to: events` line each. */
function diagramArrows(machine: AnyStateMachine): string[] {
  return machineDiagram(machine)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => / --> /.test(l) && !l.includes('[*]'))
    .sort();
}

/** The layout's edges written as the diagram's arrows. */
function layoutArrows(machine: AnyStateMachine, l: MachineLayout): string[] {
  return l.edges.map((e) => `${sid(machine, e.source)} --> ${sid(machine, e.target)}: ${e.events.join(', ')}`).sort();
}

describe('statechart layouts', () => {
  it.each(Object.entries(MACHINES))('%s: the same transitions as svasim diagram, always and done included', async (_kind, machine) => {
    const l = await layoutMachine(machine);
    expect(layoutArrows(machine, l)).toStrictEqual(diagramArrows(machine));
    // Every edge is routed between placed states.
    for (const e of l.edges) expect(e.points.length, e.id).toBeGreaterThanOrEqual(2);
  });

  it('mm: the eventless transitions the review found missing are drawn', async () => {
    const l = await layoutMachine(MACHINES.mm);
    const edge = (source: string, target: string): readonly string[] | undefined => l.edges.find((e) => e.source === source && e.target === target)?.events;
    expect(edge('alive.execWait', 'exiting')).toStrictEqual(['always [guard]']);
    expect(edge('alive.putting', 'alive.idle')).toStrictEqual(['always [guard]']);
    expect(edge('exiting.teardown', 'exiting.putting')).toStrictEqual(['iommu.torndown', 'always [guard]']);
    // The held mm (mm_users 0, grabbed by SVA bonds) is dropped only once ungrabbed.
    expect(edge('exiting.dropped', 'exiting.dropping')).toStrictEqual(['always [guard]']);
  });

  it('a compound state\'s onDone is drawn as `done`', async () => {
    const m = createMachine({
      id: 'job',
      initial: 'work',
      states: { work: { initial: 'a', states: { a: { on: { go: 'b' } }, b: { type: 'final' } }, onDone: 'idle' }, idle: {} },
    });
    const l = await layoutMachine(m);
    expect(l.edges.find((e) => e.source === 'work' && e.target === 'idle')?.events).toStrictEqual(['done']);
  });

  it('file: the release drains first, always, then unbinds only a file still bound', async () => {
    const l = await layoutMachine(MACHINES.file);
    const edge = (source: string, target: string): readonly string[] | undefined => l.edges.find((e) => e.source === source && e.target === target)?.events;
    expect(edge('open', 'releasing')).toStrictEqual(['file.put [guard]']);
    expect(edge('releasing.draining', 'releasing.unbinding')).toStrictEqual(['wq.drained [guard]']);
    expect(edge('releasing.draining', 'released')).toStrictEqual(['wq.drained']);
    expect(edge('releasing.unbinding', 'released')).toStrictEqual(['iommu.unbound']);
  });

  it('a machine of one state is laid out: its state, with the events it takes in place', async () => {
    const wq = await layoutMachine(MACHINES.wq);
    expect(wq.nodes.map((n) => n.id)).toStrictEqual(['enabled']);
    expect(wq.nodes[0]?.internal).toEqual(expect.arrayContaining(['wq.submit', 'fault.dmar']));
    expect(wq.width).toBeGreaterThan(0);
    // A user's one-state machine with an eventless self-check.
    const mine = createMachine({ id: 'credit', initial: 'running', states: { running: { on: { 'wq.submit': {} }, always: { guard: () => false, actions: () => undefined } } } });
    const l = await layoutMachine(mine);
    expect(l.nodes.map((n) => [n.id, n.internal])).toStrictEqual([['running', ['wq.submit', 'always [guard]']]]);
  });
});
