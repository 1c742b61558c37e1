/**
 * Actors of registered kinds (src/runtime/kinds.ts) and the actor contract (src/runtime/actor.ts): a
 * device model declared by a scenario, a workload generator that observes svasim's messages, their
 * messages checked by their schemas, their monitors, logs naming them, replay, snapshot/restore,
 * what-if, and every mistake in a registration or a scenario.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LogError, readLog } from '../../src/log/reader.ts';
import { replay, replayFile } from '../../src/replay/replay.ts';
import { whatIf } from '../../src/replay/whatif.ts';
import { DEFER, fromDecider, type Sent } from '../../src/runtime/actor.ts';
import { KindError, Kinds, type KindDefinition } from '../../src/runtime/kinds.ts';
import { FifoScheduler } from '../../src/runtime/scheduler.ts';
import { System, type Delivered } from '../../src/runtime/system.ts';
import { parseScenario, ScenarioError, scenarioFromValue } from '../../src/scenario/load.ts';
import { runScenario, ScenarioRun, systemConfig } from '../../src/runner/run.ts';
import { genKind, iaxKind, KINDS_SCENARIO, watchdogKind } from '../fixtures/kinds.ts';
import { LogSession } from '../../src/inspect/session.ts';
import { stateAt } from '../../src/replay/checkpoints.ts';
import { formatState, systemState } from '../../src/runtime/state.ts';
import { recordLine } from '../../src/log/format.ts';
import type { Address } from '../../machines/protocol.ts';

const tmp = mkdtempSync(join(tmpdir(), 'svasim-kinds-'));
const registry = (...extra: KindDefinition[]): Kinds => new Kinds([iaxKind, genKind(), ...extra]);

describe('actors of registered kinds', () => {
  it('a scenario device of a registered kind is that model at wq:<device>; a generator drives a thread; both are logged', () => {
    const kinds = registry();
    const s = scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds });
    const lines: string[] = [];
    const r = runScenario(s, { kinds, onRecord: (d) => lines.push(recordLine(d)) });
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
    // The model answered the submissions to iax0, the built-in queue those to dsa0.
    expect(lines.some((l) => l.includes('"type":"wq.accept","from":"wq:iax0"'))).toBe(true);
    expect(lines.some((l) => l.includes('"type":"wq.accept","from":"wq:dsa0"'))).toBe(true);
    // The generator heard the completion (a copy caused by it) and submitted again, as a program would.
    const copy = lines.findIndex((l) => l.includes('"type":"wq.complete","from":"wq:iax0","to":"gen:g"'));
    expect(copy).toBeGreaterThan(0);
    expect(lines[copy + 1]).toMatch(/"type":"insn.enqcmd","from":"gen:g","to":"thread:A","cause":\d+/);
    expect(lines.filter((l) => l.includes('"from":"gen:g","to":"thread:A"'))).toHaveLength(3);
    expect(lines.some((l) => l.includes('"type":"gen.done","from":"gen:g","to":"user"') && l.includes('"submitted":3'))).toBe(true);
    // Copies say so in the log, and are not counted as more messages of their type.
    expect(lines[copy]).toMatch(/"step":\d+,"copy":true,/);
    const copies = lines.filter((l) => l.includes('"copy":true'));
    expect(copies.every((l) => l.includes('"to":"gen:g"'))).toBe(true);
    expect(r.counts['wq.complete']).toBe(lines.filter((l) => l.includes('"type":"wq.complete"') && !l.includes('"copy":true')).length);
    expect(r.counts['wq.complete']).toBe(5);
  });

  it('a device model answers a release\'s wq.drain at the file that asked (`file`), at once or once the PASID\'s descriptors are done', () => {
    const kinds = registry();
    const s = scenarioFromValue(
      {
        scenario: 1,
        name: 'drain through the file',
        devices: [{ name: 'iax0', kind: 'iax', options: { credits: 1 } }],
        steps: [
          { op: 'spawn', process: 'A' },
          { op: 'bind', thread: 'A', device: 'iax0' },
          { op: 'enqcmd', thread: 'A', device: 'iax0', expect: { result: 'accepted' } },
          { op: 'close', thread: 'A', device: 'iax0', expect: { result: 'ok', events: ['wq.drain', 'wq.drained', 'pasidtable.clear'] } },
          { op: 'exit', thread: 'A' },
        ],
      },
      'drain.json',
      undefined,
      { kinds },
    );
    const lines: string[] = [];
    const r = runScenario(s, { kinds, onRecord: (d) => lines.push(recordLine(d)) });
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
    expect(lines.some((l) => l.includes('"type":"wq.drain","from":"file:1.1","to":"wq:iax0"'))).toBe(true);
    expect(lines.some((l) => l.includes('"type":"wq.drained","from":"wq:iax0","to":"file:1.1"'))).toBe(true);
    // The drain that waits (a descriptor of the PASID still in flight) answers the same address when it ends.
    const b = iaxKind.behavior;
    const out: Sent[] = [];
    let st = b.initial({ device: 'iax0', wqSize: 32, threshold: 16, autoComplete: true, options: {} }, 'wq:iax0');
    const take = (m: Record<string, unknown> & { type: string }, from: Address): void => {
      const next = b.step(st, m, out, 'wq:iax0', from);
      if (next === DEFER) throw new Error(`iax deferred ${m.type}`);
      st = next;
    };
    take({ type: 'wq.submit', thread: 'A', pasid: 1, mm: 1 }, 'mm:1');
    take({ type: 'wq.drain', pasid: 1, mm: 1, file: 'file:1.1' }, 'file:1.1');
    expect(out.filter((m) => m.type === 'wq.drained')).toEqual([]);
    take({ type: 'iommu.translated', device: 'iax0', pasid: 1, thread: 'A' }, 'iommu');
    expect(out.filter((m) => m.type === 'wq.drained')).toEqual([{ type: 'wq.drained', device: 'iax0', pasid: 1, to: 'file:1.1' }]);
    // Without `file` (a drain from an mm, as the protocol still allows): the mm.
    take({ type: 'wq.drain', pasid: 1, mm: 1 }, 'mm:1');
    expect(out.at(-1)).toEqual({ type: 'wq.drained', device: 'iax0', pasid: 1, to: 'mm:1' });
  });

  it('scenarios name registered message types in expect and forbid; an unknown one is refused with the nearest', () => {
    const kinds = registry();
    const s = {
      ...KINDS_SCENARIO,
      steps: KINDS_SCENARIO.steps.map((st, i) => (i === 1 ? { ...st, expect: { result: 'ok', events: ['pasidtable.set', 'gen.done'] } } : st)),
      forbid: ['fault.dmar'],
    };
    const r = runScenario(scenarioFromValue(s, 'k.json', undefined, { kinds }), { kinds });
    expect(r.failures).toEqual([]);
    const bad = { ...s, forbid: ['gen.dne'] };
    expect(() => scenarioFromValue(bad, 'k.json', undefined, { kinds })).toThrow(/forbid\[0\]: unknown message type "gen\.dne" \(did you mean "gen\.done"\?\)/);
    expect(() => parseScenario(JSON.stringify(s), 'k.json')).toThrow(/steps\[1\]\.expect\.events\[1\]: unknown message type "gen\.done" \(expected one of sys\.spawn, /);
  });

  it('the log names the kinds; replay with them is identical, without them is refused in one line', () => {
    const kinds = registry();
    const log = join(tmp, 'kinds.jsonl');
    runScenario(scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds }), { kinds, log });
    const header = JSON.parse(readFileSync(log, 'utf8').split('\n')[0] ?? '') as { plugins?: unknown; scenario: { devices: unknown[]; actors?: unknown[] } };
    expect(header.plugins).toEqual([{ kinds: ['iax', 'workload'] }]);
    expect(header.scenario.devices[1]).toMatchObject({ name: 'iax0', kind: 'iax', options: { credits: 1 } });
    expect(header.scenario.actors).toEqual([{ name: 'g', kind: 'workload', options: { thread: 'A', device: 'iax0', count: 3 } }]);

    expect(replayFile(log, { kinds }).identical).toBe(true);
    expect(replay(readLog(log, { kinds })).identical).toBe(true);
    expect(() => readLog(log)).toThrow(LogError);
    expect(() => readLog(log)).toThrow(/kinds\.jsonl:1: the log needs kinds registered by the program that wrote it \(kinds iax, workload\), which are not loaded/);
    expect(() => replayFile(log, { kinds: new Kinds([iaxKind]) })).toThrow(/\(kind workload\), which is not loaded/);
  });

  it('a plugin-registered kind is named with its plugin in the header and in the refusal', () => {
    const origin = { name: 'iax-model', version: '1.2.0' };
    const kinds = new Kinds([{ ...iaxKind, origin } as KindDefinition, genKind()]);
    const log = join(tmp, 'plugin.jsonl');
    runScenario(scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds }), { kinds, log });
    const header = JSON.parse(readFileSync(log, 'utf8').split('\n')[0] ?? '') as { plugins?: unknown };
    expect(header.plugins).toEqual([{ name: 'iax-model', version: '1.2.0', kinds: ['iax'] }, { kinds: ['workload'] }]);
    expect(() => readLog(log, { kinds: new Kinds([genKind()]) })).toThrow(/the log needs plugin iax-model 1\.2\.0 \(kind iax\), which is not loaded: pass --plugin FILE/);
  });

  it('a log that replays differently with another version of a kind diverges (the kinds really run)', () => {
    const kinds = registry();
    const log = join(tmp, 'diverge.jsonl');
    runScenario(scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds }), { kinds, log });
    const fewer = new Kinds([iaxKind, genKind({ monitors: [] })]);
    expect(replayFile(log, { kinds: fewer }).identical).toBe(true);
    const greedy = genKind();
    const b = greedy.behavior;
    const other = new Kinds([iaxKind, { ...greedy, behavior: { ...b, initial: (input, self) => ({ ...b.initial(input, self), count: 1 }) } }]);
    const r = replayFile(log, { kinds: other });
    expect(r.identical).toBe(false);
  });

  it('snapshot and restore mid-run continue exactly as the uninterrupted run', () => {
    const kinds = registry();
    const s = scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds });
    const whole: string[] = [];
    runScenario(s, { kinds, onRecord: (d) => whole.push(recordLine(d)) });

    const sys = new System(systemConfig(s), new FifoScheduler(), undefined, { kinds });
    const got: string[] = [];
    sys.delivered$.subscribe((d) => got.push(recordLine(d)));
    const inputs = whole.map((l) => JSON.parse(l) as { from: string; cause?: number }).filter((r) => r.from === 'user' && r.cause === undefined);
    expect(inputs.length).toBe(5);
    // Step 0 and 1 here, then a snapshot with the generator's messages still pending.
    const input = (i: number): void => {
      const rec = JSON.parse(whole.find((l) => JSON.parse(l).step === i && !('cause' in JSON.parse(l))) ?? '') as Record<string, unknown>;
      const { seq: _s, from: _f, to, cause: _c, step, ...msg } = rec;
      sys.input(msg as { type: string }, to as `thread:${string}`, step as number);
    };
    input(0);
    sys.runToQuiescence();
    input(1);
    sys.runToQuiescence(20);
    const snap = JSON.parse(JSON.stringify(sys.snapshot())) as ReturnType<System['snapshot']>;
    expect(snap.actors.some((a) => a.kind === 'iax' && a.address === 'wq:iax0')).toBe(true);
    expect(snap.actors.some((a) => a.kind === 'workload' && a.address === 'gen:g')).toBe(true);
    const restored = new System(systemConfig(s), new FifoScheduler(), snap, { kinds });
    restored.delivered$.subscribe((d) => got.push(recordLine(d)));
    restored.runToQuiescence();
    expect(got).toEqual(whole.slice(0, got.length));
    expect(restored.actor('gen:g')?.context).toMatchObject({ submitted: 3, completed: 3 });
    expect(() => new System(systemConfig(s), new FifoScheduler(), snap)).toThrow(/kind "iax" is not registered|no registered kind/);
  });

  it('what-if re-runs the registered actors under the other policy', () => {
    const kinds = registry();
    const log = join(tmp, 'whatif.jsonl');
    runScenario(scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds }), { kinds, log });
    // Under the logged policy the re-run (generator included) is the log again: no step differs.
    const same = whatIf(readLog(log, { kinds }), { pasid: 'seed-2021' });
    expect(same.rows).toHaveLength(5);
    expect(same.differing).toBe(0);
    const w = whatIf(readLog(log, { kinds }), { pasid: 'merged' });
    expect(w.rerun.pasid).toBe('merged');
    expect(w.rows).toHaveLength(5);
  });

  it('kind monitors report invariant violations and fail the run', () => {
    const strict = genKind({
      monitors: [{ invariant: 'GEN2', check: (v) => v.messages.filter((d) => d.msg.type === 'gen.done').map((d) => `gen.done at seq ${d.seq}`) }],
    });
    const kinds = new Kinds([iaxKind, strict]);
    const r = runScenario(scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds }), { kinds });
    expect(r.ok).toBe(false);
    expect(r.failures.some((f) => f.what === 'invariant GEN2')).toBe(true);
  });

  it('what a registered actor sends must pass its schema (its own types and svasim\'s)', () => {
    const liar = genKind({
      name: 'liar',
      prefix: 'liar',
      behavior: fromDecider<{ n: number }, { type: string }, Sent>({
        initialState: () => ({ n: 0 }),
        decide: (m) => (m.type === 'pasidtable.set' ? [{ type: 'gen.done', submitted: -1, to: 'user' }] : []),
        evolve: (s) => s,
      }) as KindDefinition<never>['behavior'],
      observes: ['pasidtable.set'],
      monitors: [],
      origin: { name: 'liar-plugin', version: '0.0.1' },
    } as Partial<KindDefinition<never>>);
    const kinds = new Kinds([iaxKind, { ...liar, messages: {} } as KindDefinition, { ...genKind(), name: 'workload2', prefix: 'gen2' } as KindDefinition]);
    const s = scenarioFromValue({ ...KINDS_SCENARIO, actors: [{ name: 'x', kind: 'liar' }] }, 'k.json', undefined, { kinds });
    expect(() => runScenario(s, { kinds })).toThrow(KindError);
    expect(() => runScenario(s, { kinds })).toThrow(/^plugin liar-plugin: kind "liar" at liar:x sent gen\.done to user, which its schema refuses: gen\.done\.submitted: /);

    const badBuiltin = new Kinds([
      iaxKind,
      {
        name: 'bad',
        prefix: 'bad',
        observes: ['pasidtable.set'],
        behavior: fromDecider<null, { type: string }, Sent>({
          initialState: () => null,
          decide: (m) => (m.type === 'pasidtable.set' ? [{ type: 'insn.enqcmd', thread: 'A', to: 'thread:A' }] : []),
          evolve: (s) => s,
        }),
      },
    ]);
    const s2 = scenarioFromValue({ ...KINDS_SCENARIO, actors: [{ name: 'b', kind: 'bad' }] }, 'k.json', undefined, { kinds: badBuiltin });
    expect(() => runScenario(s2, { kinds: badBuiltin })).toThrow(/kind "bad" at bad:b sent insn\.enqcmd to thread:A, which its schema refuses: device: /);
  });

  it('a registered kind whose code throws stops the run with one line naming it, the error kept as cause', () => {
    const broken = genKind({
      origin: { name: 'broken-plugin', version: '0.0.1' },
      behavior: fromDecider<never, { type: string }, Sent>({
        initialState: () => ({}) as never,
        decide: (m) => {
          if (m.type === 'pasidtable.set') throw new TypeError('cannot read properties of undefined');
          return [];
        },
        evolve: (s) => s,
      }) as KindDefinition<never>['behavior'],
    } as Partial<KindDefinition<never>>);
    const kinds = new Kinds([iaxKind, broken as KindDefinition]);
    const s = scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds });
    let caught: unknown;
    try {
      runScenario(s, { kinds });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(KindError);
    expect((caught as Error).message).toBe('plugin broken-plugin: kind "workload" at gen:g threw on pasidtable.set from iommu: cannot read properties of undefined');
    expect((caught as Error).cause).toBeInstanceOf(TypeError);
    const badStart = new Kinds([iaxKind, genKind({ behavior: { ...genKind().behavior, initial: () => { throw new Error('options.count is missing'); } } })]);
    expect(() => runScenario(scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds: badStart }), { kinds: badStart })).toThrow(/^kind "workload" at gen:g threw while starting: options\.count is missing$/);
  });

  it('a decider that defers a message gets it again after it changes (selective receive), with the seq of its taking', () => {
    const schema = (type: string) => z.strictObject({ type: z.literal(type) });
    const latch: KindDefinition<{ open: boolean }> = {
      name: 'latch',
      prefix: 'latch',
      messages: { 'latch.open': schema('latch.open'), 'latch.ping': schema('latch.ping'), 'latch.pong': schema('latch.pong') },
      behavior: fromDecider<{ open: boolean }, { type: string }, Sent>({
        initialState: () => ({ open: false }),
        decide: (m, s) => (m.type === 'latch.ping' ? (s.open ? [{ type: 'latch.pong', to: 'user' }] : DEFER) : []),
        evolve: (s, m) => (m.type === 'latch.open' ? { open: true } : s),
        stateName: (s) => (s.open ? 'open' : 'closed'),
      }),
    };
    const kinds = new Kinds([latch]);
    const sys = new System({ ...systemConfig(scenarioFromValue({ scenario: 1, name: 'l', steps: [] }, 'l.json')), actors: [{ name: 'l', kind: 'latch' }] }, new FifoScheduler(), undefined, { kinds });
    const seen: Delivered[] = [];
    sys.delivered$.subscribe((d) => seen.push(d));
    sys.input({ type: 'latch.ping' }, 'latch:l', 0);
    sys.runToQuiescence();
    expect(seen).toHaveLength(0);
    expect(sys.deferredSize).toBe(1);
    expect(sys.actor('latch:l')?.state).toBe('closed');
    sys.input({ type: 'latch.open' }, 'latch:l', 1);
    sys.runToQuiescence();
    expect(seen.map((d) => `${d.seq} ${d.msg.type} ${d.to}`)).toEqual(['1 latch.open latch:l', '2 latch.ping latch:l', '3 latch.pong user']);
    expect(sys.actor('latch:l')?.state).toBe('open');
  });

  it('the compiled and xstate engines give the same log with registered kinds (they keep their own behavior)', () => {
    const kinds = registry();
    const s = scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds });
    const a: string[] = [];
    const b: string[] = [];
    runScenario(s, { kinds, engine: 'compiled', onRecord: (d) => a.push(recordLine(d)) });
    runScenario(s, { kinds, engine: 'xstate', onRecord: (d) => b.push(recordLine(d)) });
    expect(b).toEqual(a);
  });
});

describe('mistakes in kinds and in scenarios that use them', () => {
  it('registrations that are wrong are one-line KindErrors naming what', () => {
    const cases: [KindDefinition, RegExp][] = [
      [{ ...iaxKind, name: 'wq' }, /kind "wq" is already registered \(one of svasim's\)/],
      [{ ...iaxKind, name: 'Bad Name' }, /kind name "Bad Name" is not/],
      [{ ...genKind(), prefix: 'thread' } as KindDefinition, /prefix "thread" is svasim's/],
      [{ ...genKind(), prefix: undefined } as KindDefinition, /prefix undefined is not/],
      [{ ...genKind(), messages: { 'sys.return': z.object({}) } } as KindDefinition, /message type "sys\.return" is svasim's/],
      [{ ...genKind(), messages: { Tick: z.object({}) } } as KindDefinition, /message type "Tick" is not dotted lowercase/],
      [{ ...genKind(), messages: { 'gen.tick': { parse: () => 1 } } } as unknown as KindDefinition, /the schema of "gen\.tick" is not a Standard Schema/],
      [{ ...genKind(), behavior: {} } as unknown as KindDefinition, /behavior\.initial is not a function/],
      [{ ...genKind(), origin: { name: 'p', version: '1' }, observes: ['nope'] } as KindDefinition, /^plugin p: kind "workload": observes "nope", not a message type/],
    ];
    for (const [def, re] of cases) {
      expect(() => new Kinds([def])).toThrow(KindError);
      expect(() => new Kinds([def])).toThrow(re);
    }
    expect(() => new Kinds([iaxKind, iaxKind])).toThrow(/kind "iax" is already registered/);
    expect(() => new Kinds([genKind(), { ...genKind(), name: 'other' }])).toThrow(/prefix "gen" is already kind "workload"'s/);
    expect(() => new Kinds([genKind(), { ...genKind(), name: 'other', prefix: 'oth' }])).toThrow(/message type "gen\.done" is already kind "workload"'s/);
  });

  it('a scenario naming a kind that is not registered, or the wrong sort of kind, is a ScenarioError with its JSON path', () => {
    const file = join(tmp, 'unknown-kind.json');
    writeFileSync(file, JSON.stringify(KINDS_SCENARIO, null, 2));
    const text = readFileSync(file, 'utf8');
    expect(() => scenarioFromValue(KINDS_SCENARIO, file)).toThrow(ScenarioError);
    try {
      scenarioFromValue(JSON.parse(text), file);
    } catch (e) {
      expect((e as Error).message).toMatch(/devices\[1\]\.kind: unknown device model "iax" \(none is registered; a plugin registers kinds \(--plugin FILE\)\)/);
    }
    const kinds = registry();
    const swapped = { ...KINDS_SCENARIO, devices: [{ name: 'dsa0' }, { name: 'iax0', kind: 'workload' }], actors: [{ name: 'g', kind: 'iax' }] };
    let message = '';
    try {
      scenarioFromValue(swapped, 's.json', undefined, { kinds });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/devices\[1\]\.kind: unknown device model "workload" \(registered: iax\)/);
    const dup = { ...KINDS_SCENARIO, actors: [KINDS_SCENARIO.actors[0], KINDS_SCENARIO.actors[0]] };
    expect(() => scenarioFromValue(dup, 's.json', undefined, { kinds })).toThrow(/actors\[1\]\.name: duplicate actor gen:g \(already declared at actors\[0\]\)/);
  });
});

describe('registered kinds in the inspector', () => {
  it('a machine kind is drawn as a statechart, a decider kind as its state and context; both at every seq', async () => {
    const kinds = new Kinds([iaxKind, genKind(), watchdogKind]);
    const scenario = {
      ...KINDS_SCENARIO,
      actors: [...KINDS_SCENARIO.actors, { name: 'w', kind: 'watchdog' }],
      steps: [...KINDS_SCENARIO.steps, { op: 'unbind', thread: 'A', device: 'dsa0' }, { op: 'enqcmd', thread: 'A', device: 'dsa0' }],
    };
    const log = join(tmp, 'inspect-kinds.jsonl');
    const r = runScenario(scenarioFromValue(scenario, 'k.json', undefined, { kinds }), { kinds, log });
    expect(r.counts['fault.dmar']).toBeGreaterThan(0);
    const session = new LogSession(log, { kinds });
    const info = await session.info();
    expect(Object.keys(info.machines)).toEqual(expect.arrayContaining(['thread', 'mm', 'iommu', 'wq', 'kernel', 'watchdog']));
    expect(info.machines['watchdog']?.nodes.map((n) => n.id)).toEqual(expect.arrayContaining([expect.stringContaining('quiet'), expect.stringContaining('alarmed')]));
    expect(info.machines['iax']).toBeUndefined();
    expect(info.actors.map((a) => `${a.address} ${a.kind}`)).toEqual(expect.arrayContaining(['wq:iax0 iax', 'gen:g workload', 'wd:w watchdog']));
    const before = session.stateAt(1).actors.find((a) => a.address === 'wd:w');
    const after = session.stateAt(session.lastSeq).actors.find((a) => a.address === 'wd:w');
    expect(before?.state).toBe('quiet');
    expect(after?.state).toBe('alarmed');
    expect(session.stateAt(session.lastSeq).actors.find((a) => a.address === 'gen:g')?.state).toBe('done');
  });
});

describe('actors that spawn actors', () => {
  const msg = (type: string, fields: Record<string, z.ZodType> = {}) => z.strictObject({ type: z.literal(type), ...fields });
  const boss: KindDefinition<{ started: boolean; done: number }> = {
    name: 'boss',
    prefix: 'boss',
    observes: ['pasidtable.set'],
    messages: { 'boss.tick': msg('boss.tick') },
    behavior: fromDecider<{ started: boolean; done: number }, { type: string; [k: string]: unknown }, Sent>({
      initialState: () => ({ started: false, done: 0 }),
      decide: (m, s) =>
        m.type === 'pasidtable.set' && !s.started
          ? [
              { type: 'work.start', job: 1, to: 'worker:w1' },
              { type: 'work.start', job: 2, to: 'worker:w2' },
              { type: 'work.go', to: 'worker:w1' },
              { type: 'work.go', to: 'worker:w2' },
            ]
          : [],
      evolve: (s, m) => (m.type === 'pasidtable.set' ? { ...s, started: true } : m.type === 'work.done' ? { ...s, done: s.done + 1 } : s),
    }),
  };
  const worker: KindDefinition<{ job: number; ran: boolean }> = {
    name: 'worker',
    prefix: 'worker',
    birth: 'work.start',
    messages: { 'work.start': msg('work.start', { job: z.number().int() }), 'work.go': msg('work.go'), 'work.done': msg('work.done', { job: z.number().int() }) },
    behavior: fromDecider<{ job: number; ran: boolean }, { type: string; [k: string]: unknown }, Sent>({
      initialState: (input) => ({ job: (input as { message: { job: number } }).message.job, ran: false }),
      decide: (m, s) => (m.type === 'work.go' ? [{ type: 'work.done', job: s.job, to: 'boss:b' }] : []),
      evolve: (s, m) => (m.type === 'work.go' ? { ...s, ran: true } : s),
      stateName: (s) => (s.ran ? 'ran' : 'waiting'),
    }),
  };

  it('a birth message to a free address under the prefix creates the actor; logged, replayed, snapshotted', () => {
    // The boss also hears work.done (svasim's kinds only are observed: it gets it addressed to it).
    const kinds = new Kinds([boss, worker]);
    const s = { scenario: 1, name: 'spawn', devices: [{ name: 'dsa0' }], actors: [{ name: 'b', kind: 'boss' }], steps: [{ op: 'spawn', process: 'A' }, { op: 'bind', thread: 'A', device: 'dsa0' }] };
    const log = join(tmp, 'spawn.jsonl');
    const lines: string[] = [];
    const run = runScenario(scenarioFromValue(s, 's.json', undefined, { kinds }), { kinds, log, onRecord: (d) => lines.push(recordLine(d)) });
    expect(run.ok).toBe(true);
    expect(lines.filter((l) => l.includes('"type":"work.start"')).map((l) => JSON.parse(l).to)).toEqual(['worker:w1', 'worker:w2']);
    expect(lines.filter((l) => l.includes('"type":"work.done","from":"worker:w')).length).toBe(2);
    expect(replayFile(log, { kinds }).identical).toBe(true);
    const sys = new System(systemConfig(scenarioFromValue(s, 's.json', undefined, { kinds })), new FifoScheduler(), undefined, { kinds });
    sys.input({ type: 'sys.spawn', process: 'A' }, 'kernel', 0);
    sys.runToQuiescence();
    sys.input({ type: 'sys.bind', thread: 'A', device: 'dsa0' }, 'thread:A', 1);
    sys.runToQuiescence();
    expect(sys.actor('worker:w2')).toMatchObject({ kind: 'worker', state: 'ran', context: { job: 2, ran: true } });
    expect(sys.actor('boss:b')?.context).toEqual({ started: true, done: 2 });
    expect(sys.snapshot().actors.filter((a) => a.kind === 'worker').map((a) => a.address)).toEqual(['worker:w1', 'worker:w2']);
  });

  it('a birth type must be one of the kind\'s own message types', () => {
    expect(() => new Kinds([{ ...worker, birth: 'work.begin' }])).toThrow(/birth "work\.begin" must be one of its own message types/);
  });
});

describe('a registered kind\'s mistakes are one line naming it (review)', () => {
  type Mode = 'ghost' | 'undefined-ret' | 'undefined-state' | 'null-msg' | 'number-msg' | 'violation' | 'to-monitor' | 'loop' | 'statename';
  const mal = (mode: Mode): KindDefinition => ({
    name: 'mal',
    prefix: 'mal',
    origin: { name: 'mal-plugin', version: '0.0.1' },
    observes: ['pasidtable.set'],
    messages: { 'mal.ping': z.strictObject({ type: z.literal('mal.ping'), n: z.number().int() }) },
    behavior: fromDecider<{ n: number }, { type: string; [k: string]: unknown }, Sent>({
      initialState: () => ({ n: 0 }),
      decide: (m) => {
        if (m.type === 'mal.ping') return mode === 'loop' ? [{ type: 'mal.ping', n: 1, to: 'mal:m' }] : [];
        if (m.type !== 'pasidtable.set') return [];
        switch (mode) {
          case 'ghost':
            return [{ type: 'mal.ping', n: 1, to: 'mal:ghost' }];
          case 'undefined-ret':
            return undefined as never;
          case 'null-msg':
            return [null as never];
          case 'number-msg':
            return [42 as never];
          case 'violation':
            return [{ type: 'invariant.violation', invariant: 'G1', detail: 'fake', to: 'user' }];
          case 'to-monitor':
            return [{ type: 'mal.ping', n: 1, to: 'monitor' }];
          case 'loop':
            return [{ type: 'mal.ping', n: 1, to: 'mal:m' }];
          default:
            return [];
        }
      },
      evolve: (s) => (mode === 'undefined-state' ? (undefined as never) : s),
      stateName: () => {
        if (mode === 'statename') throw new Error('no name today');
        return 'ok';
      },
    }),
  });
  const scenario = (mode: Mode) => {
    const kinds = new Kinds([mal(mode)]);
    const s = scenarioFromValue({ scenario: 1, name: 'mal', devices: [{ name: 'dsa0' }], actors: [{ name: 'm', kind: 'mal' }], steps: [{ op: 'spawn', process: 'A' }, { op: 'bind', thread: 'A', device: 'dsa0' }] }, 'mal.json', undefined, { kinds });
    return { kinds, s };
  };
  const failure = (mode: Mode, opts: { maxStepMessages?: number } = {}): string => {
    const { kinds, s } = scenario(mode);
    try {
      runScenario(s, { kinds, ...opts });
    } catch (e) {
      return `${(e as Error).constructor.name}: ${(e as Error).message}`;
    }
    return 'no failure';
  };

  it('each mistake gives a KindError naming the plugin, the actor and what it did', () => {
    expect(failure('ghost')).toBe('KindError: plugin mal-plugin: kind "mal" at mal:m sent mal.ping to mal:ghost, where there is no actor');
    expect(failure('undefined-ret')).toBe('KindError: plugin mal-plugin: kind "mal" at mal:m threw on pasidtable.set from iommu: decide returned undefined: expected an array of messages (or DEFER)');
    expect(failure('undefined-state')).toBe('KindError: plugin mal-plugin: kind "mal" at mal:m returned no state for pasidtable.set from iommu');
    expect(failure('null-msg')).toBe('KindError: plugin mal-plugin: kind "mal" at mal:m sent a value that is not a message (null)');
    expect(failure('number-msg')).toBe('KindError: plugin mal-plugin: kind "mal" at mal:m sent a value that is not a message (42)');
    expect(failure('violation')).toMatch(/^KindError: plugin mal-plugin: kind "mal" at mal:m sent invariant\.violation, one of svasim's internal messages: a registered actor may send svasim's inputs \(sys\.spawn, /);
    expect(failure('to-monitor')).toBe('KindError: plugin mal-plugin: kind "mal" at mal:m sent mal.ping to "monitor", which is not an address');
    // A state name is asked for when the actor is shown (state at a seq, the inspector).
    const { kinds, s: sn } = scenario('statename');
    const run = new ScenarioRun(sn, { kinds });
    while (run.nextStep < sn.steps.length) run.step();
    expect(() => systemState(run.sys)).toThrow('plugin mal-plugin: kind "mal" at mal:m threw while shown (value or context): no name today');
    expect(failure('loop', { maxStepMessages: 500 })).toBe(
      'RunawayStepError: step 1 (bind A dsa0) delivered 500 messages without reaching quiescence; most of the last 500 are mal:m -> mal:m (mal.ping): an actor that never stops? (the limit: maxStepMessages, --max-step-messages)',
    );
  });

  it('a throwing kind monitor, and one that returns no list, are KindErrors', () => {
    const throwing = genKind({ origin: { name: 'gen-plugin', version: '1' }, monitors: [{ invariant: 'GEN9', check: () => { throw new Error('monitor exploded'); } }] });
    const kinds = new Kinds([iaxKind, throwing]);
    expect(() => runScenario(scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds }), { kinds })).toThrow(/^plugin gen-plugin: kind "workload": monitor GEN9 threw: monitor exploded$/);
    const notList = new Kinds([iaxKind, genKind({ monitors: [{ invariant: 'GEN8', check: () => 'bad' as never }] })]);
    expect(() => runScenario(scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds: notList }), { kinds: notList })).toThrow(/monitor GEN8 returned string, not an array/);
  });

  it('observes must name a message type that can be heard', () => {
    expect(() => new Kinds([genKind({ observes: ['wq.complet'] })])).toThrow(/observes "wq\.complet", which is neither svasim's nor a registered message type/);
    expect(() => new Kinds([genKind(), { ...watchdogKind, observes: ['gen.done'] }])).not.toThrow();
  });

  it('System.input checks the message against its schema', () => {
    const sys = new System(systemConfig(scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds: registry() })), new FifoScheduler(), undefined, { kinds: registry() });
    expect(() => sys.input({ type: 'sys.spawn', process: 7 } as never, 'kernel', 0)).toThrow(/^input sys\.spawn to kernel: process: /);
    expect(() => sys.input({ type: 'gen.done', submitted: 'x' }, 'user', 0)).toThrow(/^input gen\.done to user: gen\.done\.submitted: /);
  });

  it('kind options are checked by the loader at their JSON path; a built-in device takes none', () => {
    const strictGen = genKind({ options: z.strictObject({ thread: z.string(), device: z.string(), count: z.number().int().positive() }) });
    const kinds = new Kinds([iaxKind, strictGen]);
    const bad = { ...KINDS_SCENARIO, actors: [{ name: 'g', kind: 'workload', options: { thread: 'A', device: 'iax0', count: 0 } }] };
    expect(() => parseScenario(JSON.stringify(bad), 'o.json', undefined, { kinds })).toThrow(/o\.json:1:\d+: actors\[0\]\.options\.count: /);
    const builtin = { ...KINDS_SCENARIO, devices: [{ name: 'dsa0', options: { x: 1 } }, { name: 'iax0', kind: 'iax' }] };
    expect(() => parseScenario(JSON.stringify(builtin), 'o.json', undefined, { kinds })).toThrow(/devices\[0\]\.options: only a registered device model takes options/);
  });

  it('the state at a seq lists registered actors (replay --until, stateAt with kinds)', () => {
    const kinds = registry();
    const log = join(tmp, 'state-kinds.jsonl');
    runScenario(scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds }), { kinds, log });
    const st = stateAt(log, 30, { kinds });
    expect(st.registered?.map((a) => `${a.address} ${a.kind}`)).toEqual(['wq:iax0 iax', 'gen:g workload']);
    expect(formatState(st).join('\n')).toMatch(/actors of registered kinds:\n {2}wq:iax0 \(iax\) (idle|busy): /);
  });

  it('a program\'s policy override is checked like --policy', () => {
    expect(() => scenarioFromValue(KINDS_SCENARIO, 'k.json', { pasid: 'nope' } as never, { kinds: registry() })).toThrow(/^policy override: pasid: unknown pasid policy "nope" \(expected seed-2021 or merged\)$/);
    expect(() => scenarioFromValue(KINDS_SCENARIO, 'k.json', { lam: 42 } as never, { kinds: registry() })).toThrow(/^policy override: lam: unknown lam policy 42/);
    expect(() => scenarioFromValue(KINDS_SCENARIO, 'k.json', { pasid: 'merged', speed: 1 } as never, { kinds: registry() })).toThrow(/unknown field "speed"/);
  });
});

describe('second review: more of a registered kind\'s mistakes', () => {
  const base = { scenario: 1, name: 'r2', devices: [{ name: 'dsa0' }], actors: [{ name: 'a', kind: 'r2' }], steps: [{ op: 'spawn', process: 'A' }, { op: 'bind', thread: 'A', device: 'dsa0' }] };
  const kind = (decide: (m: { type: string; [k: string]: unknown }) => readonly Sent[] | typeof DEFER, extra: Partial<KindDefinition> = {}, evolve?: (s: unknown) => unknown): KindDefinition => ({
    name: 'r2',
    prefix: 'r2',
    origin: { name: 'r2-plugin', version: '1' },
    observes: ['pasidtable.set'],
    messages: { 'r2.ping': z.object({ type: z.literal('r2.ping') }) },
    behavior: fromDecider<unknown, { type: string; [k: string]: unknown }, Sent>({ initialState: () => ({ n: 0 }), decide: (m) => decide(m), evolve: (s) => (evolve ? evolve(s) : s) }),
    ...extra,
  });
  const run = (k: KindDefinition, log?: string) => {
    const kinds = new Kinds([k]);
    return runScenario(scenarioFromValue(base, 'r2.json', undefined, { kinds }), { kinds, ...(log ? { log } : {}) });
  };

  it('a payload field named like the log record\'s own is refused (its line would repeat the key)', () => {
    expect(() => run(kind((m) => (m.type === 'pasidtable.set' ? [{ type: 'r2.ping', step: 1, to: 'user' }] : [])))).toThrow(
      /^plugin r2-plugin: kind "r2" at r2:a sent r2\.ping with a field named "step", one of the log record's own/,
    );
  });

  it('a message left deferred at the end fails the run, and its log still replays identically', () => {
    const log = join(tmp, 'r2-defer.jsonl');
    const k = kind((m) => (m.type === 'pasidtable.set' ? [{ type: 'r2.ping', to: 'r2:a' }] : m.type === 'r2.ping' ? DEFER : []));
    const r = run(k, log);
    expect(r.ok).toBe(false);
    expect(r.failures).toContainEqual({ step: null, what: 'messages never taken', expected: 'every message taken', got: '1 still deferred: r2.ping r2:a -> r2:a' });
    expect(replayFile(log, { kinds: new Kinds([k]) }).identical).toBe(true);
  });

  it('sys.spawn of a process that exists, a schema that throws, a state that is not JSON, a monitor detail that is not a string', () => {
    expect(() => run(kind((m) => (m.type === 'pasidtable.set' ? [{ type: 'sys.spawn', process: 'A', to: 'kernel' }] : [])))).toThrow(
      'plugin r2-plugin: kind "r2" at r2:a sent sys.spawn of process "A", which exists already',
    );
    const throwing = { '~standard': { version: 1 as const, vendor: 'x', validate: () => { throw new Error('schema exploded'); } } };
    expect(() => run(kind((m) => (m.type === 'pasidtable.set' ? [{ type: 'r2.ping', to: 'user' }] : []), { messages: { 'r2.ping': throwing } }))).toThrow(
      'plugin r2-plugin: kind "r2": the schema of "r2.ping" threw: schema exploded',
    );
    expect(() => run(kind(() => [], {}, () => ({ n: 10n })))).toThrow(/^plugin r2-plugin: kind "r2" at r2:a has a state that is not JSON data after pasidtable\.set \(a bigint\)$/);
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    expect(() => run(kind(() => [], {}, () => cyclic))).toThrow(/has a state that is not JSON data after pasidtable\.set \(a cycle\)$/);
    expect(() => run(kind(() => [], { monitors: [{ invariant: 'R1', check: () => [42 as never] }] }))).toThrow(/monitor R1 returned number 42 among its details/);
  });

  it('a program that changed a loaded scenario\'s policy gets a ScenarioError, and no log is written', () => {
    const s = scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds: registry() });
    const log = join(tmp, 'bad-policy.jsonl');
    expect(() => runScenario({ ...s, policy: { pasid: 'nope', lam: 'poc-2022' } as never }, { kinds: registry(), log })).toThrow(/^policy: pasid: unknown pasid policy "nope"/);
    expect(() => readFileSync(log)).toThrow(/ENOENT/);
  });
});

describe('a log header\'s plugin names are shown escaped', () => {
  it('a name with a newline does not forge a line in the refusal', () => {
    const kinds = registry();
    const log = join(tmp, 'nl.jsonl');
    runScenario(scenarioFromValue(KINDS_SCENARIO, 'k.json', undefined, { kinds }), { kinds, log });
    const lines = readFileSync(log, 'utf8').split('\n');
    const head = JSON.parse(lines[0] ?? '{}') as { plugins: { name?: string; version?: string; kinds: string[] }[] };
    head.plugins = [{ name: 'nice\nsvasim: everything is fine', version: '1', kinds: ['iax', 'workload'] }];
    const forged = join(tmp, 'nl-forged.jsonl');
    writeFileSync(forged, [JSON.stringify(head), ...lines.slice(1)].join('\n'));
    let message = '';
    try {
      readLog(forged);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toContain('plugin "nice\\nsvasim: everything is fine" 1');
  });
});
