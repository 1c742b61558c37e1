/**
 * The compiled engine (src/runtime/compiled.ts) against xstate's own interpreter: the same messages, the
 * same states, the same snapshots, for svasim's machines (every built-in scenario; random event sequences
 * on each machine, including states no scenario reaches) and for a synthetic machine using every
 * feature the compiler accepts (nested states, entry/exit, always, onDone, reenter, guard combinators,
 * params, enqueueActions with check). Machines outside the subset are not compiled.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  and,
  assign,
  createActor,
  createMachine,
  emit,
  enqueueActions,
  not,
  or,
  raise,
  setup,
  type AnyActorScope,
  type AnyStateMachine,
  type EventObject,
} from 'xstate';
import { MACHINES, type ActorKind } from '../../machines/index.ts';
import { recordLine } from '../../src/log/format.ts';
import { CompiledMachine, CompiledSnapshot, unsupported } from '../../src/runtime/compiled.ts';
import type { Delivered, EngineKind } from '../../src/runtime/system.ts';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/runner/run.ts';
import { builtinNames, builtinPath } from '../../src/scenarios/index.ts';

/** A run's log lines and the whole system snapshot (xstate's persisted format) after every step. */
function trace(name: string, engine: EngineKind): { lines: string[]; states: string[] } {
  const path = builtinPath(name);
  if (!path) throw new Error(name);
  const lines: string[] = [];
  const states: string[] = [];
  runScenario(loadScenarioFile(path), {
    engine,
    onRecord: (d) => lines.push(recordLine(d)),
    onSettled: (sys) => states.push(JSON.stringify(sys.snapshot())),
  });
  return { lines, states };
}

describe('svasim machines: compiled engine = xstate', () => {
  it('every machine compiles (none falls back to the interpreter)', () => {
    for (const [kind, m] of Object.entries(MACHINES)) expect(unsupported(m), kind).toBeNull();
  });

  it.each(builtinNames())('%s: byte-identical log and equal snapshots after every step', (name) => {
    const x = trace(name, 'xstate');
    const c = trace(name, 'compiled');
    expect(c.lines.length).toBeGreaterThan(0);
    expect(c.lines).toEqual(x.lines);
    expect(c.states).toEqual(x.states);
  });
});

// ---- one machine at a time: both engines fed the same events ----

/** An xstate actor scope like the runtime's: emits are deferred to the end of the transition. */
function scopeFor(): { scope: AnyActorScope; flush: () => EventObject[] } {
  const host = createActor(createMachine({}));
  const deferred: (() => void)[] = [];
  const emitted: EventObject[] = [];
  const scope = {
    self: host,
    id: '',
    sessionId: '',
    logger: () => {},
    system: host.system,
    stopChild: () => {},
    defer: (fn: () => void) => void deferred.push(fn),
    emit: (ev: EventObject) => void emitted.push(ev),
    actionExecutor: (a: { exec?: (info: unknown, params: unknown) => void; info: unknown; params: unknown }) => a.exec?.(a.info, a.params),
  } as unknown as AnyActorScope;
  const flush = (): EventObject[] => {
    for (const fn of deferred.splice(0)) fn();
    return emitted.splice(0);
  };
  return { scope, flush };
}

type Outcome = { value: unknown; context: unknown; emitted: EventObject[]; same: boolean } | { error: true };

/**
 * Feed `events` to `machine` under both engines from the same initial snapshot and compare after each
 * event: whether the event is taken (an enabled transition: the actor contract's answer), state value,
 * context, emitted events, whether the snapshot stayed the same object, and `can()` of every probe event.
 */
function compareRun(machine: AnyStateMachine, input: unknown, events: readonly EventObject[], probes: readonly EventObject[] = events): void {
  const compiled = CompiledMachine.compile(machine);
  if (compiled === null) throw new Error(`${machine.id} does not compile: ${unsupported(machine)}`);
  const x = scopeFor();
  let xs = machine.getInitialSnapshot(x.scope, input);
  x.flush(); // initial entry emits: both engines start from this same xstate snapshot
  let cs = compiled.fromValue(xs.value, xs.context);
  expect(cs.value).toEqual(xs.value);
  const c = scopeFor();
  for (const [i, ev] of events.entries()) {
    // Taken (the actor contract): a transition of the current state is enabled for the event.
    let xTaken: boolean | 'threw';
    let cTaken: boolean | 'threw';
    try {
      xTaken = machine.getTransitionData(xs, ev).length > 0;
    } catch {
      xTaken = 'threw';
    }
    try {
      cTaken = compiled.takes(cs, ev);
    } catch {
      cTaken = 'threw';
    }
    expect(cTaken, `taken: event ${i} ${ev.type}`).toBe(xTaken);
    let xo: Outcome;
    try {
      const next = machine.transition(xs, ev, x.scope);
      xo = { value: next.value, context: next.context, emitted: x.flush(), same: next === xs };
      xs = next;
    } catch {
      x.flush();
      xo = { error: true };
    }
    let co: Outcome;
    try {
      const out: EventObject[] = [];
      const next = compiled.transition(cs, ev, c.scope, out);
      co = { value: next.value, context: next.context, emitted: out, same: next === cs };
      cs = next;
    } catch {
      co = { error: true };
    }
    expect(co, `event ${i} ${ev.type}`).toEqual(xo);
    if ('error' in xo) return; // both threw: the actor is in error, nothing further to compare
    for (const p of probes) expect(cs.can(p), `can(${p.type}) after event ${i}`).toBe(xs.can(p));
  }
  // Persisted snapshots are xstate's own format.
  expect(compiled.persisted(cs)).toEqual(machine.getPersistedSnapshot(xs));
}

/** Every message each machine kind receives in the built-in scenarios, and the inputs its actors start from. */
function corpus(): Map<ActorKind, { inputs: unknown[]; events: EventObject[] }> {
  const out = new Map<ActorKind, { inputs: unknown[]; events: EventObject[] }>();
  const kindOf = (to: string): ActorKind | null =>
    to === 'kernel' ? 'kernel' : to === 'iommu' ? 'iommu' : to.startsWith('thread:') ? 'thread' : to.startsWith('mm:') ? 'mm' : to.startsWith('wq:') ? 'wq' : null;
  for (const name of builtinNames()) {
    const path = builtinPath(name);
    if (!path) continue;
    const scenario = loadScenarioFile(path);
    runScenario(scenario, {
      onRecord: (d: Delivered) => {
        const kind = kindOf(d.to);
        if (kind === null) return;
        const entry = out.get(kind) ?? { inputs: [], events: [] };
        out.set(kind, entry);
        const seen = entry.events.some((e) => JSON.stringify(e) === JSON.stringify(d.msg));
        if (!seen) entry.events.push(d.msg);
        if (d.msg.type === 'mm.create') {
          const m = d.msg;
          entry.inputs.push({ id: Number(d.to.slice(3)), process: m.process, threads: m.threads, lam: m.lam, policy: scenario.policy, cpu: scenario.cpu });
        }
        if (d.msg.type === 'thread.start') entry.inputs.push({ name: d.to.slice(7), process: d.msg.process, mm: d.msg.mm });
      },
    });
    const devices = scenario.devices.map((d) => d.name);
    const iommu = out.get('iommu') ?? { inputs: [], events: [] };
    iommu.inputs.push({ policy: scenario.policy.pasid, pasidRange: scenario.iommu.pasidRange, devices });
    out.set('iommu', iommu);
    const wq = out.get('wq') ?? { inputs: [], events: [] };
    for (const d of scenario.devices) wq.inputs.push({ device: d.name, wqSize: d.wqSize, threshold: d.threshold, autoComplete: d.autoComplete });
    out.set('wq', wq);
    const kernel = out.get('kernel') ?? { inputs: [], events: [] };
    kernel.inputs.push(undefined);
    out.set('kernel', kernel);
  }
  return out;
}

describe('svasim machines: random event sequences (any order, any state)', () => {
  const c = corpus();
  it.each(['thread', 'mm', 'iommu', 'wq', 'kernel'] as const)('%s', (kind) => {
    const entry = c.get(kind);
    if (!entry) throw new Error(`no corpus for ${kind}`);
    expect(entry.events.length).toBeGreaterThan(kind === 'kernel' ? 1 : 5);
    expect(entry.inputs.length).toBeGreaterThan(0);
    fc.assert(
      fc.property(fc.constantFrom(...entry.inputs), fc.array(fc.constantFrom(...entry.events), { minLength: 1, maxLength: 40 }), (input, events) => {
        compareRun(MACHINES[kind], input, events, entry.events);
      }),
      { numRuns: kind === 'mm' ? 300 : 150, seed: 7 },
    );
  });
});

// ---- a synthetic machine with every feature the compiler accepts ----

type Ev =
  | { type: 'a' }
  | { type: 'b'; n: number }
  | { type: 'c' }
  | { type: 'd' }
  | { type: 'e'; n: number }
  | { type: 'r' };

const kitchenSink = setup({
  types: { context: {} as { n: number; log: string[] }, events: {} as Ev, emitted: {} as { type: 'out'; tag: string; n: number } },
  guards: {
    big: ({ context }) => context.n > 3,
    odd: ({ context }) => context.n % 2 === 1,
    atLeast: ({ context }, p: unknown) => context.n >= (p as { min: number }).min,
    alias: 'odd' as never,
  },
  actions: {
    note: assign(({ context }, p: { tag: string } | undefined) => ({ log: [...context.log.slice(-6), p?.tag ?? '?'] })),
    inc: assign({ n: ({ context }) => context.n + 1 }),
    shout: emit(({ context }, p: { tag: string } | undefined) => ({ type: 'out' as const, tag: p?.tag ?? 'shout', n: context.n })),
    plain: ({ context }) => {
      // A plain action sees the context of the moment (after earlier assigns in the same step).
      if (context.n < 0) throw new Error('negative');
    },
    both: enqueueActions(({ context, enqueue, check }) => {
      enqueue.assign({ n: context.n + 2 });
      if (check('odd')) enqueue.emit({ type: 'out', tag: 'odd-before', n: context.n });
      // Named actions by string and by { type, params } (setup cannot type its own siblings here).
      const byName = enqueue as unknown as (a: string | { type: string; params: unknown }) => void;
      byName('inc');
      byName({ type: 'note', params: { tag: 'enq' } });
      enqueue(({ context: now }) => {
        if (now.n === context.n) throw new Error('assign not applied before a later action');
      });
    }),
  },
}).createMachine({
  id: 'sink',
  context: { n: 0, log: [] },
  initial: 'outer',
  entry: { type: 'note', params: { tag: 'root-entry' } },
  on: {
    r: { target: '.outer', reenter: true, actions: { type: 'note', params: { tag: 'reset' } } },
    e: { actions: [assign({ n: ({ event }) => event.n }), { type: 'shout', params: { tag: 'e' } }] },
  },
  states: {
    outer: {
      initial: 'idle',
      entry: { type: 'note', params: { tag: 'outer-in' } },
      exit: [{ type: 'note', params: { tag: 'outer-out' } }, 'shout'],
      on: {
        c: [{ guard: and(['big', not('odd')]), target: 'done' }, { guard: or(['alias', { type: 'atLeast', params: { min: 10 } }]), actions: 'both' }, { actions: 'inc' }],
      },
      states: {
        idle: {
          entry: { type: 'note', params: { tag: 'idle-in' } },
          exit: { type: 'note', params: { tag: 'idle-out' } },
          on: {
            a: { target: 'busy', actions: ['inc', 'plain', { type: 'shout', params: { tag: 'a' } }] },
            b: { target: 'idle', reenter: true, actions: assign({ n: ({ context, event }) => context.n + event.n }) },
            d: { target: 'idle', actions: { type: 'note', params: { tag: 'self-no-reenter' } } },
          },
        },
        busy: {
          initial: 'one',
          entry: 'inc',
          on: { a: { target: '#sink.outer.idle' }, d: { target: '.two', actions: 'inc' } },
          states: {
            one: { always: { guard: 'big', target: 'two', actions: { type: 'note', params: { tag: 'always' } } } },
            two: {
              entry: { type: 'note', params: { tag: 'two-in' } },
              on: { b: [{ guard: ({ event }) => event.n > 2, target: 'fin' }, { target: 'one', actions: 'inc' }] },
            },
            fin: { type: 'final', entry: 'shout' },
          },
          onDone: { target: 'loop', actions: { type: 'note', params: { tag: 'done!' } } },
        },
        loop: {
          always: [{ guard: ({ context }) => context.n < 8, actions: 'inc' }, { guard: 'big', target: 'idle' }],
        },
      },
    },
    done: {
      on: { a: { target: 'outer.busy.two' } },
    },
  },
});

const evArb: fc.Arbitrary<Ev> = fc.oneof(
  fc.constant<Ev>({ type: 'a' }),
  fc.integer({ min: 0, max: 5 }).map((n): Ev => ({ type: 'b', n })),
  fc.constant<Ev>({ type: 'c' }),
  fc.constant<Ev>({ type: 'd' }),
  fc.integer({ min: -1, max: 12 }).map((n): Ev => ({ type: 'e', n })),
  fc.constant<Ev>({ type: 'r' }),
);
const PROBES: Ev[] = [{ type: 'a' }, { type: 'b', n: 1 }, { type: 'b', n: 4 }, { type: 'c' }, { type: 'd' }, { type: 'e', n: 2 }, { type: 'r' }];

describe('a synthetic machine using every supported feature', () => {
  it('compiles', () => {
    expect(unsupported(kitchenSink)).toBeNull();
  });

  it('property: both engines agree on values, contexts, emits, same-snapshot and can() for any events', () => {
    fc.assert(
      fc.property(fc.array(evArb, { minLength: 1, maxLength: 60 }), (events) => {
        compareRun(kitchenSink, undefined, events, PROBES);
      }),
      { numRuns: 400, seed: 11 },
    );
  });

  it('reaches its nested final state, onDone and the eventless loop (the property covers them)', () => {
    const compiled = CompiledMachine.compile(kitchenSink);
    if (!compiled) throw new Error('no compile');
    const { scope } = scopeFor();
    const x = kitchenSink.getInitialSnapshot(scope, undefined);
    let s: CompiledSnapshot = compiled.fromValue(x.value, x.context);
    const out: EventObject[] = [];
    for (const ev of [{ type: 'e', n: 5 }, { type: 'a' }, { type: 'b', n: 4 }] as Ev[]) s = compiled.transition(s, ev, scope, out);
    expect(s.value).toEqual({ outer: 'idle' });
    expect((s.context as { log: string[] }).log).toContain('done!');
    expect(out.map((e) => (e as { tag?: string }).tag)).toContain('shout');
  });
});

describe('machines outside the subset are left to xstate', () => {
  const cases: [string, AnyStateMachine, RegExp][] = [
    ['parallel', createMachine({ type: 'parallel', states: { a: {}, b: {} } }), /parallel/],
    ['history', createMachine({ initial: 'a', states: { a: { initial: 'x', states: { x: {}, h: { type: 'history' } } } } }), /history/],
    ['invoke', createMachine({ initial: 'a', states: { a: { invoke: { src: createMachine({}) } } } }), /invoke/],
    ['delayed', createMachine({ initial: 'a', states: { a: { after: { 10: 'b' } }, b: {} } }), /delayed/],
    ['wildcard', createMachine({ initial: 'a', states: { a: { on: { '*': 'b' } }, b: {} } }), /wildcard/],
    ['raise', createMachine({ initial: 'a', states: { a: { on: { go: { actions: raise({ type: 'x' }) } } } } }), /xstate.raise/],
    ['top-level final', createMachine({ initial: 'a', states: { a: { on: { go: 'b' } }, b: { type: 'final' } } }), /final/],
  ];
  it.each(cases)('%s', (_name, machine, why) => {
    expect(unsupported(machine)).toMatch(why);
    expect(CompiledMachine.compile(machine)).toBeNull();
  });
});

describe('cases found by review (each compared with xstate)', () => {
  const go = { type: 'GO' };
  it('an event with no transition still runs eventless transitions that its guard enables', () => {
    const m = createMachine({ initial: 'a', states: { a: { always: { guard: ({ event }) => event.type === 'GO', target: 'b' } }, b: {} } });
    compareRun(m, undefined, [{ type: 'X' }, go]);
  });

  it('a targetless eventless transition stopped by the unchanged-snapshot rule runs again on the next event', () => {
    const m = setup({ types: { emitted: {} as { type: 'tick' } } }).createMachine({ initial: 'a', states: { a: { always: { actions: emit({ type: 'tick' }) }, on: { X: {} } } } });
    compareRun(m, undefined, [{ type: 'X' }, { type: 'Y' }, { type: 'X' }]);
  });

  it('a round trip (a -> b -> a in one macrostep) is a new snapshot, as in xstate', () => {
    const m = createMachine({ initial: 'a', states: { a: { on: { GO: 'b' } }, b: { always: 'a' } } });
    compareRun(m, undefined, [go, go]);
    const compiled = CompiledMachine.compile(m);
    if (!compiled) throw new Error('no compile');
    const s = compiled.fromValue('a', {});
    expect(compiled.transition(s, go, scopeFor().scope, [])).not.toBe(s);
  });

  it('options.maxIterations stops an endless eventless loop with xstate\'s error', () => {
    const m = createMachine({
      options: { maxIterations: 5 },
      context: { n: 0 },
      initial: 'a',
      states: { a: { on: { GO: 'b' } }, b: { always: { guard: ({ context }) => context.n < 10, actions: assign({ n: ({ context }) => context.n + 1 }) } } },
    } as Parameters<typeof createMachine>[0]);
    compareRun(m, undefined, [go]);
    const compiled = CompiledMachine.compile(m);
    if (!compiled) throw new Error('no compile');
    expect(() => compiled.transition(compiled.fromValue('a', { n: 0 }), go, scopeFor().scope, [])).toThrow(/^Infinite loop detected/);
  });

  it('a guard that throws is reported as xstate reports it', () => {
    const m = setup({ guards: { bad: () => { throw new Error('boom'); } } }).createMachine({ id: 'g', initial: 'a', states: { a: { on: { GO: { guard: 'bad', target: 'b' } } }, b: {} } });
    const compiled = CompiledMachine.compile(m);
    if (!compiled) throw new Error('no compile');
    const { scope } = scopeFor();
    const x = m.getInitialSnapshot(scope, undefined);
    let xerr = '';
    try {
      m.transition(x, go, scope);
    } catch (e) {
      xerr = (e as Error).message;
    }
    expect(xerr).toContain('boom');
    expect(() => compiled.transition(compiled.fromValue(x.value, x.context), go, scope, [])).toThrow(xerr);
  });

  it('what the compiler cannot see refuses with a clear error instead of doing something else', () => {
    const raising = setup({}).createMachine({ initial: 'a', states: { a: { on: { GO: { actions: enqueueActions(({ enqueue }) => enqueue.raise({ type: 'N' })) }, N: 'b' } }, b: {} } });
    const compiled = CompiledMachine.compile(raising);
    if (!compiled) throw new Error('no compile');
    const s = compiled.fromValue('a', {});
    expect(() => compiled.transition(s, go, scopeFor().scope, [])).toThrow('enqueue.raise is not supported by svasim\'s compiled engine (run with --engine xstate)');
    expect(() => compiled.transition(s, { type: 'xstate.stop' }, scopeFor().scope, [])).toThrow(/reserved event xstate.stop/);
  });

  it('a machine without states, and a named raise action only an enqueueActions body could use, are left to xstate', () => {
    expect(unsupported(createMachine({ context: { n: 0 }, on: { INC: { actions: assign({ n: ({ context }) => context.n + 1 }) } } }))).toBe('a machine without states');
    const named = setup({ actions: { r: raise({ type: 'N' }) } }).createMachine({ initial: 'a', states: { a: {} } });
    expect(unsupported(named)).toMatch(/action r: action xstate.raise/);
  });
});
