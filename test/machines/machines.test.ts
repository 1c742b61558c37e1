/**
 * Per-machine unit tests: each statechart driven directly with xstate's `createActor`, its emitted
 * messages collected with `actor.on('*', …)`. No runtime, no scheduler: the test plays every other actor.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/runner/run.ts';
import { builtinPath } from '../../src/scenarios/index.ts';
import { iommuMachine, lowestFreePasid, type IommuInput } from '../../machines/iommu.ts';
import { fileMachine } from '../../machines/file.ts';
import { mmMachine, type MmInput } from '../../machines/mm.ts';
import {
  DMAR_REASON_PASID_ENTRY_NOT_PRESENT,
  LAM_OFF,
  type CpuFeatures,
  type LamState,
  type Outgoing,
  type Policy,
} from '../../machines/protocol.ts';
import { kernelMachine } from '../../machines/kernel.ts';
import { threadMachine } from '../../machines/thread.ts';
import { wqMachine, type WqInput } from '../../machines/wq.ts';

/** The types of a batch of emitted messages. */
const types = (out: readonly Outgoing[]): string[] => out.map((o) => o.type);

/** Emitted messages since the last `take()`. */
function collector(): { push: (o: Outgoing) => void; take: () => Outgoing[] } {
  let buf: Outgoing[] = [];
  return {
    push: (o) => void buf.push(o),
    take: () => {
      const b = buf;
      buf = [];
      return b;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// thread

function thread(name = 'T', mm = 1) {
  const actor = createActor(threadMachine, { input: { name, process: 'P', mm } });
  const c = collector();
  actor.on('*', (e) => c.push(e));
  actor.start();
  return { actor, take: c.take, state: () => actor.getSnapshot().value, ctx: () => actor.getSnapshot().context };
}

describe('thread', () => {
  it('starts running with IA32_PASID unset and not activated', () => {
    const t = thread();
    expect(t.state()).toBe('running');
    expect(t.ctx()).toMatchObject({ name: 'T', process: 'P', mm: 1, msr: null, activated: false, device: null });
  });

  it('ENQCMD on a CPU without it raises #UD to its mm, whatever the MSR holds; SIGILL returns it to running', () => {
    const actor = createActor(threadMachine, { input: { name: 'T', process: 'P', mm: 1, enqcmd: false } });
    const c = collector();
    actor.on('*', (e) => c.push(e));
    actor.start();
    actor.send({ type: 'insn.enqcmd', thread: 'T', device: 'dsa0' });
    expect(c.take()).toStrictEqual([{ type: 'trap.ud', thread: 'T', to: 'mm:1' }]);
    expect(actor.getSnapshot().value).toBe('trapping');
    actor.send({ type: 'signal.sigill', thread: 'T' });
    expect(actor.getSnapshot().value).toBe('running');
    expect(c.take()).toStrictEqual([]);
  });

  it('ENQCMD with the MSR unset raises #GP to its mm (no portal store)', () => {
    const t = thread();
    t.actor.send({ type: 'insn.enqcmd', thread: 'T', device: 'dsa0' });
    expect(t.take()).toStrictEqual([{ type: 'trap.gp', thread: 'T', activated: false, to: 'mm:1' }]);
    expect(t.state()).toBe('trapping');
  });

  it('msr.write sets the MSR and the activated flag; gp.fixup re-executes into a portal store', () => {
    const t = thread();
    t.actor.send({ type: 'insn.enqcmd', thread: 'T', device: 'dsa0' });
    t.take();
    t.actor.send({ type: 'msr.write', thread: 'T', pasid: 7 });
    expect(t.ctx()).toMatchObject({ msr: 7, activated: true });
    expect(t.take()).toStrictEqual([]);
    t.actor.send({ type: 'gp.fixup', thread: 'T' });
    expect(t.take()).toStrictEqual([{ type: 'portal.store', thread: 'T', device: 'dsa0', pasid: 7, to: 'mm:1' }]);
    expect(t.state()).toBe('enqueuing');
    t.actor.send({ type: 'wq.accept', thread: 'T', pasid: 7, occupancy: 1 });
    expect(t.state()).toBe('running');
    expect(t.ctx().device).toBeNull();
  });

  it('#GP answered with SIGSEGV: back to running, MSR still unset', () => {
    const t = thread();
    t.actor.send({ type: 'insn.enqcmd', thread: 'T', device: 'dsa0' });
    t.actor.send({ type: 'signal.sigsegv', thread: 'T', reason: 'gp' });
    expect(t.state()).toBe('running');
    expect(t.ctx()).toMatchObject({ msr: null, activated: false, device: null });
  });

  it('ENQCMD with the MSR set stores to the portal with that PASID, no #GP', () => {
    const t = thread();
    t.actor.send({ type: 'insn.enqcmd', thread: 'T', device: 'dsa0' });
    t.actor.send({ type: 'msr.write', thread: 'T', pasid: 3 });
    t.actor.send({ type: 'gp.fixup', thread: 'T' });
    t.actor.send({ type: 'wq.retry', thread: 'T', occupancy: 4 });
    t.take();
    t.actor.send({ type: 'insn.enqcmd', thread: 'T', device: 'iax1' });
    expect(t.take()).toStrictEqual([{ type: 'portal.store', thread: 'T', device: 'iax1', pasid: 3, to: 'mm:1' }]);
    expect(t.state()).toBe('enqueuing');
  });

  it('a syscall goes to its mm as an mm.* request and waits for sys.return', () => {
    const t = thread();
    t.actor.send({ type: 'sys.bind', thread: 'T', device: 'dsa0' });
    expect(t.take()).toStrictEqual([{ type: 'mm.bind', thread: 'T', device: 'dsa0', to: 'mm:1' }]);
    expect(t.state()).toBe('syscall');
    t.actor.send({ type: 'sys.arch_prctl', thread: 'T', code: 0x4002, arg: 6 });
    expect(t.take()).toStrictEqual([]); // still in the kernel: a second syscall is not taken
    t.actor.send({ type: 'sys.return', thread: 'T' });
    expect(t.state()).toBe('running');
    t.actor.send({ type: 'sys.arch_prctl', thread: 'T', code: 0x4002, arg: 6 });
    expect(t.take()).toStrictEqual([{ type: 'mm.arch_prctl', thread: 'T', code: 0x4002, arg: 6, to: 'mm:1' }]);
  });

  it('exit tells the mm; afterwards every syscall and ENQCMD gets ESRCH, addressed to user', () => {
    const t = thread();
    t.actor.send({ type: 'sys.exit', thread: 'T' });
    expect(t.take()).toStrictEqual([{ type: 'mm.thread_exit', thread: 'T', fixedUp: false, to: 'mm:1' }]);
    expect(t.state()).toBe('exited');
    const inputs = [
      { type: 'sys.bind', thread: 'T', device: 'dsa0' },
      { type: 'insn.enqcmd', thread: 'T', device: 'dsa0' },
      { type: 'sys.exit', thread: 'T' },
      { type: 'sys.clone', thread: 'T', new: 'U' },
      { type: 'sys.arch_prctl', thread: 'T', code: 0x4001 },
    ] as const;
    for (const e of inputs) {
      t.actor.send(e);
      expect(t.take()).toStrictEqual([{ type: 'sys.return', thread: 'T', errno: 'ESRCH', reason: 'thread-exited', to: 'user' }]);
    }
    expect(t.state()).toBe('exited');
  });

  it('a syscall naming a thread that was never created: the kernel answers ESRCH (no-such-thread), to user', () => {
    const k = createActor(kernelMachine);
    const c = collector();
    k.on('*', (e) => c.push(e));
    k.start();
    k.send({ type: 'sys.bind', thread: 'Z', device: 'dsa0' });
    expect(c.take()).toStrictEqual([{ type: 'sys.return', thread: 'Z', errno: 'ESRCH', reason: 'no-such-thread', to: 'user' }]);
  });

  it('a fixed-up thread reports fixedUp:true on exit (seed-2021 drops its ref)', () => {
    const t = thread();
    t.actor.send({ type: 'insn.enqcmd', thread: 'T', device: 'dsa0' });
    t.actor.send({ type: 'msr.write', thread: 'T', pasid: 1 });
    t.actor.send({ type: 'gp.fixup', thread: 'T' });
    t.actor.send({ type: 'wq.accept', thread: 'T', pasid: 1, occupancy: 1 });
    t.take();
    t.actor.send({ type: 'sys.exit', thread: 'T' });
    expect(t.take()).toStrictEqual([{ type: 'mm.thread_exit', thread: 'T', fixedUp: true, to: 'mm:1' }]);
  });

  it('exec resets the MSR and moves to the new mm, but keeps the activated flag', () => {
    const t = thread();
    t.actor.send({ type: 'insn.enqcmd', thread: 'T', device: 'dsa0' });
    t.actor.send({ type: 'msr.write', thread: 'T', pasid: 5 });
    t.actor.send({ type: 'gp.fixup', thread: 'T' });
    t.actor.send({ type: 'wq.accept', thread: 'T', pasid: 5, occupancy: 1 });
    t.take();
    t.actor.send({ type: 'sys.exec', thread: 'T' });
    expect(t.take()).toStrictEqual([{ type: 'mm.exec', thread: 'T', fixedUp: true, to: 'mm:1' }]);
    t.actor.send({ type: 'thread.exec', mm: 2 });
    expect(t.ctx()).toMatchObject({ mm: 2, msr: null, activated: true });
    t.actor.send({ type: 'sys.return', thread: 'T' });
    expect(t.state()).toBe('running');
    // The next ENQCMD traps against the new mm, and says the thread is already activated.
    t.actor.send({ type: 'insn.enqcmd', thread: 'T', device: 'dsa0' });
    expect(t.take()).toStrictEqual([{ type: 'trap.gp', thread: 'T', activated: true, to: 'mm:2' }]);
    t.actor.send({ type: 'signal.sigsegv', thread: 'T', reason: 'gp' });
    // It holds no ref in the new mm: its exit must not drop one (SPEC §2: exec dropped it already).
    t.actor.send({ type: 'sys.exit', thread: 'T' });
    expect(t.take()).toStrictEqual([{ type: 'mm.thread_exit', thread: 'T', fixedUp: false, to: 'mm:2' }]);
  });

  it('thread.kill during a syscall exits the thread', () => {
    const t = thread();
    t.actor.send({ type: 'sys.bind', thread: 'T', device: 'dsa0' });
    t.take();
    t.actor.send({ type: 'thread.kill', thread: 'T' });
    expect(t.state()).toBe('exited');
    expect(t.take()).toStrictEqual([{ type: 'mm.thread_exit', thread: 'T', fixedUp: false, to: 'mm:1' }]);
  });

  it('counts completion records in any state', () => {
    const t = thread();
    t.actor.send({ type: 'wq.complete', thread: 'T', pasid: 1 });
    t.actor.send({ type: 'sys.exit', thread: 'T' });
    t.actor.send({ type: 'wq.complete', thread: 'T', pasid: 1 });
    expect(t.ctx().completions).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------------
// iommu

function iommu(policy: IommuInput['policy'], pasidRange: readonly [number, number] = [1, 0xfffff], devices = ['d0', 'd1']) {
  const actor = createActor(iommuMachine, { input: { policy, pasidRange, devices } });
  const c = collector();
  actor.on('*', (e) => c.push(e));
  actor.start();
  const ctx = () => actor.getSnapshot().context;
  const bind = (mm: number, device: string, pasid: number | null = null): Outgoing[] => {
    actor.send({ type: 'iommu.bind', mm, device, pasid });
    return c.take();
  };
  const unbind = (mm: number, device: string, pasid: number, count = 1): Outgoing[] => {
    actor.send({ type: 'iommu.unbind', mm, device, pasid, count });
    return c.take();
  };
  return { actor, take: c.take, ctx, bind, unbind };
}

const allocated = (out: readonly Outgoing[]): number | undefined => {
  const a = out.find((o) => o.type === 'pasid.alloc');
  return a?.type === 'pasid.alloc' ? a.pasid : undefined;
};

describe('iommu: allocator', () => {
  it('lowestFreePasid picks the lowest id not in use, or null', () => {
    expect(lowestFreePasid({}, [1, 3])).toBe(1);
    expect(lowestFreePasid({ 1: 5, 2: 6 }, [1, 3])).toBe(3);
    expect(lowestFreePasid({ 1: 5, 3: 6 }, [1, 3])).toBe(2);
    expect(lowestFreePasid({ 1: 5, 2: 6, 3: 7 }, [1, 3])).toBeNull();
    expect(lowestFreePasid({}, [9, 9])).toBe(9);
  });

  it.each(['seed-2021', 'merged'] as const)('%s: lowest free id in the range, reused after free', (policy) => {
    const io = iommu(policy, [5, 8]);
    expect(allocated(io.bind(1, 'd0'))).toBe(5);
    expect(allocated(io.bind(2, 'd0'))).toBe(6);
    expect(allocated(io.bind(3, 'd0'))).toBe(7);
    // Free the middle one.
    if (policy === 'seed-2021') io.unbind(2, 'd0', 6);
    else {
      io.unbind(2, 'd0', 6);
      io.actor.send({ type: 'iommu.free', mm: 2, pasid: 6 });
      expect(io.take()).toStrictEqual([{ type: 'pasid.free', pasid: 6, to: 'mm:2' }]);
    }
    expect(io.ctx().owner).toStrictEqual({ 5: 1, 7: 3 });
    // The lowest free id is 6 again, now for another mm.
    expect(allocated(io.bind(4, 'd0'))).toBe(6);
    expect(allocated(io.bind(5, 'd0'))).toBe(8);
    expect(io.ctx().owner).toStrictEqual({ 5: 1, 6: 4, 7: 3, 8: 5 });
  });

  it('a bind with a PASID the mm owns does not allocate', () => {
    const io = iommu('merged');
    io.bind(1, 'd0');
    const out = io.bind(1, 'd1', 1);
    expect(types(out)).toStrictEqual(['pasidtable.set', 'iommu.bound']);
  });

  it.each([
    ['seed-2021', 'ENOMEM'],
    ['merged', 'ENOSPC'],
  ] as const)('%s: exhausted range -> bind_failed %s, nothing allocated or programmed', (policy, errno) => {
    const io = iommu(policy, [3, 4]);
    io.bind(1, 'd0');
    io.bind(2, 'd0');
    const before = io.ctx();
    expect(io.bind(3, 'd1')).toStrictEqual([{ type: 'iommu.bind_failed', device: 'd1', errno, reason: 'pasid-exhausted', to: 'mm:3' }]);
    expect(io.ctx().owner).toStrictEqual(before.owner);
    expect(io.ctx().tables['d1']).toStrictEqual({});
    expect(io.ctx().bonds).toStrictEqual(before.bonds);
  });
});

describe('iommu: seed-2021 refcounts', () => {
  it('first bind allocates with refs 1; a second bind is pasid.get refs 2; unbinds put; free at 0', () => {
    const io = iommu('seed-2021');
    expect(io.bind(1, 'd0')).toStrictEqual([
      { type: 'pasid.alloc', pasid: 1, mm: 1, to: 'mm:1' },
      { type: 'pasidtable.set', device: 'd0', pasid: 1, to: 'mm:1' },
      { type: 'iommu.bound', device: 'd0', pasid: 1, to: 'mm:1' },
    ]);
    expect(io.ctx().refs).toStrictEqual({ 1: 1 });
    expect(io.bind(1, 'd1', 1)).toStrictEqual([
      { type: 'pasid.get', pasid: 1, refs: 2, to: 'mm:1' },
      { type: 'pasidtable.set', device: 'd1', pasid: 1, to: 'mm:1' },
      { type: 'iommu.bound', device: 'd1', pasid: 1, to: 'mm:1' },
    ]);
    expect(io.unbind(1, 'd0', 1)).toStrictEqual([
      { type: 'pasidtable.clear', device: 'd0', pasid: 1, to: 'mm:1' },
      { type: 'pasid.put', pasid: 1, refs: 1, to: 'mm:1' },
      { type: 'iommu.unbound', device: 'd0', pasid: 1, to: 'mm:1' },
    ]);
    expect(io.ctx().owner).toStrictEqual({ 1: 1 });
    expect(io.unbind(1, 'd1', 1)).toStrictEqual([
      { type: 'pasidtable.clear', device: 'd1', pasid: 1, to: 'mm:1' },
      { type: 'pasid.put', pasid: 1, refs: 0, to: 'mm:1' },
      { type: 'pasid.free', pasid: 1, to: 'mm:1' },
      { type: 'iommu.unbound', device: 'd1', pasid: 1, to: 'mm:1' },
    ]);
    expect(io.ctx().owner).toStrictEqual({});
    expect(io.ctx().refs).toStrictEqual({});
  });

  it('the #GP fixup takes a task reference (iommu.get) and exit drops it (iommu.put)', () => {
    const io = iommu('seed-2021');
    io.bind(1, 'd0');
    io.actor.send({ type: 'iommu.get', mm: 1, pasid: 1, thread: 'T' });
    expect(io.take()).toStrictEqual([{ type: 'pasid.get', pasid: 1, refs: 2, thread: 'T', to: 'mm:1' }]);
    // The bind's reference goes; the task's keeps the PASID allocated.
    expect(types(io.unbind(1, 'd0', 1))).toStrictEqual(['pasidtable.clear', 'pasid.put', 'iommu.unbound']);
    expect(io.ctx().refs).toStrictEqual({ 1: 1 });
    io.actor.send({ type: 'iommu.put', mm: 1, pasid: 1, thread: 'T' });
    expect(io.take()).toStrictEqual([
      { type: 'pasid.put', pasid: 1, refs: 0, to: 'mm:1' },
      { type: 'pasid.free', pasid: 1, to: 'mm:1' },
    ]);
  });

  it('iommu.get on a PASID the mm does not own fails', () => {
    const io = iommu('seed-2021');
    io.bind(1, 'd0');
    io.actor.send({ type: 'iommu.get', mm: 2, pasid: 1, thread: 'U' });
    expect(io.take()).toStrictEqual([{ type: 'iommu.get_failed', pasid: 1, thread: 'U', to: 'mm:2' }]);
    io.actor.send({ type: 'iommu.get', mm: 1, pasid: 9, thread: 'T' });
    expect(io.take()).toStrictEqual([{ type: 'iommu.get_failed', pasid: 9, thread: 'T', to: 'mm:1' }]);
    expect(io.ctx().refs).toStrictEqual({ 1: 1 });
  });

  it('an unbind of count N drops N references', () => {
    const io = iommu('seed-2021');
    io.bind(1, 'd0');
    io.bind(1, 'd0', 1);
    io.bind(1, 'd0', 1);
    expect(io.ctx().refs).toStrictEqual({ 1: 3 });
    const out = io.unbind(1, 'd0', 1, 3);
    expect(types(out)).toStrictEqual(['pasidtable.clear', 'pasid.put', 'pasid.put', 'pasid.put', 'pasid.free', 'iommu.unbound']);
    expect(io.ctx().owner).toStrictEqual({});
  });
});

describe('iommu: merged', () => {
  it('no refcounts: later binds emit no pasid.get, unbind no pasid.put, the PASID stays until iommu.free', () => {
    const io = iommu('merged');
    expect(types(io.bind(1, 'd0'))).toStrictEqual(['pasid.alloc', 'pasidtable.set', 'iommu.bound']);
    expect(types(io.bind(1, 'd1', 1))).toStrictEqual(['pasidtable.set', 'iommu.bound']);
    expect(io.ctx().refs).toStrictEqual({});
    expect(types(io.unbind(1, 'd0', 1))).toStrictEqual(['pasidtable.clear', 'iommu.unbound']);
    expect(types(io.unbind(1, 'd1', 1))).toStrictEqual(['pasidtable.clear', 'iommu.unbound']);
    expect(io.ctx().owner).toStrictEqual({ 1: 1 });
    io.actor.send({ type: 'iommu.free', mm: 1, pasid: 1 });
    expect(io.take()).toStrictEqual([{ type: 'pasid.free', pasid: 1, to: 'mm:1' }]);
    expect(io.ctx().owner).toStrictEqual({});
  });

  it('iommu.free from an mm that does not own the PASID does nothing', () => {
    const io = iommu('merged');
    io.bind(1, 'd0');
    io.actor.send({ type: 'iommu.free', mm: 2, pasid: 1 });
    expect(io.take()).toStrictEqual([]);
    expect(io.ctx().owner).toStrictEqual({ 1: 1 });
  });
});

describe.each(['seed-2021', 'merged'] as const)('iommu (%s): bonds and the PASID table', (policy) => {
  it('bonds are counted per device: the entry is set at the first bond and cleared only at the last', () => {
    const io = iommu(policy);
    expect(types(io.bind(1, 'd0'))).toContain('pasidtable.set');
    expect(types(io.bind(1, 'd0', 1))).not.toContain('pasidtable.set');
    expect(types(io.bind(1, 'd1', 1))).toContain('pasidtable.set');
    expect(io.ctx().bonds).toStrictEqual({ d0: { 1: 2 }, d1: { 1: 1 } });
    expect(types(io.unbind(1, 'd0', 1))).not.toContain('pasidtable.clear');
    expect(io.ctx().tables['d0']?.[1]).toStrictEqual({ present: true, fpd: false });
    expect(io.ctx().bonds).toStrictEqual({ d0: { 1: 1 }, d1: { 1: 1 } });
    const last = io.unbind(1, 'd0', 1);
    expect(last).toContainEqual({ type: 'pasidtable.clear', device: 'd0', pasid: 1, to: 'mm:1' });
    expect(io.ctx().tables['d0']).toStrictEqual({});
    expect(io.ctx().tables['d1']?.[1]).toStrictEqual({ present: true, fpd: false });
    expect(io.ctx().bonds).toStrictEqual({ d0: {}, d1: { 1: 1 } });
  });

  it('translate: a present entry translates, a missing entry is DMAR fault 0x59 (not suppressed)', () => {
    const io = iommu(policy);
    io.bind(1, 'd0');
    io.actor.send({ type: 'iommu.translate', device: 'd0', pasid: 1, thread: 'T' });
    expect(io.take()).toStrictEqual([{ type: 'iommu.translated', device: 'd0', pasid: 1, thread: 'T', space: 1, to: 'wq:d0' }]);
    io.actor.send({ type: 'iommu.translate', device: 'd1', pasid: 1, thread: 'T' });
    const fault = io.take();
    expect(DMAR_REASON_PASID_ENTRY_NOT_PRESENT).toBe(0x59);
    expect(fault).toStrictEqual([{ type: 'fault.dmar', device: 'd1', pasid: 1, reason: 0x59, thread: 'T', to: 'wq:d1' }]);
    expect('suppressed' in (fault[0] ?? {})).toBe(false);
    // After the last unbind the entry is gone: the same DMA now faults.
    io.unbind(1, 'd0', 1);
    io.actor.send({ type: 'iommu.translate', device: 'd0', pasid: 1, thread: 'T' });
    expect(io.take()).toStrictEqual([{ type: 'fault.dmar', device: 'd0', pasid: 1, reason: 0x59, thread: 'T', to: 'wq:d0' }]);
  });

  it('teardown marks entries not-present with FPD (silent clears), then translation faults are suppressed', () => {
    const io = iommu(policy);
    io.bind(1, 'd1');
    io.bind(1, 'd0', 1);
    io.bind(2, 'd0'); // another mm's PASID 2 is untouched
    io.actor.send({ type: 'iommu.teardown', mm: 1, pasid: 1 });
    expect(io.take()).toStrictEqual([
      { type: 'pasidtable.clear', device: 'd0', pasid: 1, silent: true, to: 'mm:1' },
      { type: 'pasidtable.clear', device: 'd1', pasid: 1, silent: true, to: 'mm:1' },
      { type: 'iommu.torndown', pasid: 1, to: 'mm:1' },
    ]);
    expect(io.ctx().tables['d0']).toStrictEqual({ 1: { present: false, fpd: true }, 2: { present: true, fpd: false } });
    expect(io.ctx().tables['d1']).toStrictEqual({ 1: { present: false, fpd: true } });
    io.actor.send({ type: 'iommu.translate', device: 'd1', pasid: 1, thread: 'T' });
    expect(io.take()).toStrictEqual([
      { type: 'fault.dmar', device: 'd1', pasid: 1, reason: 0x59, suppressed: true, thread: 'T', to: 'wq:d1' },
    ]);
    io.actor.send({ type: 'iommu.translate', device: 'd0', pasid: 2, thread: 'U' });
    expect(types(io.take())).toStrictEqual(['iommu.translated']);
    // The later unbind removes the torn-down entry without another (non-silent) clear.
    const out = io.unbind(1, 'd1', 1);
    expect(types(out)).not.toContain('pasidtable.clear');
    expect(io.ctx().tables['d1']).toStrictEqual({});
  });

  it('teardown of a PASID the mm does not own clears nothing but still answers', () => {
    const io = iommu(policy);
    io.bind(1, 'd0');
    io.actor.send({ type: 'iommu.teardown', mm: 2, pasid: 1 });
    expect(io.take()).toStrictEqual([{ type: 'iommu.torndown', pasid: 1, to: 'mm:2' }]);
    expect(io.ctx().tables['d0']?.[1]).toStrictEqual({ present: true, fpd: false });
  });
});

// ---------------------------------------------------------------------------------------------------
// wq

function wq(over: Partial<WqInput> = {}) {
  const input: WqInput = { device: 'dsa0', wqSize: 4, threshold: 2, autoComplete: false, ...over };
  const actor = createActor(wqMachine, { input });
  const c = collector();
  actor.on('*', (e) => c.push(e));
  actor.start();
  const ctx = () => actor.getSnapshot().context;
  const submit = (thread: string, pasid: number): Outgoing[] => {
    actor.send({ type: 'wq.submit', thread, pasid });
    return c.take();
  };
  return { actor, take: c.take, ctx, submit };
}

describe('wq', () => {
  it('accepts while occupancy < threshold, then answers retry; the PASID is not checked', () => {
    const q = wq({ threshold: 2 });
    expect(q.submit('A', 1)).toStrictEqual([{ type: 'wq.accept', thread: 'A', pasid: 1, occupancy: 1, to: 'thread:A' }]);
    expect(q.submit('B', 999)).toStrictEqual([{ type: 'wq.accept', thread: 'B', pasid: 999, occupancy: 2, to: 'thread:B' }]);
    expect(q.submit('C', 1)).toStrictEqual([{ type: 'wq.retry', thread: 'C', occupancy: 2, to: 'thread:C' }]);
    expect(q.submit('C', 1)).toStrictEqual([{ type: 'wq.retry', thread: 'C', occupancy: 2, to: 'thread:C' }]);
    expect(q.ctx()).toMatchObject({ accepted: 2, retried: 2 });
    expect(q.ctx().queue).toStrictEqual([{ pasid: 1, thread: 'A' }, { pasid: 999, thread: 'B' }]);
  });

  it('without autoComplete nothing is translated until wq.execute; execute takes count descriptors FIFO', () => {
    const q = wq({ threshold: 4 });
    q.submit('A', 1);
    q.submit('B', 2);
    q.submit('C', 3);
    expect(q.take()).toStrictEqual([]);
    q.actor.send({ type: 'wq.execute', device: 'dsa0', count: 1 });
    expect(q.take()).toStrictEqual([{ type: 'iommu.translate', device: 'dsa0', pasid: 1, thread: 'A', to: 'iommu' }]);
    expect(q.ctx().queue).toHaveLength(2);
    // Space freed: a new submission is accepted again with occupancy 3.
    expect(types(q.submit('D', 4))).toStrictEqual(['wq.accept']);
    q.actor.send({ type: 'wq.execute', device: 'dsa0', count: 10 });
    expect(q.take().map((o) => (o.type === 'iommu.translate' ? o.thread : o.type))).toStrictEqual(['B', 'C', 'D']);
    expect(q.ctx().queue).toStrictEqual([]);
    expect(q.ctx().inflight).toStrictEqual([1, 2, 3, 4].map((pasid) => ({ pasid, count: 1 })));
    q.actor.send({ type: 'wq.execute', device: 'dsa0' });
    expect(q.take()).toStrictEqual([]);
  });

  it('execute without a count runs every queued descriptor', () => {
    const q = wq({ threshold: 3 });
    q.submit('A', 1);
    q.submit('A', 1);
    q.actor.send({ type: 'wq.execute', device: 'dsa0' });
    expect(types(q.take())).toStrictEqual(['iommu.translate', 'iommu.translate']);
    expect(q.ctx().inflight).toStrictEqual([{ pasid: 1, count: 2 }]);
  });

  it('autoComplete dispatches each accepted descriptor to the IOMMU at once', () => {
    const q = wq({ autoComplete: true, threshold: 1 });
    expect(q.submit('A', 1)).toStrictEqual([
      { type: 'wq.accept', thread: 'A', pasid: 1, occupancy: 1, to: 'thread:A' },
      { type: 'iommu.translate', device: 'dsa0', pasid: 1, thread: 'A', to: 'iommu' },
    ]);
    expect(q.ctx().queue).toStrictEqual([]);
    // Occupancy back to 0: a threshold-1 queue accepts again.
    expect(types(q.submit('B', 1))).toStrictEqual(['wq.accept', 'iommu.translate']);
  });

  it('a translated descriptor writes a completion record; a DMAR fault writes none', () => {
    const q = wq({ autoComplete: true });
    q.submit('A', 1);
    q.submit('B', 2);
    q.take();
    q.actor.send({ type: 'iommu.translated', device: 'dsa0', pasid: 1, thread: 'A' });
    expect(q.take()).toStrictEqual([{ type: 'wq.complete', thread: 'A', pasid: 1, to: 'thread:A' }]);
    q.actor.send({ type: 'fault.dmar', device: 'dsa0', pasid: 2, reason: 0x59, thread: 'B' });
    expect(q.take()).toStrictEqual([]);
    expect(q.ctx()).toMatchObject({ completed: 1, faulted: 1, inflight: [] });
  });

  it('drain with nothing of that PASID answers at once', () => {
    const q = wq();
    q.submit('A', 2);
    q.actor.send({ type: 'wq.drain', pasid: 1, mm: 7 });
    expect(q.take()).toStrictEqual([{ type: 'wq.drained', device: 'dsa0', pasid: 1, to: 'mm:7' }]);
    expect(q.ctx().queue).toStrictEqual([{ pasid: 2, thread: 'A' }]);
  });

  it('drain dispatches the queued descriptors of the PASID and waits for every in-flight one', () => {
    const q = wq({ threshold: 4 });
    q.submit('A', 1);
    q.submit('B', 2);
    q.submit('A', 1);
    q.actor.send({ type: 'wq.drain', pasid: 1, mm: 3 });
    expect(q.take()).toStrictEqual([
      { type: 'iommu.translate', device: 'dsa0', pasid: 1, thread: 'A', to: 'iommu' },
      { type: 'iommu.translate', device: 'dsa0', pasid: 1, thread: 'A', to: 'iommu' },
    ]);
    expect(q.ctx().queue).toStrictEqual([{ pasid: 2, thread: 'B' }]);
    q.actor.send({ type: 'iommu.translated', device: 'dsa0', pasid: 1, thread: 'A' });
    expect(types(q.take())).toStrictEqual(['wq.complete']); // one still in flight
    q.actor.send({ type: 'fault.dmar', device: 'dsa0', pasid: 1, reason: 0x59, thread: 'A' });
    expect(q.take()).toStrictEqual([{ type: 'wq.drained', device: 'dsa0', pasid: 1, to: 'mm:3' }]);
    expect(q.ctx().drains).toStrictEqual([]);
  });

  it('drain waits for descriptors already in flight (autoComplete)', () => {
    const q = wq({ autoComplete: true });
    q.submit('A', 1);
    q.take();
    q.actor.send({ type: 'wq.drain', pasid: 1, mm: 1 });
    expect(q.take()).toStrictEqual([]);
    // A completion of another PASID does not release it.
    q.submit('B', 2);
    q.take();
    q.actor.send({ type: 'iommu.translated', device: 'dsa0', pasid: 2, thread: 'B' });
    expect(types(q.take())).toStrictEqual(['wq.complete']);
    q.actor.send({ type: 'iommu.translated', device: 'dsa0', pasid: 1, thread: 'A' });
    expect(q.take()).toStrictEqual([
      { type: 'wq.complete', thread: 'A', pasid: 1, to: 'thread:A' },
      { type: 'wq.drained', device: 'dsa0', pasid: 1, to: 'mm:1' },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------
// mm

function mm(opts: { policy?: Partial<Policy>; cpu?: Partial<CpuFeatures>; lam?: LamState; threads?: string[] } = {}) {
  const input: MmInput = {
    id: 1,
    process: 'P',
    threads: opts.threads ?? ['P', 'T'],
    lam: opts.lam ?? LAM_OFF,
    policy: { pasid: 'seed-2021', lam: 'poc-2022', ...opts.policy },
    cpu: { enqcmd: true, lam: true, ...opts.cpu },
  };
  const actor = createActor(mmMachine, { input });
  const c = collector();
  actor.on('*', (e) => c.push(e));
  actor.start();
  const ctx = () => actor.getSnapshot().context;
  /** A successful bind, the test playing the IOMMU. */
  const bind = (device = 'dsa0', pasid = 1): void => {
    const hadPasid = ctx().pasid !== null;
    actor.send({ type: 'mm.bind', thread: 'P', device });
    const req = c.take();
    expect(req).toStrictEqual([{ type: 'iommu.bind', mm: 1, device, pasid: hadPasid ? pasid : null, to: 'iommu' }]);
    if (!hadPasid) actor.send({ type: 'pasid.alloc', pasid, mm: 1 });
    actor.send({ type: 'pasidtable.set', device, pasid });
    const file = `file:1.${ctx().nextFile}`;
    const fd = ctx().fds[device] === undefined ? device : `${device}.${Object.keys(ctx().fds).filter((k) => k === device || k.startsWith(`${device}.`)).length + 1}`;
    actor.send({ type: 'iommu.bound', device, pasid });
    // idxd_cdev_open: the file is born bound; bind maps its portal next (the test plays the file).
    expect(c.take()).toStrictEqual([
      { type: 'file.open', device, mm: 1, pasid, holder: `fd:P/${fd}`, safe: true, to: file },
      { type: 'file.mmap', thread: 'P', mm: 1, caps: [], holder: 'map:mm:1', reply: 'mm:1', to: file },
    ]);
    actor.send({ type: 'file.mapped', thread: 'P', device, file, holder: 'map:mm:1' });
    expect(c.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', to: 'thread:P' }]);
  };
  return { actor, take: c.take, ctx, bind, state: () => actor.getSnapshot().value };
}

describe('mm: the #GP handler', () => {
  it('seed-2021: with a PASID, a not-activated thread asks the IOMMU for a task reference first', () => {
    const m = mm();
    m.bind();
    m.actor.send({ type: 'trap.gp', thread: 'T', activated: false });
    expect(m.take()).toStrictEqual([{ type: 'iommu.get', mm: 1, pasid: 1, thread: 'T', to: 'iommu' }]);
    m.actor.send({ type: 'pasid.get', pasid: 1, refs: 2, thread: 'T' });
    expect(m.take()).toStrictEqual([
      { type: 'msr.write', thread: 'T', pasid: 1, to: 'thread:T' },
      { type: 'gp.fixup', thread: 'T', to: 'thread:T' },
    ]);
  });

  it('seed-2021: a failed get ends in SIGSEGV', () => {
    const m = mm();
    m.bind();
    m.actor.send({ type: 'trap.gp', thread: 'T', activated: false });
    m.take();
    m.actor.send({ type: 'iommu.get_failed', pasid: 1, thread: 'T' });
    expect(m.take()).toStrictEqual([{ type: 'signal.sigsegv', thread: 'T', reason: 'gp', to: 'thread:T' }]);
  });

  it('merged: writes the MSR and fixes up directly, no IOMMU reference', () => {
    const m = mm({ policy: { pasid: 'merged' } });
    m.bind('dsa0', 4);
    m.actor.send({ type: 'trap.gp', thread: 'T', activated: false });
    expect(m.take()).toStrictEqual([
      { type: 'msr.write', thread: 'T', pasid: 4, to: 'thread:T' },
      { type: 'gp.fixup', thread: 'T', to: 'thread:T' },
    ]);
  });

  it.each(['seed-2021', 'merged'] as const)('%s: an already activated thread gets SIGSEGV', (pasid) => {
    const m = mm({ policy: { pasid } });
    m.bind();
    m.actor.send({ type: 'trap.gp', thread: 'T', activated: true });
    expect(m.take()).toStrictEqual([{ type: 'signal.sigsegv', thread: 'T', reason: 'gp', to: 'thread:T' }]);
  });

  it.each(['seed-2021', 'merged'] as const)('%s: no PASID in the mm -> SIGSEGV', (pasid) => {
    const m = mm({ policy: { pasid } });
    m.actor.send({ type: 'trap.gp', thread: 'T', activated: false });
    expect(m.take()).toStrictEqual([{ type: 'signal.sigsegv', thread: 'T', reason: 'gp', to: 'thread:T' }]);
  });

  it.each(['seed-2021', 'merged'] as const)('%s: CPU without ENQCMD: no user SWQ (bind is ENOENT), #UD is SIGILL, a #GP is never fixed up', (pasid) => {
    const m = mm({ policy: { pasid }, cpu: { enqcmd: false } });
    m.actor.send({ type: 'mm.bind', thread: 'T', device: 'dsa0' });
    expect(m.take()).toStrictEqual([{ type: 'sys.return', thread: 'T', errno: 'ENOENT', reason: 'no-user-swq', to: 'thread:T' }]);
    m.actor.send({ type: 'trap.ud', thread: 'T' });
    expect(m.take()).toStrictEqual([{ type: 'signal.sigill', thread: 'T', to: 'thread:T' }]);
    m.actor.send({ type: 'trap.gp', thread: 'T', activated: false });
    expect(m.take()).toStrictEqual([{ type: 'signal.sigsegv', thread: 'T', reason: 'gp', to: 'thread:T' }]);
  });
});

describe('mm: portal store', () => {
  it('without a mapped portal for the device -> SIGSEGV (reason portal)', () => {
    const m = mm();
    m.actor.send({ type: 'portal.store', thread: 'T', device: 'dsa0', pasid: 1 });
    expect(m.take()).toStrictEqual([{ type: 'signal.sigsegv', thread: 'T', reason: 'portal', to: 'thread:T' }]);
    m.bind('dsa0');
    m.actor.send({ type: 'portal.store', thread: 'T', device: 'iax0', pasid: 1 });
    expect(m.take()).toStrictEqual([{ type: 'signal.sigsegv', thread: 'T', reason: 'portal', to: 'thread:T' }]);
  });

  it('with the portal mapped -> file.store to the mapping\'s file, with the MSR PASID (even a stale one) and the storing mm', () => {
    const m = mm();
    m.bind('dsa0');
    m.actor.send({ type: 'portal.store', thread: 'T', device: 'dsa0', pasid: 42 });
    expect(m.take()).toStrictEqual([{ type: 'file.store', thread: 'T', device: 'dsa0', pasid: 42, mm: 1, to: 'file:1.1' }]);
  });

  it('with two portals mapped, each store goes to the file its device\'s mapping came from', () => {
    const m = mm();
    m.bind('dsa0');
    m.bind('iax0');
    expect(m.ctx().maps).toStrictEqual([{ device: 'dsa0', file: 'file:1.1' }, { device: 'iax0', file: 'file:1.2' }]);
    m.actor.send({ type: 'portal.store', thread: 'T', device: 'iax0', pasid: 1 });
    expect(m.take()).toStrictEqual([{ type: 'file.store', thread: 'T', device: 'iax0', pasid: 1, mm: 1, to: 'file:1.2' }]);
    m.actor.send({ type: 'portal.store', thread: 'T', device: 'dsa0', pasid: 1 });
    expect(m.take()).toStrictEqual([{ type: 'file.store', thread: 'T', device: 'dsa0', pasid: 1, mm: 1, to: 'file:1.1' }]);
  });

  it('the file passes a store to its device as wq.submit with the storing mm while that mm maps it; otherwise SIGSEGV (portal) to the thread', () => {
    const out: Outgoing[] = [];
    const f = createActor(fileMachine, { input: { id: '1.1', device: 'dsa0', mm: 1, pasid: 1, holder: 'fd:P/dsa0', safe: true } });
    f.on('*', (e) => void out.push(e as Outgoing));
    f.start();
    // Not mapped by anyone yet: the store faults.
    f.send({ type: 'file.store', thread: 'T', device: 'dsa0', pasid: 1, mm: 1 });
    expect(out.splice(0)).toStrictEqual([{ type: 'signal.sigsegv', thread: 'T', reason: 'portal', to: 'thread:T' }]);
    f.send({ type: 'file.mmap', thread: 'P', mm: 1, caps: [], holder: 'map:mm:1', reply: 'mm:1' });
    expect(out.splice(0)).toStrictEqual([{ type: 'file.mapped', thread: 'P', device: 'dsa0', file: 'file:1.1', holder: 'map:mm:1', to: 'mm:1' }]);
    // Mapped by the storing mm: passed on with the PASID as stored (even a stale one) and that mm.
    f.send({ type: 'file.store', thread: 'T', device: 'dsa0', pasid: 42, mm: 1 });
    expect(out.splice(0)).toStrictEqual([{ type: 'wq.submit', thread: 'T', pasid: 42, mm: 1, to: 'wq:dsa0' }]);
    // Another mm's store (it holds only a descriptor, no map:mm:2): faults.
    f.send({ type: 'file.get', holder: 'fd:C/dsa0', reply: 'mm:2' });
    out.splice(0);
    f.send({ type: 'file.store', thread: 'C', device: 'dsa0', pasid: 1, mm: 2 });
    expect(out.splice(0)).toStrictEqual([{ type: 'signal.sigsegv', thread: 'C', reason: 'portal', to: 'thread:C' }]);
    // The mapping gone (munmap's put): the storing mm no longer holds map:mm:1, its store faults.
    f.send({ type: 'file.put', holder: 'map:mm:1', reply: 'mm:1' });
    expect(out.splice(0)).toStrictEqual([{ type: 'file.dropped', holder: 'map:mm:1', file: 'file:1.1', released: false, to: 'mm:1' }]);
    expect(f.getSnapshot().context.holders).not.toContain('map:mm:1');
    f.send({ type: 'file.store', thread: 'T', device: 'dsa0', pasid: 1, mm: 1 });
    expect(out.splice(0)).toStrictEqual([{ type: 'signal.sigsegv', thread: 'T', reason: 'portal', to: 'thread:T' }]);
  });

  it('unbind keeps the portal mapped (the DMAR hazard of reference/000)', () => {
    const m = mm();
    m.bind('dsa0');
    m.actor.send({ type: 'mm.unbind', thread: 'P', device: 'dsa0' });
    // The file's bond goes (the file unbinds it: machines/file.ts); descriptor and mapping stay.
    expect(m.take()).toStrictEqual([{ type: 'file.unbind', thread: 'P', reply: 'mm:1', to: 'file:1.1' }]);
    m.actor.send({ type: 'mm.drop', device: 'dsa0', file: 'file:1.1' });
    m.actor.send({ type: 'file.unbound', thread: 'P', file: 'file:1.1' });
    expect(m.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', to: 'thread:P' }]);
    expect(m.ctx().portals).toStrictEqual(['dsa0']);
    expect(m.ctx().grabs).toBe(0);
    expect(m.ctx().fds['dsa0']).toMatchObject({ file: 'file:1.1', bound: false });
    m.actor.send({ type: 'portal.store', thread: 'T', device: 'dsa0', pasid: 1 });
    expect(m.take()).toStrictEqual([{ type: 'file.store', thread: 'T', device: 'dsa0', pasid: 1, mm: 1, to: 'file:1.1' }]);
  });
});

describe('mm: bind and LAM', () => {
  it('poc-2022: bind refused with EBUSY while LAM is on and not forced; no IOMMU request', () => {
    const m = mm({ lam: { enabled: true, lockLam: false, force: false } });
    m.actor.send({ type: 'mm.bind', thread: 'P', device: 'dsa0' });
    expect(m.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', errno: 'EBUSY', reason: 'lam-not-dma-compatible', to: 'thread:P' }]);
    expect(m.ctx().pasid).toBeNull();
  });

  it('v6.4: bind refused with EBUSY while LAM is on and not forced', () => {
    const m = mm({ policy: { lam: 'v6.4' }, lam: { enabled: true, lockLam: true, force: false } });
    m.actor.send({ type: 'mm.bind', thread: 'P', device: 'dsa0' });
    expect(m.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', errno: 'EBUSY', reason: 'lam-not-dma-compatible', to: 'thread:P' }]);
  });

  it('with the force flag, LAM and bind coexist', () => {
    const m = mm({ lam: { enabled: true, lockLam: false, force: true } });
    m.bind();
    expect(m.ctx()).toMatchObject({ pasid: 1, bindings: { dsa0: 1 }, portals: ['dsa0'] });
  });

  it('LAM enabled through arch_prctl, then bind is refused; bind first, then enabling is refused', () => {
    const a = mm();
    a.actor.send({ type: 'mm.arch_prctl', thread: 'P', code: 0x4002, arg: 6 });
    expect(a.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', to: 'thread:P' }]);
    a.actor.send({ type: 'mm.bind', thread: 'P', device: 'dsa0' });
    expect(a.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', errno: 'EBUSY', reason: 'lam-not-dma-compatible', to: 'thread:P' }]);

    const b = mm();
    b.bind();
    b.actor.send({ type: 'mm.arch_prctl', thread: 'P', code: 0x4002, arg: 6 });
    expect(b.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', errno: 'EBUSY', reason: 'lam-pasid-not-forced', to: 'thread:P' }]);
    b.actor.send({ type: 'mm.arch_prctl', thread: 'P', code: 0x4001 });
    expect(b.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', value: '0xffffffffffffffff', to: 'thread:P' }]);
  });

  it('arch_prctl refusals carry the LAM check that refused, under each policy', () => {
    const ret = (errno: string, reason: string) => [{ type: 'sys.return', thread: 'P', errno, reason, to: 'thread:P' }];
    const off = mm({ policy: { lam: 'off' } });
    off.actor.send({ type: 'mm.arch_prctl', thread: 'P', code: 0x4002, arg: 6 });
    expect(off.take()).toStrictEqual(ret('EINVAL', 'no-address-masking'));

    const poc = mm();
    poc.actor.send({ type: 'mm.arch_prctl', thread: 'P', code: 0x4002, arg: 6 });
    expect(poc.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', to: 'thread:P' }]);
    poc.actor.send({ type: 'mm.arch_prctl', thread: 'P', code: 0x4002, arg: 6 });
    expect(poc.take()).toStrictEqual(ret('EBUSY', 'lam-already-enabled'));

    const v64 = mm({ policy: { lam: 'v6.4' } });
    v64.actor.send({ type: 'mm.clone', thread: 'P', new: 'U' });
    v64.take();
    v64.actor.send({ type: 'mm.arch_prctl', thread: 'P', code: 0x4002, arg: 6 });
    expect(v64.take()).toStrictEqual(ret('EBUSY', 'lam-locked'));
    v64.bind();
    v64.actor.send({ type: 'mm.arch_prctl', thread: 'P', code: 0x4002, arg: 6 });
    expect(v64.take()).toStrictEqual(ret('EINVAL', 'lam-pasid-not-forced'));
  });

  it('a failed IOMMU bind returns its errno and maps no portal', () => {
    const m = mm({ policy: { pasid: 'merged' } });
    m.actor.send({ type: 'mm.bind', thread: 'P', device: 'dsa0' });
    m.take();
    m.actor.send({ type: 'iommu.bind_failed', device: 'dsa0', errno: 'ENOSPC', reason: 'pasid-exhausted' });
    expect(m.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', errno: 'ENOSPC', reason: 'pasid-exhausted', to: 'thread:P' }]);
    expect(m.ctx()).toMatchObject({ pasid: null, portals: [], bindings: {} });
  });

  it('v6.4: clone sets LOCK_LAM on the mm', () => {
    const m = mm({ policy: { lam: 'v6.4' } });
    m.actor.send({ type: 'mm.clone', thread: 'P', new: 'U' });
    expect(m.take()).toStrictEqual([
      { type: 'thread.start', process: 'P', mm: 1, to: 'thread:U' },
      { type: 'sys.return', thread: 'P', to: 'thread:P' },
    ]);
    expect(m.ctx().lam.lockLam).toBe(true);
    expect(m.ctx().users).toStrictEqual(['P', 'T', 'U']);
  });
});

describe('mm: unbind, close and exit', () => {
  it('unbind of a device that is not bound -> EINVAL (not-bound); close of one neither bound nor mapped -> EINVAL (not-open)', () => {
    const m = mm();
    m.actor.send({ type: 'mm.unbind', thread: 'P', device: 'dsa0' });
    expect(m.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', errno: 'EINVAL', reason: 'not-bound', to: 'thread:P' }]);
    m.actor.send({ type: 'mm.close', thread: 'P', device: 'dsa0' });
    expect(m.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', errno: 'EINVAL', reason: 'not-open', to: 'thread:P' }]);
  });

  it('close {device} unmaps the portal and closes every descriptor of it, then returns once each put is done', () => {
    const m = mm();
    m.bind('dsa0');
    m.bind('dsa0');
    expect(Object.keys(m.ctx().fds)).toStrictEqual(['dsa0', 'dsa0.2']);
    m.actor.send({ type: 'mm.close', thread: 'P', device: 'dsa0' });
    expect(m.take()).toStrictEqual([
      { type: 'file.put', holder: 'map:mm:1', reply: 'mm:1', to: 'file:1.1' },
      { type: 'file.put', holder: 'map:mm:1', reply: 'mm:1', to: 'file:1.2' },
      { type: 'file.put', holder: 'fd:P/dsa0', reply: 'mm:1', to: 'file:1.1' },
      { type: 'file.put', holder: 'fd:P/dsa0.2', reply: 'mm:1', to: 'file:1.2' },
    ]);
    expect(m.ctx().portals).toStrictEqual([]);
    for (const [holder, file, released] of [['map:mm:1', 'file:1.1', false], ['map:mm:1', 'file:1.2', false], ['fd:P/dsa0', 'file:1.1', true]] as const) {
      m.actor.send({ type: 'file.dropped', holder, file, released });
      expect(m.take()).toStrictEqual([]);
    }
    m.actor.send({ type: 'file.dropped', holder: 'fd:P/dsa0.2', file: 'file:1.2', released: true });
    expect(m.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', to: 'thread:P' }]);
    expect(m.ctx().fds).toStrictEqual({});
  });

  it('close of an fd the process lacks is EBADF; close of a device it holds nothing of is EINVAL', () => {
    const m = mm();
    m.actor.send({ type: 'mm.close', thread: 'P', fd: 'nope' });
    expect(m.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', errno: 'EBADF', reason: 'bad-fd', to: 'thread:P' }]);
    m.actor.send({ type: 'mm.close', thread: 'P', device: 'dsa0' });
    expect(m.take()).toStrictEqual([{ type: 'sys.return', thread: 'P', errno: 'EINVAL', reason: 'not-open', to: 'thread:P' }]);
  });

  it('seed-2021: an activated thread leaving drops its reference; a non-activated one does not', () => {
    const m = mm();
    m.bind();
    m.actor.send({ type: 'mm.thread_exit', thread: 'T', fixedUp: true });
    expect(m.take()).toStrictEqual([{ type: 'iommu.put', mm: 1, pasid: 1, thread: 'T', to: 'iommu' }]);
    expect(m.ctx().users).toStrictEqual(['P']);
    const n = mm();
    n.bind();
    n.actor.send({ type: 'mm.thread_exit', thread: 'T', fixedUp: false });
    expect(n.take()).toStrictEqual([]);
  });

  it('merged: the last exit tears down, releases the bindings, then frees the PASID at drop', () => {
    const m = mm({ policy: { pasid: 'merged' }, threads: ['P'] });
    m.bind();
    m.actor.send({ type: 'mm.thread_exit', thread: 'P', fixedUp: true });
    expect(m.take()).toStrictEqual([{ type: 'iommu.teardown', mm: 1, pasid: 1, to: 'iommu' }]);
    m.actor.send({ type: 'iommu.torndown', pasid: 1 });
    // exit_mmap unmaps the portal, exit_files closes the descriptor: two puts of the file.
    expect(m.take()).toStrictEqual([
      { type: 'file.put', holder: 'map:mm:1', reply: 'mm:1', to: 'file:1.1' },
      { type: 'file.put', holder: 'fd:P/dsa0', reply: 'mm:1', to: 'file:1.1' },
    ]);
    m.actor.send({ type: 'file.dropped', holder: 'map:mm:1', file: 'file:1.1', released: false });
    // The last put released the file: its bond's mmdrop comes before the put returns (one channel).
    m.actor.send({ type: 'mm.drop', device: 'dsa0', file: 'file:1.1' });
    m.actor.send({ type: 'file.dropped', holder: 'fd:P/dsa0', file: 'file:1.1', released: true });
    expect(m.take()).toStrictEqual([{ type: 'iommu.free', mm: 1, pasid: 1, to: 'iommu' }]);
    m.actor.send({ type: 'pasid.free', pasid: 1 });
    expect(m.state()).toBe('dead');
    expect(m.ctx().pasid).toBeNull();
  });

  it('seed-2021: the drop frees nothing (the last ioasid_put does); a PASID still held then is left for S2 to report', () => {
    const m = mm({ threads: ['P'] });
    m.bind();
    m.actor.send({ type: 'mm.thread_exit', thread: 'P', fixedUp: false });
    m.actor.send({ type: 'iommu.torndown', pasid: 1 });
    m.take();
    m.actor.send({ type: 'file.dropped', holder: 'map:mm:1', file: 'file:1.1', released: false });
    // The IOMMU's pasid.put / pasid.free are not delivered here: the mm reaches its drop still holding PASID 1.
    m.actor.send({ type: 'mm.drop', device: 'dsa0', file: 'file:1.1' });
    m.actor.send({ type: 'file.dropped', holder: 'fd:P/dsa0', file: 'file:1.1', released: true });
    expect(m.take()).toStrictEqual([]);
    expect(m.state()).toBe('dead');
    expect(m.ctx().pasid).toBe(1);
  });
});

describe('G10: no descriptor is translated in another address space', () => {
  it('the release drains even after an unbind; a model that skips that drain makes G10 fire', () => {
    const s = loadScenarioFile(builtinPath('drain-after-unbind') ?? '');
    const good = runScenario(s);
    expect(good.ok).toBe(true);
    expect(good.violations).toHaveLength(0);
    // The pre-fix rule: drain only while still bound (idxd_file_dev_release drains for every shared WQ).
    // The pre-fix rule: the release drains only while the file is still bound.
    const skipDrain = fileMachine.provide({ guards: { drainsOnRelease: ({ context }) => context.sva } });
    const bad = runScenario(s, { machines: { file: skipDrain } });
    expect(bad.ok).toBe(false);
    const g10 = bad.failures.filter((f) => f.what === 'invariant G10');
    expect(g10).toHaveLength(1);
    expect(g10[0]?.got).toMatch(/^dsa0: a descriptor of thread A \(mm:1\) was translated through PASID 1 in mm:2's address space \(seq \d+\)$/);
  });
});
