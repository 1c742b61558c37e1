/**
 * The Stately bridge (src/inspect/stately.ts): a log becomes `@statelyai/inspect` inspection events —
 * one actor event per actor, one event per record, the receiver's snapshot after it — with ids and times
 * from the log only; `sendToStately` pushes exactly those through `createInspector(adapter)`.
 * No network here: the default (Sky) adapter is never used.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInspector, type StatelyActorEvent, type StatelyEventEvent, type StatelyInspectionEvent, type StatelySnapshotEvent } from '@statelyai/inspect';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { fileMachine } from '../../machines/file.ts';
import { mmMachine } from '../../machines/mm.ts';
import { threadMachine } from '../../machines/thread.ts';
import { INSPECTOR_OPTIONS, machineOf, sendToStately, statelyEvents, toStatelyEvents, type Adapter } from '../../src/inspect/stately.ts';
import { parseLog, readLog, type ParsedLog } from '../../src/log/reader.ts';
import { DivergenceError } from '../../src/replay/checkpoints.ts';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/runner/run.ts';
import { builtinPath } from '../../src/scenarios/index.ts';
import { GOLDEN, GOLDEN_DIR } from '../../tools/update-golden.ts';

const dir = mkdtempSync(join(tmpdir(), 'svasim-stately-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** Run a built-in scenario to a log file and read it back. */
function runToLog(name: string): ParsedLog {
  const path = builtinPath(name);
  if (!path) throw new Error(`no built-in ${name}`);
  const out = join(dir, `${name}.jsonl`);
  if (!runScenario(loadScenarioFile(path), { log: out }).ok) throw new Error(`${name} failed its expectations`);
  return readLog(out);
}

const actors = (es: readonly StatelyInspectionEvent[]): StatelyActorEvent[] => es.filter((e): e is StatelyActorEvent => e.type === '@xstate.actor');
const events = (es: readonly StatelyInspectionEvent[]): StatelyEventEvent[] => es.filter((e): e is StatelyEventEvent => e.type === '@xstate.event');
const snapshots = (es: readonly StatelyInspectionEvent[]): StatelySnapshotEvent[] =>
  es.filter((e): e is StatelySnapshotEvent => e.type === '@xstate.snapshot');

/** The snapshot event of record `seq`. */
function snapshotAt(es: readonly StatelyInspectionEvent[], seq: number): StatelySnapshotEvent {
  const s = snapshots(es).find((e) => e.createdAt === String(seq));
  if (!s) throw new Error(`no snapshot at seq ${seq}`);
  return s;
}

/** The latest snapshot of `address` at or before `seq`. */
function stateOf(es: readonly StatelyInspectionEvent[], address: string, seq: number): StatelySnapshotEvent {
  const s = snapshots(es).filter((e) => e.sessionId === address && Number(e.createdAt) <= seq).at(-1);
  if (!s) throw new Error(`no snapshot of ${address} by seq ${seq}`);
  return s;
}

/** A fake adapter: records each event as received and as the JSON a socket adapter would send. */
function fakeAdapter(): Adapter & { readonly received: StatelyInspectionEvent[]; readonly json: string[]; starts: number; stops: number } {
  const a = {
    received: [] as StatelyInspectionEvent[],
    json: [] as string[],
    starts: 0,
    stops: 0,
    start() {
      a.starts++;
    },
    stop() {
      a.stops++;
    },
    send(e: StatelyInspectionEvent) {
      a.received.push(e);
      a.json.push(JSON.stringify(e));
    },
  };
  return a;
}

/** What `createInspector` itself sends as the definition of an actor running `machine` (with svasim's depth option). */
function libraryDefinition(machine: AnyStateMachine): string | undefined {
  let got: StatelyInspectionEvent | undefined;
  const inspector = createInspector({ send: (e) => void (got = e) }, INSPECTOR_OPTIONS);
  const ref: Parameters<typeof inspector.actor>[0] & { logic: AnyStateMachine } = { sessionId: 'x', send: () => {}, getSnapshot: () => undefined, logic: machine };
  inspector.actor(ref);
  return got?.type === '@xstate.actor' ? got.definition : undefined;
}

describe('toStatelyEvents on seed case (a) (unbind, then a DMAR fault)', () => {
  const log = runToLog('seed-a-unbind-dmar');
  const es = toStatelyEvents(log);

  it('the run is the golden log (so the seqs below are the documented ones)', () => {
    // The golden's records: its lines but the header and the closing record.
    expect(log.lines.join('\n') + '\n').toBe(readFileSync(join(GOLDEN_DIR, 'seed-a-unbind-dmar.jsonl'), 'utf8').split('\n').slice(1, -2).join('\n') + '\n');
    expect(log.records).toHaveLength(48);
  });

  it('one actor event per actor, in order of first appearance, each before any event naming it', () => {
    const as = actors(es);
    expect(as.map((a) => a.sessionId)).toStrictEqual(['user', 'kernel', 'mm:1', 'thread:A', 'iommu', 'file:1.1', 'thread:A1', 'wq:dsa0']);
    expect(as.map((a) => a.createdAt)).toStrictEqual(['1', '1', '2', '3', '7', '11', '17', '27']);
    const distinct = new Set(log.records.flatMap((r) => [r.from, r.to]));
    expect(new Set(as.map((a) => a.sessionId))).toStrictEqual(distinct);
    const announced = new Set<string>();
    for (const e of es) {
      if (e.type === '@xstate.actor') announced.add(e.sessionId);
      else {
        expect(announced.has(e.sessionId)).toBe(true);
        if (e.type === '@xstate.event') expect(announced.has(e.sourceId ?? '')).toBe(true);
      }
    }
  });

  it('machine actors carry their definition as createInspector encodes it; user has none', () => {
    const byId = new Map(actors(es).map((a) => [a.sessionId, a]));
    const a1 = byId.get('thread:A1');
    const mm = byId.get('mm:1');
    const user = byId.get('user');
    expect(a1?.name).toBe('thread');
    expect(a1?.definition).toBe(libraryDefinition(threadMachine));
    const def = JSON.parse(a1?.definition ?? 'null') as { id: string; initial: string; states: Record<string, unknown> };
    expect(def.id).toBe('thread');
    expect(def.initial).toBe('running');
    expect(Object.keys(def.states).sort()).toStrictEqual(['enqueuing', 'exited', 'running', 'syscall', 'trapping']);
    expect(mm?.definition).toBe(libraryDefinition(mmMachine));
    // The device file (born at seq 11 by file.open) is a machine actor too, with its own statechart.
    expect(byId.get('file:1.1')).toMatchObject({ name: 'file', definition: libraryDefinition(fileMachine) });
    expect(snapshotAt(es, 12)).toMatchObject({ sessionId: 'file:1.1', snapshot: { value: 'open', context: { holders: ['fd:A/dsa0', 'map:mm:1'], sva: true } } });
    expect(mm?.definition).not.toMatch(/\[(Object|Array)\]/);
    expect(user).toMatchObject({ name: 'user', definition: undefined, parentId: undefined, snapshot: { status: 'active' } });
    // A born actor shows the state it is born in; an existing one its state before the record.
    expect(a1?.snapshot).toMatchObject({ status: 'active', value: 'running', context: { name: 'A1', msr: null, activated: false } });
    // iommu first appears at seq 7 (iommu.bind): no PASID allocated before it, PASID 1 after.
    expect(byId.get('iommu')?.snapshot).toMatchObject({ status: 'active', value: 'enabled' });
    expect(byId.get('iommu')?.snapshot.context).toMatchObject({ owner: {}, refs: {}, tables: { dsa0: {} } });
    expect(Object.keys((byId.get('iommu')?.snapshot.context as { owner: object }).owner)).toStrictEqual([]);
    expect(snapshotAt(es, 7).snapshot).toMatchObject({ context: { owner: { '1': 1 }, refs: { '1': 1 }, tables: { dsa0: { '1': {} } } } });
  });

  it('one @xstate.event per record, in seq order: source = from, target = to, event = the message without routing', () => {
    const ev = events(es);
    expect(ev).toHaveLength(log.records.length);
    ev.forEach((e, i) => {
      const r = log.records[i];
      if (!r) throw new Error(`no record ${i}`);
      expect(e.createdAt).toBe(String(r.seq));
      expect(e.id).toBe(`${r.seq}:event`);
      expect(e.sourceId).toBe(r.from);
      expect(e.sessionId).toBe(r.to);
      expect(e.event.type).toBe(r.msg.type);
      expect(e.event).not.toHaveProperty('to');
    });
    expect(ev[19]).toMatchObject({ sourceId: 'thread:A1', sessionId: 'mm:1', event: { type: 'trap.gp', thread: 'A1', activated: false } });
    expect(ev[47]?.event).toStrictEqual({ type: 'fault.dmar', device: 'dsa0', pasid: 1, reason: 0x59, thread: 'A1' });
  });

  it('each event to a machine actor is followed by its snapshot; none for user', () => {
    const toActors = log.records.filter((r) => r.to !== 'user' && r.to !== 'monitor');
    expect(toActors).toHaveLength(47);
    expect(snapshots(es).map((s) => s.createdAt)).toStrictEqual(toActors.map((r) => String(r.seq)));
    es.forEach((e, i) => {
      if (e.type !== '@xstate.snapshot') return;
      const prev = es[i - 1];
      expect(prev?.type).toBe('@xstate.event');
      expect(prev?.sessionId).toBe(e.sessionId);
      if (prev?.type === '@xstate.event') expect(e.event).toStrictEqual(prev.event);
    });
    expect(es).toHaveLength(8 + 48 + 47);
  });

  it('the #GP fixup: A1 gets IA32_PASID=1 (msr.write, seq 23) and re-executes (gp.fixup, seq 24)', () => {
    expect(snapshotAt(es, 23)).toMatchObject({
      sessionId: 'thread:A1',
      snapshot: { status: 'active', value: 'trapping', context: { msr: 1, activated: true, device: 'dsa0' } },
    });
    expect(snapshotAt(es, 24).snapshot).toMatchObject({ value: 'enqueuing', context: { msr: 1 } });
    expect(snapshotAt(es, 22)).toMatchObject({ sessionId: 'mm:1', snapshot: { value: { alive: 'idle' }, context: { pasid: 1, users: ['A', 'A1'] } } });
  });

  it('at the DMAR fault (seq 48) A1 still holds PASID 1 while dsa0 has no entry for it', () => {
    expect(snapshotAt(es, 48)).toMatchObject({
      sessionId: 'wq:dsa0',
      event: { type: 'fault.dmar', pasid: 1, reason: 89 },
      snapshot: { value: 'enabled', context: { faulted: 1, accepted: 2, completed: 1, queue: [] } },
    });
    expect(stateOf(es, 'thread:A1', 48).snapshot).toMatchObject({ value: 'running', context: { msr: 1, activated: true, completions: 1 } });
    const iommu = stateOf(es, 'iommu', 48);
    expect(iommu.createdAt).toBe('47');
    expect(iommu.snapshot).toMatchObject({ context: { owner: { '1': 1 }, refs: { '1': 1 }, tables: { dsa0: {} } } });
    // Before the unbind (seq 32) the entry was there.
    expect(stateOf(es, 'iommu', 32).snapshot).toMatchObject({ context: { tables: { dsa0: { '1': {} } } } });
  });

  it('is deterministic: twice, and with another clock and random source, byte-identical', () => {
    const once = JSON.stringify(es);
    vi.spyOn(Date, 'now').mockReturnValue(4_102_444_800_000);
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    expect(JSON.stringify(toStatelyEvents(readLog(join(dir, 'seed-a-unbind-dmar.jsonl'))))).toBe(once);
    expect(JSON.stringify([...statelyEvents(log)])).toBe(once);
  });
});

describe('sendToStately', () => {
  it('hands a fake adapter exactly the translated events, through createInspector', async () => {
    const log = readLog(join(GOLDEN_DIR, 'seed-a-unbind-dmar.jsonl'));
    const expected = toStatelyEvents(log);
    const adapter = fakeAdapter();
    // createInspector stamps Date.now and Math.random; none of it may reach the adapter.
    const now = vi.spyOn(Date, 'now').mockReturnValue(4_102_444_800_000);
    vi.spyOn(Math, 'random').mockReturnValue(0.25);
    const r = await sendToStately(log, adapter);
    expect(now).toHaveBeenCalled();
    expect(r).toStrictEqual({ events: expected.length });
    expect(adapter.starts).toBe(1);
    expect(adapter.stops).toBe(0);
    expect(adapter.received).toStrictEqual(expected);
    expect(adapter.json).toStrictEqual(expected.map((e) => JSON.stringify(e)));
    expect(adapter.json.join('\n')).not.toMatch(/4102444800000|0\.25|anonymous/);
    expect(adapter.received.every((e) => e._version === '0.7.2')).toBe(true);
  });

  it.each(GOLDEN)('golden %s: one event per record, the adapter gets the translation', async (name) => {
    const log = readLog(join(GOLDEN_DIR, `${name}.jsonl`));
    const es = toStatelyEvents(log);
    expect(events(es).map((e) => [e.sourceId, e.sessionId, e.event.type])).toStrictEqual(log.records.map((r) => [r.from, r.to, r.msg.type]));
    expect(new Set(actors(es).map((a) => a.sessionId)).size).toBe(actors(es).length);
    expect(new Set(actors(es).map((a) => a.sessionId))).toStrictEqual(new Set(log.records.flatMap((r) => [r.from, r.to])));
    expect(snapshots(es)).toHaveLength(log.records.filter((r) => machineOf(r.to) !== undefined).length);
    const adapter = fakeAdapter();
    expect(await sendToStately(log, adapter)).toStrictEqual({ events: es.length });
    expect(adapter.json).toStrictEqual(es.map((e) => JSON.stringify(e)));
  });
});

describe('logs the model does not reproduce', () => {
  it('a tampered record is refused at its seq (no snapshots of a run that did not happen)', () => {
    const text = readFileSync(join(GOLDEN_DIR, 'seed-a-unbind-dmar.jsonl'), 'utf8').replace('"refs":1', '"refs":7');
    const log = parseLog(text, 'tampered.jsonl');
    let err: unknown;
    try {
      toStatelyEvents(log);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DivergenceError);
    expect(err instanceof DivergenceError ? err.result.seq : null).toBe(37);
    // Lazily, the events before the differing record come out first.
    const it = statelyEvents(log);
    const before: StatelyInspectionEvent[] = [];
    expect(() => {
      for (const e of it) before.push(e);
    }).toThrow(DivergenceError);
    expect(events(before).at(-1)?.createdAt).toBe('36');
  });
});
