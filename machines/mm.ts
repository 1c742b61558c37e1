/**
 * An address space (mm_struct) and the kernel code that runs against it: the syscalls of its threads
 * (bind / unbind / close via the device driver, clone / fork / exec / exit, arch_prctl), the #GP handler
 * (`try_fixup_enqcmd_gp`), the portal mapping, and the process teardown (`exit_mmap` -> `exit_files`
 * -> `__mmdrop`).
 *
 * Owns: the mm's PASID (none or one), bind calls per device, mapped portals, LAM state, live threads.
 */
import { match } from 'ts-pattern';
import { assertEvent, enqueueActions, not, setup } from 'xstate';
import { archPrctl, bindRefusal, onCloneVm } from './lam.ts';
import type { TransitionMeta } from './citations.ts';
import { deactivate, freesAtMmdrop, gpFixup } from './pasid.ts';
import {
  threadAddr,
  wqAddr,
  type CpuFeatures,
  type LamState,
  type Message,
  type Outgoing,
  type Policy,
  type Refused,
} from './protocol.ts';
import type { Refusal } from './refusals.ts';

/**
 * A message taken on purpose without effect: a transition with no target and no actions. It is enabled,
 * so the actor takes the message (src/runtime/actor.ts) instead of deferring it.
 */
const IGNORE = {} as const;

export interface MmInput {
  readonly id: number;
  readonly process: string;
  readonly threads: readonly string[];
  readonly lam: LamState;
  readonly policy: Policy;
  readonly cpu: CpuFeatures;
}

export interface MmContext {
  readonly id: number;
  readonly process: string;
  readonly policy: Policy;
  readonly cpu: CpuFeatures;
  /** mm->pasid: `null` = none (INVALID_IOASID; 0 in seed-2021). */
  readonly pasid: number | null;
  /** Live threads using this mm (mm_users). */
  readonly users: readonly string[];
  /** Successful bind calls per device not yet unbound. */
  readonly bindings: Readonly<Record<string, number>>;
  /** Devices whose user (limited) portal is mapped in this address space. */
  readonly portals: readonly string[];
  readonly lam: LamState;
  /** The thread whose multi-step syscall (bind, unbind, close, exec) is in progress. */
  readonly caller: string | null;
  /** exec: whether the exec'ing thread took the #GP fixup in this mm (seed-2021 drops its ref). */
  readonly callerFixedUp: boolean;
  /** Devices still to release (close, or exit_files at teardown), head first. */
  readonly release: readonly string[];
  /**
   * Per device, the PASID its file was bound with (idxd's `ctx->pasid`, set by `idxd_cdev_open`): the
   * release drains it even after a driver-level unbind (`idxd_file_dev_release`: "if (wq_shared(wq))
   * idxd_device_drain_pasid(idxd, ctx->pasid);", unconditional for a shared WQ). Kept until released.
   */
  readonly filePasid: Readonly<Record<string, number>>;
}

type MmEvent = Extract<
  Message,
  {
    type:
      | 'mm.clone' | 'mm.fork' | 'mm.exec' | 'mm.thread_exit' | 'mm.bind' | 'mm.unbind' | 'mm.close'
      | 'mm.arch_prctl' | 'trap.gp' | 'trap.ud' | 'portal.store'
      | 'pasid.alloc' | 'pasid.get' | 'pasid.put' | 'pasid.free' | 'pasidtable.set' | 'pasidtable.clear'
      | 'iommu.bound' | 'iommu.bind_failed' | 'iommu.get_failed' | 'iommu.unbound' | 'iommu.torndown'
      | 'wq.drained';
  }
>;

const ret = (thread: string, extra: Partial<Pick<Extract<Outgoing, { type: 'sys.return' }>, 'errno' | 'value' | 'reason'>> = {}): Outgoing => ({
  type: 'sys.return',
  thread,
  ...extra,
  to: threadAddr(thread),
});

/** A refused syscall returns its errno with the check that refused (machines/refusals.ts). */
const refuse = (thread: string, r: Refused): Outgoing => ret(thread, { errno: r.errno, reason: r.reason });

/** unbind / close of a device the mm does not hold: the model's own check (idxd has no such path). */
const NOT_HELD: Readonly<Record<'mm.unbind' | 'mm.close', Refusal>> = { 'mm.unbind': 'not-bound', 'mm.close': 'not-open' };

const without = <T>(xs: readonly T[], x: T): T[] => xs.filter((y) => y !== x);
const bound = (c: MmContext, device: string): number => c.bindings[device] ?? 0;
const callerOf = (c: MmContext): string => {
  if (c.caller === null) throw new Error(`mm:${c.id}: reply with no syscall in progress`);
  return c.caller;
};

/** The release of one device (idxd `release`): unmap the portal, drain the PASID, unbind what is left. */
const releaseStates = {
  initial: 'next',
  states: {
    next: {
      always: [
        { guard: 'releaseDone', target: 'done', meta: { cite: 'idxd-release' } },
        { guard: 'releaseHeadDrains', target: 'draining', actions: ['unmapReleaseHead', 'drainReleaseHead'], meta: { cite: 'idxd-drain' } },
        { actions: ['unmapReleaseHead', 'dropReleaseHead'], meta: { cite: 'idxd-release' } },
      ],
    },
    draining: {
      description: 'Drain PASID (always, for a shared WQ): the device finishes every descriptor of the file\'s PASID; then unbind if still bound.',
      on: {
        'wq.drained': [
          { guard: 'releaseHeadBound', target: 'unbinding', actions: 'unbindReleaseHead', meta: { cite: 'idxd-release-unbind' } },
          { target: 'next', actions: 'dropReleaseHead', meta: { cite: 'idxd-release' } },
        ],
      },
    },
    unbinding: {
      on: { 'iommu.unbound': { target: 'next', actions: 'dropReleaseHead', meta: { cite: 'sva-unbind' } } },
    },
    done: { type: 'final' },
  },
} as const;

/** Requests from threads that were killed while their syscall was queued: nobody is waiting for a reply. */
const ABSORB_REQUESTS = {
  'mm.clone': IGNORE, 'mm.fork': IGNORE, 'mm.exec': IGNORE, 'mm.bind': IGNORE, 'mm.unbind': IGNORE, 'mm.close': IGNORE,
  'mm.arch_prctl': IGNORE, 'trap.gp': IGNORE, 'trap.ud': IGNORE, 'portal.store': IGNORE,
} as const;

export const mmMachine = setup({
  types: {
    input: {} as MmInput,
    context: {} as MmContext,
    events: {} as MmEvent,
    emitted: {} as Outgoing,
    /** Each transition names the kernel code it models (machines/citations.ts). */
    transitionMeta: {} as TransitionMeta,
  },
  guards: {
    lastUserExits: ({ context, event }) => {
      assertEvent(event, 'mm.thread_exit');
      return context.users.length === 1 && context.users[0] === event.thread;
    },
    onlyCallerLeft: ({ context }) => context.users.length === 1 && context.users[0] === context.caller,
    releaseDone: ({ context }) => context.release.length === 0,
    /** idxd_file_dev_release: a file that was bound drains its PASID, bound or not any more (wq_shared). */
    releaseHeadDrains: ({ context }) => {
      const head = context.release[0];
      return head !== undefined && context.filePasid[head] !== undefined;
    },
    releaseHeadBound: ({ context }) => {
      const head = context.release[0];
      return head !== undefined && bound(context, head) > 0 && context.pasid !== null;
    },
    hasPasid: ({ context }) => context.pasid !== null,
  },
  actions: {
    /**
     * try_fixup_enqcmd_gp(): ENQCMD feature, mm has a PASID, thread not yet activated; then the policy's
     * fixup (machines/pasid.ts `gpFixup`): seed-2021 takes the task's reference first (may fail -> SIGSEGV).
     */
    handleGp: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'trap.gp');
      const to = threadAddr(event.thread);
      const pasid = context.pasid;
      if (!context.cpu.enqcmd || pasid === null || event.activated) {
        enqueue.emit({ type: 'signal.sigsegv', thread: event.thread, reason: 'gp', to });
        return;
      }
      match(gpFixup(context.policy.pasid))
        .with('take-ref', () => enqueue.emit({ type: 'iommu.get', mm: context.id, pasid, thread: event.thread, to: 'iommu' }))
        .with('write-msr', () => {
          enqueue.emit({ type: 'msr.write', thread: event.thread, pasid, to });
          enqueue.emit({ type: 'gp.fixup', thread: event.thread, to });
        })
        .exhaustive();
    }),
    /** seed-2021: the task reference is taken; write the MSR and return to re-execute. */
    finishSeedFixup: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'pasid.get');
      if (event.thread === undefined) throw new Error(`mm:${context.id}: finishSeedFixup on a bind's pasid.get (no thread)`);
      const to = threadAddr(event.thread);
      enqueue.emit({ type: 'msr.write', thread: event.thread, pasid: event.pasid, to });
      enqueue.emit({ type: 'gp.fixup', thread: event.thread, to });
    }),
    failSeedFixup: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'iommu.get_failed');
      enqueue.emit({ type: 'signal.sigsegv', thread: event.thread, reason: 'gp', to: threadAddr(event.thread) });
    }),
    /** The ENQCMD store walks this mm's page tables to the portal: no mapping -> SIGSEGV. */
    storeToPortal: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'portal.store');
      if (context.portals.includes(event.device)) {
        enqueue.emit({ type: 'wq.submit', thread: event.thread, pasid: event.pasid, mm: context.id, to: wqAddr(event.device) });
      } else {
        enqueue.emit({ type: 'signal.sigsegv', thread: event.thread, reason: 'portal', to: threadAddr(event.thread) });
      }
    }),
    archPrctl: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.arch_prctl');
      const out = archPrctl(context.policy.lam, context.cpu, context.lam, context.pasid !== null, event.code, event.arg);
      enqueue.assign({ lam: out.lam });
      const extra: { errno?: typeof out.errno; value?: typeof out.value; reason?: Refusal } = {};
      if (out.errno !== undefined) extra.errno = out.errno;
      if (out.value !== undefined) extra.value = out.value;
      if (out.reason !== undefined) extra.reason = out.reason;
      enqueue.emit(ret(event.thread, extra));
    }),
    cloneThread: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.clone');
      enqueue.assign({ users: [...context.users, event.new], lam: onCloneVm(context.policy.lam, context.lam) });
      enqueue.emit({ type: 'thread.start', process: context.process, mm: context.id, to: threadAddr(event.new) });
      enqueue.emit(ret(event.thread));
    }),
    forkProcess: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.fork');
      // dup_mm: no PASID, no bonds, no portal (VM_DONTCOPY); LAM and the context flags are copied.
      enqueue.emit({ type: 'kernel.fork', thread: event.thread, process: event.new, lam: context.lam, to: 'kernel' });
    }),
    /** A thread leaves the mm (exit, or killed by exec): deactivate_mm() (seed-2021 drops its ref: pasid.ts `deactivate`). */
    threadLeaves: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.thread_exit');
      const put = deactivate(context.policy.pasid, event.fixedUp, context.pasid);
      if (put !== null) enqueue.emit({ type: 'iommu.put', mm: context.id, pasid: put, thread: event.thread, to: 'iommu' });
      enqueue.assign({ users: without(context.users, event.thread) });
    }),
    startBind: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.bind');
      enqueue.assign({ caller: event.thread });
      enqueue.emit({ type: 'iommu.bind', mm: context.id, device: event.device, pasid: context.pasid, to: 'iommu' });
    }),
    /** The device node does not exist on a CPU without ENQCMD (no user shared WQ). */
    refuseNoSwq: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'mm.bind');
      enqueue.emit(refuse(event.thread, { errno: 'ENOENT', reason: 'no-user-swq' }));
    }),
    /** exc_invalid_op -> handle_invalid_op -> do_error_trap(…, X86_TRAP_UD, SIGILL, ILL_ILLOPN, …). */
    handleUd: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'trap.ud');
      enqueue.emit({ type: 'signal.sigill', thread: event.thread, to: threadAddr(event.thread) });
    }),
    /** LAM stands in the way of the bind (the guard asked `bindRefusal`): its errno and reason. */
    refuseBind: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.bind');
      const r = bindRefusal(context.policy.lam, context.lam);
      if (r === null) throw new Error(`mm:${context.id}: refuseBind without a LAM refusal`);
      enqueue.emit(refuse(event.thread, r));
    }),
    setPasid: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'pasid.alloc');
      enqueue.assign({ pasid: event.pasid });
    }),
    clearPasid: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'pasid.free');
      if (context.pasid === event.pasid) enqueue.assign({ pasid: null });
    }),
    /** Bound: the driver maps the user portal (idxd mmap, one page, limited portal). */
    finishBind: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'iommu.bound');
      const portals = context.portals.includes(event.device) ? context.portals : [...context.portals, event.device];
      enqueue.assign({
        bindings: { ...context.bindings, [event.device]: bound(context, event.device) + 1 },
        portals,
        filePasid: { ...context.filePasid, [event.device]: context.filePasid[event.device] ?? event.pasid },
        caller: null,
      });
      enqueue.emit(ret(callerOf(context)));
    }),
    failBind: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'iommu.bind_failed');
      enqueue.assign({ caller: null });
      enqueue.emit(ret(callerOf(context), event.reason === undefined ? { errno: event.errno } : { errno: event.errno, reason: event.reason }));
    }),
    startUnbind: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.unbind');
      if (context.pasid === null) throw new Error(`mm:${context.id}: startUnbind with no PASID (the transition's guard refuses that)`);
      enqueue.assign({
        caller: event.thread,
        bindings: { ...context.bindings, [event.device]: bound(context, event.device) - 1 },
      });
      enqueue.emit({ type: 'iommu.unbind', mm: context.id, device: event.device, pasid: context.pasid, count: 1, to: 'iommu' });
    }),
    returnOk: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ caller: null });
      enqueue.emit(ret(callerOf(context)));
    }),
    returnEinval: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, ['mm.unbind', 'mm.close']);
      enqueue.emit(refuse(event.thread, { errno: 'EINVAL', reason: NOT_HELD[event.type] }));
    }),
    startClose: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'mm.close');
      enqueue.assign({ caller: event.thread, release: [event.device] });
    }),
    unmapReleaseHead: enqueueActions(({ context, enqueue }) => {
      const head = context.release[0];
      if (head !== undefined) enqueue.assign({ portals: without(context.portals, head) });
    }),
    drainReleaseHead: enqueueActions(({ context, enqueue }) => {
      const head = context.release[0];
      const pasid = head === undefined ? undefined : context.filePasid[head];
      if (head === undefined || pasid === undefined) throw new Error(`mm:${context.id}: drain with no file PASID`);
      enqueue.emit({ type: 'wq.drain', pasid, mm: context.id, to: wqAddr(head) });
    }),
    unbindReleaseHead: enqueueActions(({ context, enqueue }) => {
      const head = context.release[0];
      if (head === undefined || context.pasid === null) return;
      enqueue.assign({ bindings: { ...context.bindings, [head]: 0 } });
      enqueue.emit({ type: 'iommu.unbind', mm: context.id, device: head, pasid: context.pasid, count: bound(context, head), to: 'iommu' });
    }),
    dropReleaseHead: enqueueActions(({ context, enqueue }) => {
      const head = context.release[0];
      const filePasid = { ...context.filePasid };
      if (head !== undefined) delete filePasid[head];
      enqueue.assign({ release: context.release.slice(1), filePasid });
    }),
    /** exec: kill every other thread of the process (de_thread) before switching mm. */
    startExec: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.exec');
      enqueue.assign({ caller: event.thread, callerFixedUp: event.fixedUp });
      for (const t of context.users) {
        if (t !== event.thread) enqueue.emit({ type: 'thread.kill', thread: t, to: threadAddr(t) });
      }
    }),
    /** exec proper: deactivate_mm (seed-2021 drops the task ref: pasid.ts `deactivate`), then a fresh mm from the kernel. */
    finishExec: enqueueActions(({ context, enqueue }) => {
      const thread = callerOf(context);
      const put = deactivate(context.policy.pasid, context.callerFixedUp, context.pasid);
      if (put !== null) enqueue.emit({ type: 'iommu.put', mm: context.id, pasid: put, thread, to: 'iommu' });
      enqueue.emit({ type: 'kernel.exec', thread, process: context.process, to: 'kernel' });
      enqueue.assign({ users: without(context.users, thread), caller: null, callerFixedUp: false });
    }),
    /** exit_mmap -> mmu_notifier_release -> intel_mm_release: entries torn down with fault-ignore. */
    startTeardown: enqueueActions(({ context, enqueue }) => {
      const devices = [...new Set([...Object.keys(context.bindings).filter((d) => bound(context, d) > 0), ...context.portals])].sort();
      enqueue.assign({ release: devices });
      if (context.pasid !== null) enqueue.emit({ type: 'iommu.teardown', mm: context.id, pasid: context.pasid, to: 'iommu' });
    }),
    /** merged: __mmdrop -> mm_pasid_drop(): the PASID goes back to the allocator (pasid.ts `freesAtMmdrop`). */
    dropPasid: enqueueActions(({ context, enqueue }) => {
      const pasid = context.pasid;
      if (pasid !== null && freesAtMmdrop(context.policy.pasid, pasid)) enqueue.emit({ type: 'iommu.free', mm: context.id, pasid, to: 'iommu' });
    }),
  },
}).createMachine({
  id: 'mm',
  context: ({ input }) => ({
    id: input.id,
    process: input.process,
    policy: input.policy,
    cpu: input.cpu,
    pasid: null,
    users: [...input.threads],
    bindings: {},
    portals: [],
    lam: input.lam,
    caller: null,
    callerFixedUp: false,
    release: [],
    filePasid: {},
  }),
  initial: 'alive',
  on: {
    // Replies that are informational for the mm, whatever state it is in.
    'pasid.free': { actions: 'clearPasid', meta: { cite: 'pasid-free' } },
    'pasid.put': IGNORE,
    'pasidtable.set': IGNORE,
    'pasidtable.clear': IGNORE,
  },
  states: {
    alive: {
      initial: 'idle',
      on: {
        'trap.gp': { actions: 'handleGp', meta: { cite: 'gp-fixup' } },
        'trap.ud': { actions: 'handleUd', meta: { cite: 'ud-sigill' } },
        'pasid.get': [{ guard: ({ event }) => event.thread !== undefined, actions: 'finishSeedFixup', meta: { cite: 'msr-write' } }, IGNORE],
        'iommu.get_failed': { actions: 'failSeedFixup', meta: { cite: 'seed-fixup-ref' } },
        'portal.store': { actions: 'storeToPortal', meta: { cite: 'enqcmd-store' } },
        'mm.arch_prctl': { actions: 'archPrctl', meta: { cite: 'arch-prctl' } },
        'mm.clone': { actions: 'cloneThread', meta: { cite: 'clone' } },
        'mm.fork': { actions: 'forkProcess', meta: { cite: 'fork' } },
        // A thread other than the last may leave at any time; the last one only when no syscall is in flight.
        'mm.thread_exit': { guard: not('lastUserExits'), actions: 'threadLeaves', meta: { cite: 'exit-mm' } },
      },
      states: {
        idle: {
          description: 'No multi-step syscall in progress.',
          on: {
            'mm.bind': [
              // No ENQCMD: idxd_drv_enable_wq refuses every user shared WQ (wq_shared_supported is false),
              // idxd_wq_add_cdev never runs, and open() of the device node fails in path lookup: ENOENT.
              { guard: ({ context }) => !context.cpu.enqcmd, actions: 'refuseNoSwq', meta: { cite: 'no-user-swq' } },
              { guard: ({ context }) => bindRefusal(context.policy.lam, context.lam) !== null, actions: 'refuseBind', meta: { cite: 'sva-lam-refusal' } },
              { target: 'binding', actions: 'startBind', meta: { cite: 'idxd-open' } },
            ],
            'mm.unbind': [
              { guard: ({ context, event }) => bound(context, event.device) === 0 || context.pasid === null, actions: 'returnEinval', meta: { cite: 'model-not-held' } },
              { target: 'unbinding', actions: 'startUnbind', meta: { cite: 'sva-unbind' } },
            ],
            'mm.close': [
              {
                guard: ({ context, event }) => bound(context, event.device) === 0 && !context.portals.includes(event.device),
                actions: 'returnEinval',
                meta: { cite: 'model-not-held' },
              },
              { target: 'closing', actions: 'startClose', meta: { cite: 'idxd-release' } },
            ],
            'mm.exec': { target: 'execWait', actions: 'startExec', meta: { cite: 'de-thread' } },
            'mm.thread_exit': [
              { guard: 'lastUserExits', target: '#mm.exiting', actions: 'threadLeaves', meta: { cite: 'exit-mmap' } },
              { actions: 'threadLeaves', meta: { cite: 'exit-mm' } },
            ],
          },
        },
        binding: {
          description: 'iommu_sva_bind_device(): waiting for the IOMMU (PASID allocation, PASID-table entry).',
          on: {
            'pasid.alloc': { actions: 'setPasid', meta: { cite: 'pasid-alloc' } },
            'iommu.bound': { target: 'idle', actions: 'finishBind', meta: { cite: 'idxd-bound' } },
            'iommu.bind_failed': { target: 'idle', actions: 'failBind', meta: { cite: 'idxd-open' } },
          },
        },
        unbinding: {
          description: 'iommu_sva_unbind_device(): the portal stays mapped.',
          on: {
            'iommu.unbound': { target: 'idle', actions: 'returnOk', meta: { cite: 'sva-unbind' } },
          },
        },
        closing: {
          description: 'idxd release: munmap the portal, drain the PASID, unbind.',
          ...releaseStates,
          onDone: { target: 'idle', actions: 'returnOk', meta: { cite: 'idxd-release' } },
        },
        execWait: {
          description: 'exec: waiting for the other threads of the process to exit.',
          always: { guard: 'onlyCallerLeft', target: '#mm.exiting', actions: 'finishExec', meta: { cite: 'exec-mmap' } },
          on: { 'mm.thread_exit': { actions: 'threadLeaves', meta: { cite: 'exit-mm' } } },
        },
      },
    },
    exiting: {
      description: 'Last user gone: exit_mmap tears down PASID-table entries (silently), exit_files releases the devices, then __mmdrop.',
      initial: 'teardown',
      entry: 'startTeardown',
      on: ABSORB_REQUESTS,
      states: {
        teardown: {
          always: { guard: ({ context }) => context.pasid === null, target: 'releasing', meta: { cite: 'exit-files' } },
          on: { 'iommu.torndown': { target: 'releasing', meta: { cite: 'exit-files' } } },
        },
        releasing: {
          ...releaseStates,
          onDone: { target: 'dropping', meta: { cite: 'mmdrop' } },
        },
        dropping: {
          always: { guard: ({ context }) => !freesAtMmdrop(context.policy.pasid, context.pasid), target: '#mm.dead', meta: { cite: 'mmdrop' } },
          entry: 'dropPasid',
          on: { 'pasid.free': { target: '#mm.dead', actions: 'clearPasid', meta: { cite: 'mmdrop' } } },
        },
      },
    },
    dead: {
      description: 'mm_count reached zero: the address space is gone. Late replies are dropped.',
      on: { ...ABSORB_REQUESTS, 'pasid.get': IGNORE, 'iommu.get_failed': IGNORE, 'iommu.unbound': IGNORE, 'iommu.torndown': IGNORE, 'wq.drained': IGNORE },
    },
  },
});
