/**
 * svasim's machines as real xstate actors in a user's system, with the router (src/interop/router.ts):
 * the same records as svasim's own bus — built-in scenarios step by step, and every step's input at
 * once under FIFO and random channel-respecting schedules (where deferral happens) — actors the user
 * created with the documented inputs, births, deferral where plain xstate drops the event, and the
 * inspect stream.
 */
import { describe, expect, it } from 'vitest';
import { createActor, createMachine, setup, spawnChild, type InspectionEvent } from 'xstate';
import { createSvasimRouter, createSvasimSystem, svasimActors, type SvasimRouter } from '../../src/interop/router.ts';
import { recordLine } from '../../src/log/format.ts';
import { iommuMachine, kernelMachine, threadMachine, wqMachine, type IommuInput, type WqInput } from '../../src/machines.ts';
import { ChoiceScheduler, FifoScheduler, type Envelope, type Scheduler } from '../../src/runtime/scheduler.ts';
import { SubscriberError, System } from '../../src/runtime/system.ts';
import { runScenario, stepInput, systemConfig } from '../../src/runner/run.ts';
import { scenarioFromValue } from '../../src/scenario/load.ts';
import type { Scenario } from '../../src/scenario/types.ts';
import { builtinNames } from '../../src/scenarios/index.ts';
import { loadScenario } from '../../src/index.ts';

const lines = (router: SvasimRouter): string[] => {
  const out: string[] = [];
  router.delivered$.subscribe((d) => out.push(recordLine(d)));
  return out;
};

/** A seeded pick among the eligible messages (a linear congruential sequence: deterministic). */
function seeded(seed: number): (eligible: readonly Envelope[]) => number {
  let x = seed;
  return (eligible) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % eligible.length;
  };
}

describe('svasim\'s machines in an xstate system, routed', () => {
  it.each(builtinNames())('%s: step by step, the same records as svasim run', (name) => {
    const s = loadScenario(name);
    const want: string[] = [];
    runScenario(s, { onRecord: (d) => want.push(recordLine(d)) });
    const { host, router } = createSvasimSystem(systemConfig(s));
    const got = lines(router);
    s.steps.forEach((step, i) => {
      const { msg, to } = stepInput(step);
      router.input(msg, to, i);
      router.runToQuiescence();
    });
    expect(got).toStrictEqual(want);
    host.stop();
  });

  /** Every step's input at once (concurrent programs): records, or the same error, and how many deferrals. */
  function concurrently(s: Scenario, make: () => Scheduler, bus: 'system' | 'router'): { records: string[]; error: string | null; deferrals: number } {
    const records: string[] = [];
    let deferrals = 0;
    let error: string | null = null;
    if (bus === 'system') {
      const sys = new System(systemConfig(s), make());
      sys.delivered$.subscribe((d) => records.push(recordLine(d)));
      s.steps.forEach((step, i) => sys.input(stepInput(step).msg, stepInput(step).to, i));
      try {
        while (sys.step() !== undefined) if (sys.deferredSize > 0) deferrals++;
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
    } else {
      const { host, router } = createSvasimSystem(systemConfig(s), { scheduler: make() });
      router.delivered$.subscribe((d) => records.push(recordLine(d)));
      s.steps.forEach((step, i) => router.input(stepInput(step).msg, stepInput(step).to, i));
      try {
        while (router.step() !== undefined) if (router.deferredSize > 0) deferrals++;
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      host.stop();
    }
    return { records, error, deferrals };
  }

  it('every step\'s input at once, FIFO and random schedules: the same records as svasim\'s bus, deferrals included', () => {
    let deferrals = 0;
    for (const name of builtinNames()) {
      for (const seed of [0, 1, 2, 3]) {
        const s = loadScenario(name);
        const make = (): Scheduler => (seed === 0 ? new FifoScheduler() : new ChoiceScheduler(seeded(seed)));
        const want = concurrently(s, make, 'system');
        const got = concurrently(s, make, 'router');
        expect(got, `${name} seed ${seed}`).toStrictEqual(want);
        deferrals += got.deferrals;
      }
    }
    // The schedules do make actors defer messages (so the comparison covers deferral and its retries).
    expect(deferrals).toBeGreaterThan(50);
  });

  it('creates mms and files as System does: unsafe devices, caps and the fd table reach the mm (the CAP_SYS_RAWIO gate, fork, exec)', () => {
    // No built-in scenario has an unsafe device or caps yet: this one goes through idxd_cdev_mmap's
    // first gate both ways, and a forked child inherits caps and the (not O_CLOEXEC) descriptor through exec.
    const s = scenarioFromValue(
      {
        scenario: 1,
        name: 'rawio gate, routed',
        devices: [{ name: 'dsa0', userSubmissionSafe: false }],
        steps: [
          { op: 'spawn', process: 'A' },
          { op: 'bind', thread: 'A', device: 'dsa0' },
          { op: 'spawn', process: 'B', caps: ['CAP_SYS_RAWIO'] },
          { op: 'bind', thread: 'B', device: 'dsa0' },
          { op: 'fork', thread: 'B', new: 'C' },
          { op: 'exec', thread: 'C' },
          { op: 'bind', thread: 'C', device: 'dsa0' },
          { op: 'enqcmd', thread: 'C', device: 'dsa0' },
          { op: 'close', thread: 'B', device: 'dsa0' },
          { op: 'exit', thread: 'C' },
          { op: 'exit', thread: 'B' },
          { op: 'exit', thread: 'A' },
        ],
      },
      'rawio.json',
    );
    const want: string[] = [];
    const result = runScenario(s, { onRecord: (d) => want.push(recordLine(d)) });
    const { host, router } = createSvasimSystem(systemConfig(s));
    const got = lines(router);
    const results: string[] = [];
    s.steps.forEach((step, i) => {
      router.input(stepInput(step).msg, stepInput(step).to, i);
      router.runToQuiescence();
      if (i === 1) results.push(String((router.actor('mm:1')?.getSnapshot() as { context: { unsafe: readonly string[] } }).context.unsafe));
    });
    expect(got).toStrictEqual(want);
    expect(results).toStrictEqual(['dsa0']);
    // The gate did refuse A and let B (and B's forked, exec'd child) through.
    const returns = want.map((l) => JSON.parse(l) as { type: string; to: string; errno?: string; step: number }).filter((r) => r.type === 'sys.return' && r.to.startsWith('thread:'));
    expect(returns.find((r) => r.step === 1)?.errno).toBe('EPERM');
    expect(returns.find((r) => r.step === 3)?.errno).toBeUndefined();
    expect(returns.find((r) => r.step === 6)?.errno).toBeUndefined();
    expect(result.ok).toBe(true);
    host.stop();
  });

  it('defers a message the target cannot take yet, where plain xstate drops it', () => {
    const s = scenarioFromValue(
      { scenario: 1, name: 'busy thread', devices: [{ name: 'dsa0' }], steps: [{ op: 'spawn', process: 'A' }, { op: 'bind', thread: 'A', device: 'dsa0' }] },
      'busy.json',
    );
    const { host, router } = createSvasimSystem(systemConfig(s));
    const got = lines(router);
    router.input({ type: 'sys.spawn', process: 'A' }, 'kernel', 0);
    router.runToQuiescence();
    // Two programs' requests at once: the thread is in the kernel (bind) when the ENQCMD arrives.
    router.input({ type: 'sys.bind', thread: 'A', device: 'dsa0' }, 'thread:A', 1);
    router.input({ type: 'insn.enqcmd', thread: 'A', device: 'dsa0' }, 'thread:A', 1);
    router.step();
    router.step();
    expect(router.deferredSize).toBe(1);
    router.runToQuiescence();
    expect(router.deferredSize).toBe(0);
    const types = got.map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types.indexOf('insn.enqcmd')).toBeGreaterThan(types.lastIndexOf('sys.return'));
    expect(types).toContain('wq.accept');
    expect((router.actor('thread:A')?.getSnapshot() as { value: string }).value).toBe('running');
    host.stop();

    // The same two events sent straight to an xstate actor: the second is dropped (no transition).
    const plain = createActor(threadMachine, { input: { name: 'A', process: 'A', mm: 1 } }).start();
    const emitted: string[] = [];
    plain.on('*', (e) => emitted.push(e.type));
    plain.send({ type: 'sys.bind', thread: 'A', device: 'dsa0' });
    plain.send({ type: 'insn.enqcmd', thread: 'A', device: 'dsa0' });
    plain.send({ type: 'sys.return', thread: 'A' });
    expect(emitted).toStrictEqual(['mm.bind']);
    expect(plain.getSnapshot().value).toBe('running');
  });

  it('uses the actors a user\'s machine spawned with the documented inputs; births are new actors of that system', () => {
    const s = loadScenario('seed-a-unbind-dmar');
    const config = systemConfig(s);
    const iommuInput: IommuInput = { policy: s.policy.pasid, pasidRange: s.iommu.pasidRange, devices: ['dsa0'] };
    const wqInput: WqInput = { device: 'dsa0', wqSize: 32, threshold: 16, autoComplete: true };
    const userMachine = setup({ actors: { kernel: kernelMachine, iommu: iommuMachine, wq: wqMachine } }).createMachine({
      id: 'user-system',
      entry: [
        spawnChild('kernel', { id: 'kernel', systemId: 'kernel' }),
        spawnChild('iommu', { id: 'iommu', systemId: 'iommu', input: iommuInput }),
        spawnChild('wq', { id: 'dsa0', systemId: 'wq:dsa0', input: wqInput }),
      ],
    });
    expect(svasimActors(config).map((a) => [a.address, a.input])).toStrictEqual([['kernel', undefined], ['iommu', iommuInput], ['wq:dsa0', wqInput]]);
    const root = createActor(userMachine).start();
    const spawned: string[] = [];
    const router = createSvasimRouter(root, config, {
      spawn: (spec) => {
        spawned.push(spec.address);
        return createActor(spec.machine, { parent: root, id: spec.address, systemId: spec.address, input: spec.input }).start();
      },
    });
    expect(spawned).toStrictEqual([]);
    expect(router.actor('iommu')).toBe(root.getSnapshot().children['iommu']);
    const want: string[] = [];
    runScenario(s, { onRecord: (d) => want.push(recordLine(d)) });
    const got = lines(router);
    s.steps.forEach((step, i) => {
      router.input(stepInput(step).msg, stepInput(step).to, i);
      router.runToQuiescence();
    });
    expect(got).toStrictEqual(want);
    expect(spawned).toStrictEqual(['mm:1', 'thread:A', 'file:1.1', 'thread:A1']);
    expect(root.system.get('thread:A1')?.getSnapshot().context).toMatchObject({ msr: 1, activated: true });
    root.stop();
  });

  it('the host\'s inspect stream sees every delivery as an event from the sender\'s actor to the receiver\'s', () => {
    const s = loadScenario('seed-a-unbind-dmar');
    const events: InspectionEvent[] = [];
    const { host, router } = createSvasimSystem(systemConfig(s), { inspect: (e) => events.push(e) });
    const sent: string[] = [];
    router.delivered$.subscribe((d) => {
      // Delivered to an actor (not to user or monitor, not a birth): sent to it through xstate.
      if (router.actor(d.to) !== undefined && d.msg.type !== 'mm.create' && d.msg.type !== 'thread.start' && d.msg.type !== 'file.open') {
        sent.push(`${d.from === 'user' ? '(none)' : (router.actor(d.from)?.sessionId ?? '?')} → ${router.actor(d.to)?.sessionId ?? '?'} ${d.msg.type}`);
      }
    });
    s.steps.forEach((step, i) => {
      router.input(stepInput(step).msg, stepInput(step).to, i);
      router.runToQuiescence();
    });
    const seen = events.flatMap((e) =>
      e.type === '@xstate.event' && !e.event.type.startsWith('xstate.') ? [`${e.sourceRef?.sessionId ?? '(none)'} → ${e.actorRef.sessionId} ${e.event.type}`] : [],
    );
    expect(sent.length).toBeGreaterThan(20);
    expect(seen).toStrictEqual(sent);
    expect(seen).toContain(`${router.actor('iommu')?.sessionId ?? ''} → ${router.actor('wq:dsa0')?.sessionId ?? ''} fault.dmar`);
    host.stop();
  });

  it('an actor that cannot handle a message at once (not started) is an error naming it', () => {
    const s = loadScenario('lam-off');
    const host = createActor(createMachine({})).start();
    const router = createSvasimRouter(host, systemConfig(s), {
      spawn: (spec) => {
        const a = createActor(spec.machine, { parent: host, systemId: spec.address, input: spec.input });
        return spec.kind === 'thread' ? a : a.start();
      },
    });
    router.input({ type: 'sys.spawn', process: 'A' }, 'kernel', 0);
    router.runToQuiescence();
    router.input({ type: 'sys.exit', thread: 'A' }, 'thread:A', 1);
    expect(() => router.runToQuiescence()).toThrow('thread:A did not handle sys.exit at once (not started, stopped, or busy: deliver from outside the actors\' own actions)');
    host.stop();
  });

  it('a delivered$ subscriber that throws fails that delivery synchronously (SubscriberError), births included, as on System', async () => {
    const s = loadScenario('seed-a-unbind-dmar');
    const { host, router } = createSvasimSystem(systemConfig(s));
    const seen: number[] = [];
    router.delivered$.subscribe((d) => {
      if (d.seq === 5) throw new Error('router sub boom');
    });
    router.delivered$.subscribe((d) => seen.push(d.seq));
    let caught: unknown;
    try {
      s.steps.forEach((step, i) => {
        router.input(stepInput(step).msg, stepInput(step).to, i);
        router.runToQuiescence();
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SubscriberError);
    expect((caught as SubscriberError).delivered.seq).toBe(5);
    expect((caught as Error).message).toMatch(/^a subscriber to delivered\$ threw on seq 5 \(.+\): router sub boom$/);
    // Every subscriber had seq 5; delivery stopped there.
    expect(seen).toStrictEqual([1, 2, 3, 4, 5]);
    expect(router.lastSeq).toBe(5);
    // A birth (delivered to no actor yet) goes through the same path.
    const birth = createSvasimSystem(systemConfig(s));
    birth.router.delivered$.subscribe((d) => {
      if (d.msg.type === 'mm.create') throw new Error('birth boom');
    });
    birth.router.input({ type: 'sys.spawn', process: 'A' }, 'kernel', 0);
    expect(() => birth.router.runToQuiescence()).toThrow(/threw on seq \d+ \(mm\.create kernel -> mm:1\): birth boom/);
    // Nothing surfaces later as an uncaught exception (rxjs would have thrown from a timer).
    await new Promise((resolve) => setTimeout(resolve, 20));
    host.stop();
    birth.host.stop();
  });

  it('a spawn that does not register the actor under its address is an error naming it', () => {
    const s = loadScenario('lam-off');
    const host = createActor(createMachine({})).start();
    expect(() => createSvasimRouter(host, systemConfig(s), { spawn: (spec) => createActor(spec.machine, { input: spec.input }).start() })).toThrow(
      'spawn: the actor for kernel is not registered under systemId "kernel" in the host\'s system',
    );
    host.stop();
  });
});
