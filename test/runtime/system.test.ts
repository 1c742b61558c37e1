/**
 * The actor system (src/runtime/system.ts): record numbering and causality, snapshot / restore,
 * alternative schedulers, and the routing of syscalls for threads that do not exist.
 */
import { describe, expect, it } from 'vitest';
import { recordLine } from '../../src/log/format.ts';
import { ChoiceScheduler, FifoScheduler, type Envelope, type Scheduler } from '../../src/runtime/scheduler.ts';
import { System, type Delivered, type SystemSnapshot } from '../../src/runtime/system.ts';
import { parseScenario } from '../../src/scenario/load.ts';
import { runScenario, stepInput, systemConfig } from '../../src/runner/run.ts';
import type { Scenario } from '../../src/scenario/types.ts';

/** A scenario touching every actor kind: bind, #GP fixup, unbind (DMAR), queue filling, close, exit, exec. */
const SCENARIO_TEXT = JSON.stringify({
  scenario: 1,
  name: 'system test',
  policy: { pasid: 'seed-2021', lam: 'poc-2022' },
  devices: [
    { name: 'dsa0', wqSize: 4, threshold: 2 },
    { name: 'iax0', wqSize: 2, threshold: 2, autoComplete: false },
  ],
  steps: [
    { op: 'spawn', process: 'A' },
    { op: 'bind', thread: 'A', device: 'dsa0' },
    { op: 'bind', thread: 'A', device: 'iax0' },
    { op: 'clone', thread: 'A', new: 'A1' },
    { op: 'enqcmd', thread: 'A1', device: 'dsa0' },
    { op: 'enqcmd', thread: 'A1', device: 'iax0' },
    { op: 'enqcmd', thread: 'A', device: 'iax0' },
    { op: 'enqcmd', thread: 'A1', device: 'iax0' },
    { op: 'unbind', thread: 'A', device: 'dsa0' },
    { op: 'enqcmd', thread: 'A1', device: 'dsa0' },
    { op: 'spawn', process: 'B' },
    { op: 'bind', thread: 'B', device: 'dsa0' },
    { op: 'fork', thread: 'B', new: 'C' },
    { op: 'clone', thread: 'B', new: 'B1' },
    { op: 'enqcmd', thread: 'B', device: 'dsa0' },
    { op: 'close', thread: 'A', device: 'iax0' },
    { op: 'exit', thread: 'A1' },
    { op: 'exec', thread: 'B' },
    { op: 'exit', thread: 'A' },
    { op: 'complete', device: 'iax0' },
    { op: 'bind', thread: 'C', device: 'dsa0' },
    { op: 'exit', thread: 'C' },
  ],
});
const scenario: Scenario = parseScenario(SCENARIO_TEXT, 'system.json');

/** Newest first, but never ahead of an older message on the same (from, to) channel. */
const newestChannelFirst = (pending: readonly Envelope[]): number => {
  for (let i = pending.length - 1; i > 0; i--) {
    const e = pending[i];
    if (e !== undefined && !pending.slice(0, i).some((q) => q.from === e.from && q.to === e.to)) return i;
  }
  return 0;
};

/** A System with every delivered record collected. */
function newSystem(sched?: Scheduler, snapshot?: SystemSnapshot): { sys: System; records: Delivered[] } {
  const sys = new System(systemConfig(scenario), sched ?? new FifoScheduler(), snapshot);
  const records: Delivered[] = [];
  sys.delivered$.subscribe((d) => records.push(d));
  return { sys, records };
}

/** Puts steps [from, to) on the bus, each run to quiescence. */
function runSteps(sys: System, from: number, to = scenario.steps.length): void {
  for (let i = from; i < to; i++) {
    const step = scenario.steps[i];
    if (step === undefined) throw new Error(`no step ${i}`);
    const { msg, to: addr } = stepInput(step);
    sys.input(msg, addr, i);
    sys.runToQuiescence();
  }
}

function fullRun(): Delivered[] {
  const { sys, records } = newSystem();
  runSteps(sys, 0);
  sys.stop();
  return records;
}

describe('System: record numbering', () => {
  const records = fullRun();

  it('delivers a substantial number of messages', () => {
    expect(records.length).toBeGreaterThan(100);
    const types = new Set(records.map((r) => r.msg.type));
    for (const t of ['pasid.alloc', 'trap.gp', 'msr.write', 'fault.dmar', 'wq.retry', 'wq.drained', 'thread.kill', 'mm.create']) {
      expect(types, t).toContain(t);
    }
  });

  it('seq is contiguous from 1', () => {
    records.forEach((r, i) => expect(r.seq).toBe(i + 1));
  });

  it('cause is absent exactly for inputs, and always names an earlier record of the same step', () => {
    const bySeq = new Map(records.map((r) => [r.seq, r]));
    for (const r of records) {
      if (r.from === 'user') {
        expect(r.cause, recordLine(r)).toBeUndefined();
        continue;
      }
      expect(r.cause, recordLine(r)).toBeTypeOf('number');
      const cause = r.cause ?? Number.NaN;
      expect(cause).toBeLessThan(r.seq);
      expect(cause).toBeGreaterThanOrEqual(1);
      expect(bySeq.get(cause)?.step, recordLine(r)).toBe(r.step);
    }
  });

  it('the step field is the index of the input, in order, covering every step', () => {
    let last = 0;
    for (const r of records) {
      expect(r.step).toBeGreaterThanOrEqual(last);
      last = r.step;
    }
    const inputs = records.filter((r) => r.cause === undefined);
    expect(inputs.map((r) => r.step)).toStrictEqual(scenario.steps.map((_, i) => i));
  });

  it('the caller of a reply is the actor the cause was delivered to', () => {
    const bySeq = new Map(records.map((r) => [r.seq, r]));
    for (const r of records) {
      if (r.cause === undefined || r.from === 'monitor') continue;
      expect(r.from, recordLine(r)).toBe(bySeq.get(r.cause)?.to);
    }
  });

  it('the same inputs always give the same records', () => {
    expect(fullRun().map(recordLine)).toStrictEqual(records.map(recordLine));
  });
});

describe('System: snapshot and restore', () => {
  const uninterrupted = fullRun().map(recordLine);

  /** Feeds the steps, delivering one message at a time; after `k` deliveries, snapshots and continues in a restored System. */
  function resumeAfter(
    k: number,
    roundTrip: (s: SystemSnapshot) => SystemSnapshot,
    makeScheduler: () => Scheduler = () => new FifoScheduler(),
  ): { snap: SystemSnapshot; lines: string[] } {
    const { sys } = newSystem(makeScheduler());
    let delivered = 0;
    for (let i = 0; i < scenario.steps.length; i++) {
      const step = scenario.steps[i];
      if (step === undefined) throw new Error(`no step ${i}`);
      const { msg, to } = stepInput(step);
      sys.input(msg, to, i);
      while (delivered < k && sys.step() !== undefined) delivered++;
      if (delivered === k) {
        const snap = roundTrip(sys.snapshot());
        sys.stop();
        const restored = newSystem(makeScheduler(), snap);
        expect(restored.sys.lastSeq).toBe(k);
        restored.sys.runToQuiescence();
        runSteps(restored.sys, i + 1);
        restored.sys.stop();
        return { snap, lines: restored.records.map(recordLine) };
      }
    }
    throw new Error(`the run has fewer than ${k} deliveries`);
  }

  const identity = (s: SystemSnapshot): SystemSnapshot => s;
  const viaJson = (s: SystemSnapshot): SystemSnapshot => JSON.parse(JSON.stringify(s)) as SystemSnapshot;

  it('snapshot after any number of deliveries: the restored run produces the same subsequent records', () => {
    let midStep = 0;
    for (let k = 0; k < uninterrupted.length; k++) {
      const { snap, lines } = resumeAfter(k, identity);
      if (snap.pending.length > 0) midStep++;
      expect(snap.seq).toBe(k);
      expect(lines, `snapshot after ${k} deliveries`).toStrictEqual(uninterrupted.slice(k));
    }
    // The sweep really covered snapshots taken with messages in flight.
    expect(midStep).toBeGreaterThan(uninterrupted.length / 2);
  });

  it('deferred messages are part of the snapshot (two threads bind at once: the busy mm defers one)', () => {
    /** spawn A, clone A1, then A and A1 both call bind before either returns. */
    const drive = (sys: System, upTo: number): number => {
      let delivered = 0;
      const inputs: [Parameters<System['input']>[0], Parameters<System['input']>[1], number][] = [
        [{ type: 'sys.spawn', process: 'A' }, 'kernel', 0],
        [{ type: 'sys.clone', thread: 'A', new: 'A1' }, 'thread:A', 1],
      ];
      for (const [msg, to, step] of inputs) {
        sys.input(msg, to, step);
        delivered += sys.runToQuiescence();
      }
      sys.input({ type: 'sys.bind', thread: 'A', device: 'dsa0' }, 'thread:A', 2);
      sys.input({ type: 'sys.bind', thread: 'A1', device: 'iax0' }, 'thread:A1', 2);
      while (delivered < upTo && sys.step() !== undefined) delivered++;
      return delivered;
    };
    const full = newSystem();
    drive(full.sys, Number.POSITIVE_INFINITY);
    const all = full.records.map(recordLine);
    expect(full.sys.deferredSize).toBe(0);
    full.sys.stop();
    // Both binds completed, one after the other, sharing the PASID.
    expect(all.filter((l) => l.includes('"type":"pasid.alloc"'))).toHaveLength(1);
    expect(all.filter((l) => l.includes('"type":"iommu.bound"'))).toHaveLength(2);
    let withDeferred = 0;
    for (let k = 0; k < all.length; k++) {
      const { sys, records } = newSystem();
      drive(sys, k);
      const snap = JSON.parse(JSON.stringify(sys.snapshot())) as SystemSnapshot;
      if (snap.deferred.length > 0) withDeferred++;
      sys.stop();
      const restored = newSystem(new FifoScheduler(), snap);
      restored.sys.runToQuiescence();
      expect([...records, ...restored.records].map(recordLine), `snapshot after ${k} deliveries`).toStrictEqual(all);
      restored.sys.stop();
    }
    expect(withDeferred).toBeGreaterThan(0);
  });

  it.each([0, 40, 95, 150])('a snapshot survives a JSON round trip (after %i deliveries)', (k) => {
    const { snap, lines } = resumeAfter(k, viaJson);
    expect(lines).toStrictEqual(uninterrupted.slice(snap.seq));
  });

  /** A System stopped mid-step 15 (close A iax0, which drains), with several messages pending. */
  function midStepSnapshot(): { sys: System; snap: SystemSnapshot } {
    const { sys } = newSystem();
    runSteps(sys, 0, 15);
    const step = scenario.steps[15];
    if (step === undefined) throw new Error('no step 15');
    const { msg, to } = stepInput(step);
    sys.input(msg, to, 15);
    while (sys.scheduler.size < 2) expect(sys.step()).toBeDefined();
    return { sys, snap: sys.snapshot() };
  }

  it('a snapshot is a value: continuing the original run does not change it', () => {
    const { sys, snap } = midStepSnapshot();
    expect(snap.pending.length).toBeGreaterThanOrEqual(2);
    const frozen = JSON.stringify(snap);
    sys.runToQuiescence();
    runSteps(sys, 16);
    sys.stop();
    expect(JSON.stringify(snap)).toBe(frozen);
  });

  it('restoring one snapshot twice: the second run does not rewrite the records of the first', () => {
    const { sys, snap } = midStepSnapshot();
    sys.stop();
    const first = newSystem(new FifoScheduler(), snap);
    first.sys.runToQuiescence();
    runSteps(first.sys, 16);
    first.sys.stop();
    const firstLines = first.records.map(recordLine);
    expect(firstLines).toStrictEqual(uninterrupted.slice(snap.seq));
    // Another exploration branch from the same snapshot, in another order.
    const second = newSystem(new ChoiceScheduler(newestChannelFirst), snap);
    second.sys.runToQuiescence();
    runSteps(second.sys, 16);
    second.sys.stop();
    expect(second.records.map(recordLine)).not.toStrictEqual(firstLines);
    expect(first.records.map(recordLine)).toStrictEqual(firstLines);
  });

  it('snapshot() does not disturb the running system', () => {
    const { sys, records } = newSystem();
    for (let i = 0; i < scenario.steps.length; i++) {
      runSteps(sys, i, i + 1);
      sys.snapshot();
    }
    sys.stop();
    expect(records.map(recordLine)).toStrictEqual(uninterrupted);
  });

  it('the restored system sees the same actor state', () => {
    const { sys } = newSystem();
    runSteps(sys, 0, 9);
    const restored = newSystem(new FifoScheduler(), sys.snapshot()).sys;
    expect(restored.addresses()).toStrictEqual(sys.addresses());
    expect(restored.iommu().context).toStrictEqual(sys.iommu().context);
    expect(restored.thread('A1')?.context).toStrictEqual(sys.thread('A1')?.context);
    expect(restored.processMm('A')?.context).toStrictEqual(sys.processMm('A')?.context);
    expect(restored.thread('A1')?.context.msr).toBe(1);
    sys.stop();
    restored.stop();
  });
});

describe('System: schedulers', () => {
  it('a LIFO ChoiceScheduler still reaches quiescence for a small scenario: nothing pending, every input delivered', () => {
    const small = parseScenario(
      JSON.stringify({
        scenario: 1,
        name: 'lifo',
        devices: [{ name: 'dsa0' }],
        steps: [
          { op: 'spawn', process: 'A' },
          { op: 'bind', thread: 'A', device: 'dsa0' },
          { op: 'clone', thread: 'A', new: 'A1' },
          { op: 'enqcmd', thread: 'A1', device: 'dsa0' },
          { op: 'unbind', thread: 'A', device: 'dsa0' },
          { op: 'exit', thread: 'A1' },
          { op: 'exit', thread: 'A' },
        ],
      }),
      'lifo.json',
    );
    let choices = 0;
    const lifo = new ChoiceScheduler((pending) => {
      choices++;
      return pending.length - 1;
    });
    const sys = new System(systemConfig(small), lifo);
    const records: Delivered[] = [];
    sys.delivered$.subscribe((d) => records.push(d));
    small.steps.forEach((step, i) => {
      const { msg, to } = stepInput(step);
      sys.input(msg, to, i);
      const n = sys.runToQuiescence(10_000);
      expect(n, `step ${i}`).toBeGreaterThan(0);
      expect(n, `step ${i}`).toBeLessThan(10_000);
      expect(sys.scheduler.size, `step ${i}`).toBe(0);
    });
    expect(choices).toBeGreaterThanOrEqual(records.length);
    records.forEach((r, i) => expect(r.seq).toBe(i + 1));
    expect(records.filter((r) => r.cause === undefined).map((r) => r.step)).toStrictEqual(small.steps.map((_, i) => i));
    expect(sys.thread('A')?.state).toBe('exited');
    expect(sys.thread('A1')?.state).toBe('exited');
    sys.stop();
  });

  it('a LIFO order really differs from FIFO inside a step', () => {
    const lifo = newSystem(new ChoiceScheduler((p) => p.length - 1));
    const fifo = newSystem();
    runSteps(lifo.sys, 0, 3);
    runSteps(fifo.sys, 0, 3);
    expect(lifo.records.map((r) => r.msg.type)).not.toStrictEqual(fifo.records.map((r) => r.msg.type));
    lifo.sys.stop();
    fifo.sys.stop();
  });

  it('an interleaving that keeps per-channel FIFO order ends in the same state as FIFO', () => {
    const other = newSystem(new ChoiceScheduler(newestChannelFirst));
    const fifo = newSystem();
    runSteps(other.sys, 0);
    runSteps(fifo.sys, 0);
    expect(other.records.map(recordLine)).not.toStrictEqual(fifo.records.map(recordLine));
    expect(other.sys.scheduler.size).toBe(0);
    expect(other.sys.deferredSize).toBe(0);
    expect(other.sys.iommu().context).toStrictEqual(fifo.sys.iommu().context);
    expect(other.sys.kernel().context).toStrictEqual(fifo.sys.kernel().context);
    for (const name of ['A', 'A1', 'B', 'C']) {
      expect(other.sys.thread(name)?.state, name).toBe(fifo.sys.thread(name)?.state);
      expect(other.sys.thread(name)?.context.msr, name).toBe(fifo.sys.thread(name)?.context.msr);
    }
    for (const p of ['A', 'B', 'C']) expect(other.sys.processMm(p)?.context, p).toStrictEqual(fifo.sys.processMm(p)?.context);
    other.sys.stop();
    fifo.sys.stop();
  });

  it('runScenario with a per-channel-FIFO choice scheduler keeps every result and invariant', () => {
    const small = parseScenario(
      JSON.stringify({
        scenario: 1,
        name: 'small',
        devices: [{ name: 'dsa0' }],
        steps: [
          { op: 'spawn', process: 'A' },
          { op: 'bind', thread: 'A', device: 'dsa0', expect: { result: 'ok', pasid: 1 } },
          { op: 'clone', thread: 'A', new: 'A1' },
          { op: 'enqcmd', thread: 'A1', device: 'dsa0', expect: { result: 'accepted', events: ['trap.gp', 'pasid.get', 'msr.write', 'wq.complete'] } },
          { op: 'unbind', thread: 'A', device: 'dsa0', expect: { result: 'ok', noEvents: ['pasid.free'] } },
          { op: 'enqcmd', thread: 'A1', device: 'dsa0', expect: { result: 'accepted', events: ['fault.dmar'], noEvents: ['wq.complete'] } },
          { op: 'exit', thread: 'A1', expect: { events: ['pasid.put', 'pasid.free'] } },
          { op: 'exit', thread: 'A' },
        ],
        final: { pasid: { A: null }, msr: { A1: 1 } },
      }),
      'small.json',
    );
    const r = runScenario(small, { scheduler: new ChoiceScheduler(newestChannelFirst) });
    expect(r.failures, JSON.stringify(r.failures)).toStrictEqual([]);
    expect(r.ok).toBe(true);
  });
});

describe('System: syscalls for threads that do not exist', () => {
  it('a syscall to a thread with no actor is delivered to the kernel, which answers ESRCH to user', () => {
    const { sys, records } = newSystem();
    sys.input({ type: 'sys.bind', thread: 'Z', device: 'dsa0' }, 'thread:Z', 0);
    sys.runToQuiescence();
    expect(records.map(recordLine)).toStrictEqual([
      '{"seq":1,"type":"sys.bind","from":"user","to":"kernel","step":0,"thread":"Z","device":"dsa0"}',
      '{"seq":2,"type":"sys.return","from":"kernel","to":"user","cause":1,"step":0,"thread":"Z","errno":"ESRCH","reason":"no-such-thread"}',
    ]);
    expect(sys.thread('Z')).toBeUndefined();
  });

  it.each([
    { type: 'insn.enqcmd', thread: 'Z', device: 'dsa0' },
    { type: 'sys.exit', thread: 'Z' },
    { type: 'sys.clone', thread: 'Z', new: 'Z1' },
    { type: 'sys.arch_prctl', thread: 'Z', code: 0x4001 },
  ] as const)('$type for a missing thread -> ESRCH', (msg) => {
    const { sys, records } = newSystem();
    sys.input(msg, 'thread:Z', 3);
    sys.runToQuiescence();
    expect(records).toHaveLength(2);
    expect(records[0]?.to).toBe('kernel');
    expect(records[1]?.msg).toStrictEqual({ type: 'sys.return', thread: 'Z', errno: 'ESRCH', reason: 'no-such-thread', to: 'user' });
    expect(records[1]?.step).toBe(3);
    expect(sys.thread('Z1')).toBeUndefined();
  });

  it('the thread may exist later: the same syscall after its creation is handled by the thread', () => {
    const { sys, records } = newSystem();
    sys.input({ type: 'sys.exit', thread: 'A' }, 'thread:A', 0);
    sys.runToQuiescence();
    sys.input({ type: 'sys.spawn', process: 'A' }, 'kernel', 1);
    sys.runToQuiescence();
    sys.input({ type: 'sys.exit', thread: 'A' }, 'thread:A', 2);
    sys.runToQuiescence();
    const exits = records.filter((r) => r.msg.type === 'sys.exit');
    expect(exits.map((r) => r.to)).toStrictEqual(['kernel', 'thread:A']);
    expect(sys.thread('A')?.state).toBe('exited');
  });
});
