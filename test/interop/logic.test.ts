/**
 * svasim as an xstate actor (src/interop/logic.ts): a user's machine invokes or spawns it, steps it,
 * hears its messages as events, gets its result with onDone, sees it in its `inspect` stream, persists
 * and restores it; the typings a user writes need no `any`.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { assign, createActor, sendTo, setup, spawnChild, type ActorRefFrom, type InspectionEvent, type Snapshot } from 'xstate';
import { fromSvasim, svasimLogic, type SvasimEvent, type SvasimRecord, type SvasimSnapshot } from '../../src/interop/logic.ts';
import { loadScenario, runScenario, type RunResult } from '../../src/index.ts';
import { recordLine } from '../../src/log/format.ts';
import type { Errno, Message } from '../../machines/protocol.ts';
import { Kinds } from '../../src/runtime/kinds.ts';
import type { Delivered } from '../../src/runtime/system.ts';
import { scenarioFromValue } from '../../src/scenario/load.ts';
import { genKind, iaxKind, KINDS_SCENARIO } from '../fixtures/kinds.ts';

const SCENARIO = loadScenario('seed-a-unbind-dmar');
const STEPS = SCENARIO.steps.length;

/** svasim's own run of the scenario: its records as events (what the parent should hear). */
function reference(): { records: string[]; result: RunResult } {
  const records: string[] = [];
  const result = runScenario(SCENARIO, { onRecord: (d: Delivered) => records.push(recordLine(d)) });
  return { records, result };
}
/** A record event back as its log line (the record event is the log record as an object). */
const line = (e: SvasimRecord): string => JSON.stringify(e);

/** A user's machine: invokes svasim, steps it on `go`, keeps every record it hears and the result. */
const parentMachine = setup({
  types: {
    context: {} as { readonly heard: readonly string[]; readonly faults: readonly number[]; readonly result: RunResult | null; readonly error: string | null },
    events: {} as SvasimRecord | { type: 'go' } | { type: 'poke'; message: SvasimEvent },
  },
  actors: { svasim: svasimLogic },
}).createMachine({
  id: 'parent',
  context: { heard: [], faults: [], result: null, error: null },
  initial: 'simulating',
  states: {
    simulating: {
      invoke: {
        id: 'sim',
        src: 'svasim',
        input: { scenario: SCENARIO },
        onDone: { target: 'finished', actions: assign({ result: ({ event }) => event.output }) },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => (event.error instanceof Error ? event.error.message : String(event.error)) }) },
      },
      on: {
        go: { actions: sendTo('sim', { type: 'svasim.step' }) },
        poke: { actions: sendTo('sim', ({ event }) => event.message) },
        // One transition per event: this one keeps the record too.
        'fault.dmar': { actions: assign({ faults: ({ context, event }) => [...context.faults, event.seq], heard: ({ context, event }) => [...context.heard, line(event)] }) },
        '*': { actions: assign({ heard: ({ context, event }) => ('seq' in event ? [...context.heard, line(event)] : context.heard) }) },
      },
    },
    finished: { type: 'final' },
    failed: {},
  },
});

describe('svasim as an xstate actor', () => {
  it('a parent invokes it, steps it, hears every message as an event in delivery order, and gets its result on done', () => {
    const want = reference();
    const parent = createActor(parentMachine).start();
    for (let i = 0; i < STEPS - 1; i++) parent.send({ type: 'go' });
    expect(parent.getSnapshot().value).toBe('simulating');
    const sim = parent.getSnapshot().children['sim'];
    expect(sim?.getSnapshot().context.nextStep).toBe(STEPS - 1);
    parent.send({ type: 'go' });
    const s = parent.getSnapshot();
    expect(s.value).toBe('finished');
    expect(s.context.heard).toStrictEqual(want.records);
    expect(s.context.faults).toStrictEqual([48]);
    expect(s.context.result).toStrictEqual(want.result);
    expect(s.context.result?.ok).toBe(true);
  });

  it('its snapshot context is a JSON view: step counters, the verdict so far, the system state', () => {
    const actor = createActor(svasimLogic, { input: { scenario: SCENARIO } }).start();
    actor.send({ type: 'svasim.step' });
    actor.send({ type: 'svasim.step' });
    const c = actor.getSnapshot().context;
    expect(c).toMatchObject({ name: SCENARIO.name, steps: STEPS, nextStep: 2, inStep: false, pending: 0, deferred: 0, ok: true, failures: [] });
    expect(c.lastStep).toMatchObject({ index: 1, result: 'ok', pasid: 1 });
    expect(c.state.mms).toMatchObject([{ id: 1, process: 'A', pasid: 1 }]);
    expect(JSON.parse(JSON.stringify(c))).toStrictEqual(c);
    // One delivery: the next step starts; the step stays in progress until nothing is left to deliver.
    actor.send({ type: 'svasim.deliver' });
    expect(actor.getSnapshot().context).toMatchObject({ nextStep: 3, inStep: true, lastSeq: c.lastSeq + 1 });
    actor.send({ type: 'svasim.step' });
    expect(actor.getSnapshot().context).toMatchObject({ nextStep: 3, inStep: false });
  });

  it('as a root actor: every record is emitted to `on` listeners; svasim.run runs to the end', () => {
    const want = reference();
    const actor = createActor(svasimLogic, { input: { scenario: SCENARIO } });
    const heard: string[] = [];
    const faults: number[] = [];
    actor.on('*', (e) => heard.push(line(e)));
    actor.on('fault.dmar', (e) => faults.push(e.pasid));
    actor.start();
    actor.send({ type: 'svasim.run' });
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().output).toStrictEqual(want.result);
    expect(heard).toStrictEqual(want.records);
    expect(faults).toStrictEqual([1]);
  });

  it('forward: only the named types reach the parent, or the events a mapping makes', () => {
    const only = setup({
      types: { context: {} as { heard: string[] }, events: {} as SvasimRecord | { type: 'dmar'; pasid: number } },
      actors: { types: fromSvasim({ forward: ['fault.dmar', 'wq.accept'] }), mapped: fromSvasim({ forward: (r) => (r.type === 'fault.dmar' ? { type: 'dmar', pasid: Number(r['pasid']) } : undefined) }) },
    }).createMachine({
      context: { heard: [] },
      entry: [
        spawnChild('types', { id: 't', input: { scenario: SCENARIO } }),
        spawnChild('mapped', { id: 'm', input: { scenario: SCENARIO } }),
        sendTo('t', { type: 'svasim.run' }),
        sendTo('m', { type: 'svasim.run' }),
      ],
      on: { '*': { actions: assign({ heard: ({ context, event }) => [...context.heard, event.type] }) } },
    });
    const a = createActor(only).start();
    const heard = a.getSnapshot().context.heard.filter((t) => !t.startsWith('xstate.'));
    expect(heard).toStrictEqual(['wq.accept', 'wq.accept', 'fault.dmar', 'dmar']);
    expect(a.getSnapshot().context.heard.filter((t) => t.startsWith('xstate.done.actor.'))).toStrictEqual(['xstate.done.actor.t', 'xstate.done.actor.m']);
  });

  it('appears in the inspect stream: svasim\'s actors as its children, each delivery an event between them, the receiver\'s snapshot after it', () => {
    const events: InspectionEvent[] = [];
    const parent = createActor(parentMachine, { inspect: (e) => events.push(e) }).start();
    for (let i = 0; i < STEPS; i++) parent.send({ type: 'go' });
    const sim = events.find((e) => e.type === '@xstate.actor' && (e.actorRef as { id?: string }).id === 'sim');
    expect(sim).toBeDefined();
    const simId = sim?.actorRef.sessionId ?? '';
    const children = events.filter((e) => e.type === '@xstate.actor' && e.actorRef.sessionId.startsWith(`${simId}/`)).map((e) => e.actorRef.sessionId.slice(simId.length + 1));
    // The actors that exist at start (in creation order), then each at its first message (user) or birth.
    expect(children).toStrictEqual(['kernel', 'iommu', 'wq:dsa0', 'user', 'mm:1', 'thread:A', 'file:1.1', 'thread:A1']);
    const inner = events.flatMap((e) => (e.type === '@xstate.event' && e.actorRef.sessionId.startsWith(`${simId}/`) ? [e] : []));
    expect(inner.map((e) => line(e.event as SvasimRecord))).toStrictEqual(reference().records);
    const dmar = inner.find((e) => e.event.type === 'fault.dmar');
    expect([dmar?.sourceRef?.sessionId, dmar?.actorRef.sessionId]).toStrictEqual([`${simId}/iommu`, `${simId}/wq:dsa0`]);
    // The receiver's snapshot follows its event: the work queue after the fault counted it.
    const after = events[events.indexOf(dmar as InspectionEvent) + 1];
    expect(after?.type).toBe('@xstate.snapshot');
    expect(after?.type === '@xstate.snapshot' && after.snapshot).toMatchObject({ status: 'active', value: 'enabled', context: { device: 'dsa0', faulted: 1 } });
    // The shown actors carry their machine (inspectors draw it) and their parent, the svasim actor.
    const thread = events.find((e) => e.type === '@xstate.actor' && e.actorRef.sessionId === `${simId}/thread:A1`)?.actorRef as { logic?: { id: string }; _parent?: { sessionId: string } } | undefined;
    expect([thread?.logic?.id, thread?._parent?.sessionId]).toStrictEqual(['thread', simId]);
    // Each message reaches the parent after it is delivered inside svasim.
    const toParent = events.filter((e) => e.type === '@xstate.event' && e.sourceRef?.sessionId === simId && e.event.type === 'fault.dmar');
    expect(toParent).toHaveLength(1);
    expect(events.indexOf(toParent[0] as InspectionEvent)).toBeGreaterThan(events.indexOf(dmar as InspectionEvent));
  });

  it('the inspect stream announces every actor that exists, quiet ones too: at start, at restore, and each birth', () => {
    const kinds = new Kinds([iaxKind, genKind()]);
    // dsa1 and the workload's second instance never get a message.
    const value = { ...KINDS_SCENARIO, devices: [...KINDS_SCENARIO.devices, { name: 'dsa1' }], actors: [...KINDS_SCENARIO.actors, { name: 'idle', kind: 'workload', options: { thread: 'Z', device: 'dsa1', count: 1 } }] };
    const scenario = scenarioFromValue(value, 'quiet.json', undefined, { kinds });
    const logic = fromSvasim({ kinds });
    const children = (events: readonly InspectionEvent[], simId: string): string[] =>
      events.filter((e) => e.type === '@xstate.actor' && e.actorRef.sessionId.startsWith(`${simId}/`)).map((e) => e.actorRef.sessionId.slice(simId.length + 1));
    const events: InspectionEvent[] = [];
    const a = createActor(logic, { input: { scenario }, inspect: (e) => events.push(e) }).start();
    // Before any step: every actor the system starts with, in creation order.
    expect(children(events, a.sessionId)).toStrictEqual(['kernel', 'iommu', 'wq:dsa0', 'wq:iax0', 'wq:dsa1', 'gen:g', 'gen:idle']);
    const dsa1 = events.find((e) => e.type === '@xstate.actor' && e.actorRef.sessionId === `${a.sessionId}/wq:dsa1`)?.actorRef as { logic?: { id: string } } | undefined;
    expect(dsa1?.logic?.id).toBe('wq');
    a.send({ type: 'svasim.step' });
    a.send({ type: 'svasim.step' });
    // Births are announced as they happen (and nobody twice).
    const afterTwo = children(events, a.sessionId);
    expect(afterTwo).toEqual(expect.arrayContaining(['mm:1', 'thread:A']));
    expect(new Set(afterTwo).size).toBe(afterTwo.length);
    const persisted = JSON.parse(JSON.stringify(a.getPersistedSnapshot())) as Snapshot<unknown>;
    a.stop();
    // Restored: every actor that exists then, quiet ones included, before any new delivery.
    const again: InspectionEvent[] = [];
    const b = createActor(logic, { snapshot: persisted, input: { scenario }, inspect: (e) => again.push(e) }).start();
    expect(children(again, b.sessionId)).toStrictEqual(['kernel', 'iommu', 'wq:dsa0', 'wq:iax0', 'wq:dsa1', 'gen:g', 'gen:idle', 'mm:1', 'thread:A', 'file:1.1']);
    b.stop();
  });

  it('a persisted parent (svasim inside, mid-run, through JSON) restored goes on to the same records and result', () => {
    const want = reference();
    const first = createActor(parentMachine).start();
    for (let i = 0; i < 3; i++) first.send({ type: 'go' });
    first.send({ type: 'poke', message: { type: 'svasim.deliver' } });
    expect(first.getSnapshot().children['sim']?.getSnapshot().context.inStep).toBe(true);
    const persisted = JSON.parse(JSON.stringify(first.getPersistedSnapshot())) as Snapshot<unknown>;
    first.stop();
    const second = createActor(parentMachine, { snapshot: persisted }).start();
    for (let i = 3; i < STEPS; i++) second.send({ type: 'go' });
    const s = second.getSnapshot();
    expect(s.value).toBe('finished');
    expect(s.context.heard).toStrictEqual(want.records);
    expect(s.context.result).toStrictEqual(want.result);
  });

  it('a persisted svasim actor restored on its own continues identically; a done one restores done', () => {
    const want = reference();
    const a = createActor(svasimLogic, { input: { scenario: SCENARIO } });
    const heard: string[] = [];
    a.on('*', (e) => heard.push(line(e)));
    a.start();
    a.send({ type: 'svasim.step' });
    a.send({ type: 'svasim.deliver' });
    const mid = JSON.parse(JSON.stringify(a.getPersistedSnapshot())) as Snapshot<unknown>;
    // xstate's types ask for the input beside a snapshot; restoring ignores it.
    const b = createActor(svasimLogic, { snapshot: mid, input: { scenario: SCENARIO } });
    b.on('*', (e) => heard.push(line(e)));
    b.start();
    expect(b.getSnapshot().context).toStrictEqual(a.getSnapshot().context);
    b.send({ type: 'svasim.run' });
    expect(heard).toStrictEqual(want.records);
    expect(b.getSnapshot().output).toStrictEqual(want.result);
    const done = JSON.parse(JSON.stringify(b.getPersistedSnapshot())) as Snapshot<unknown>;
    const c = createActor(svasimLogic, { snapshot: done, input: { scenario: SCENARIO } }).start();
    expect(c.getSnapshot().status).toBe('done');
    expect(c.getSnapshot().output).toStrictEqual(want.result);
  });

  it('svasim.input injects a message as an input; a malformed one fails the actor and its parent hears why', () => {
    const parent = createActor(parentMachine).start();
    for (let i = 0; i < 4; i++) parent.send({ type: 'go' });
    const before = parent.getSnapshot().context.heard.length;
    parent.send({ type: 'poke', message: { type: 'svasim.input', message: { type: 'insn.enqcmd', thread: 'A1', device: 'dsa0' }, to: 'thread:A1' } });
    const injected = parent.getSnapshot().context.heard.slice(before).map((l) => (JSON.parse(l) as { type: string }).type);
    expect(injected).toStrictEqual(['insn.enqcmd', 'portal.store', 'file.store', 'wq.submit', 'wq.accept', 'iommu.translate', 'iommu.translated', 'wq.complete']);
    parent.send({ type: 'poke', message: { type: 'svasim.input', message: { type: 'insn.enqcmd', thread: 'A1' }, to: 'thread:A1' } });
    expect(parent.getSnapshot().value).toBe('failed');
    expect(parent.getSnapshot().context.error).toMatch(/^svasim input insn\.enqcmd to thread:A1: device: /);
  });

  it('a malformed svasim event or input fails the actor with one line naming it; other events are ignored', () => {
    const bad = createActor(svasimLogic, { input: { scenario: SCENARIO } }).start();
    const errors: unknown[] = [];
    bad.subscribe({ error: (e) => errors.push(e) });
    bad.send({ type: 'something.else' } as unknown as SvasimEvent);
    expect(bad.getSnapshot().status).toBe('active');
    bad.send({ type: 'svasim.input', message: { type: 'sys.exit', thread: 'A' }, to: 'nowhere' } as unknown as SvasimEvent);
    expect(bad.getSnapshot().status).toBe('error');
    expect(String(errors[0])).toBe('Error: svasim actor: event svasim.input: to: not an address (user, kernel, iommu, monitor or <prefix>:<name>)');
    const noInput = createActor(svasimLogic, { input: {} as { scenario: never } });
    noInput.subscribe({ error: () => {} });
    noInput.start();
    expect(noInput.getSnapshot().status).toBe('error');
    expect(String(noInput.getSnapshot().error)).toBe('Error: svasim actor input: scenario: required: a scenario (from loadScenario)');
  });

  it('with registered kinds: the records are the log\'s lines, observers\' copies included, through a restore', () => {
    const kinds = new Kinds([iaxKind, genKind()]);
    const scenario = scenarioFromValue(KINDS_SCENARIO, 'kinds.json', undefined, { kinds });
    const want: string[] = [];
    const result = runScenario(scenario, { kinds, onRecord: (d) => want.push(recordLine(d)) });
    expect(want.some((l) => l.includes('"copy":true'))).toBe(true);
    const logic = fromSvasim<Message | { type: 'gen.done'; submitted: number }>({ kinds });
    const heard: string[] = [];
    const a = createActor(logic, { input: { scenario } });
    a.on('*', (e) => heard.push(JSON.stringify(e)));
    a.start();
    a.send({ type: 'svasim.step' });
    a.send({ type: 'svasim.deliver' });
    const b = createActor(logic, { snapshot: JSON.parse(JSON.stringify(a.getPersistedSnapshot())) as Snapshot<unknown>, input: { scenario } });
    b.on('*', (e) => heard.push(JSON.stringify(e)));
    b.on('gen.done', (e) => expectTypeOf(e.submitted).toEqualTypeOf<number>());
    b.start();
    b.send({ type: 'svasim.run' });
    expect(heard).toStrictEqual(want);
    expect(b.getSnapshot().output).toStrictEqual(result);
  });

  it('is deterministic: two runs give the same events, snapshots and persisted data', () => {
    const runOnce = (): string => {
      const a = createActor(svasimLogic, { input: { scenario: SCENARIO } });
      const out: string[] = [];
      a.on('*', (e) => out.push(line(e)));
      a.subscribe((s) => out.push(JSON.stringify(s.context)));
      a.start();
      for (let i = 0; i < 3; i++) a.send({ type: 'svasim.step' });
      out.push(JSON.stringify(a.getPersistedSnapshot()));
      return out.join('\n');
    };
    expect(runOnce()).toBe(runOnce());
  });

  it('types: a user needs no any (events, input, snapshot, output, emitted records)', () => {
    const actor = createActor(svasimLogic, { input: { scenario: SCENARIO } });
    expectTypeOf(actor.getSnapshot()).toEqualTypeOf<SvasimSnapshot>();
    expectTypeOf(actor.getSnapshot().context.lastSeq).toEqualTypeOf<number>();
    expectTypeOf(actor.send).parameter(0).toEqualTypeOf<SvasimEvent>();
    actor.on('fault.dmar', (e) => {
      expectTypeOf(e.pasid).toEqualTypeOf<number>();
      expectTypeOf(e.seq).toEqualTypeOf<number>();
    });
    type Sim = ActorRefFrom<typeof svasimLogic>;
    expectTypeOf<Sim['send']>().parameter(0).toEqualTypeOf<SvasimEvent>();
    expectTypeOf<Extract<SvasimRecord, { type: 'sys.return' }>['errno']>().toEqualTypeOf<Errno | undefined>();
    const s = actor.getSnapshot();
    if (s.status === 'done') expectTypeOf(s.output).toEqualTypeOf<RunResult>();
  });
});
