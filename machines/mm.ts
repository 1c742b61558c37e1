/**
 * An address space (mm_struct) and the kernel code that runs against it: the syscalls of its threads
 * (bind / unbind / close via the device driver, clone / fork / exec / exit, arch_prctl), the #GP handler
 * (`try_fixup_enqcmd_gp`), the portal mapping, and the process teardown (`exit_mmap` -> `exit_files`
 * -> `__mmdrop`).
 *
 * Owns: the mm's PASID (none or one), the SVA bonds its files hold on it (`grabs`: mm_count beyond the
 * users'), the portals mapped in it, LAM state, live threads — and, for the process using it, the fd
 * table and the capabilities (the fd table moves to the new mm at exec: `kernel.exec` carries it).
 * Device files are actors of their own (machines/file.ts): the mm opens them (idxd_cdev_open after
 * binding SVA), and gets and puts their references (fork's dup_fd, close, munmap, exit_files).
 */
import { match } from 'ts-pattern';
import { assertEvent, enqueueActions, not, setup } from 'xstate';
import { archPrctl, bindRefusal, onCloneVm } from './lam.ts';
import type { TransitionMeta } from './citations.ts';
import { deactivate, freesAtMmdrop, gpFixup } from './pasid.ts';
import {
  ARCH_CODES,
  fileAddr,
  mmAddr,
  threadAddr,
  wqAddr,
  type Address,
  type CpuFeatures,
  type FdEntry,
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
  /** The process's fd table (fork: the parent's copy; exec: the one it had); absent: empty. */
  readonly fds?: Readonly<Record<string, FdEntry>>;
  /** The process's capabilities (CAP_SYS_RAWIO opens idxd_cdev_mmap's gate on unsafe devices). */
  readonly caps?: readonly string[];
  /** Devices that are not user-submission safe (their mmap needs CAP_SYS_RAWIO). */
  readonly unsafe?: readonly string[];
}

/** A portal mapped in this address space: the device and the file whose mapping it is (a reference). */
export interface Mapping {
  readonly device: string;
  readonly file: string;
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
  /** SVA bonds per device that this mm's files hold (bind calls whose bond is not gone yet). */
  readonly bindings: Readonly<Record<string, number>>;
  /** Devices whose user (limited) portal is mapped in this address space (from `maps`). */
  readonly portals: readonly string[];
  /** The portal mappings: each holds a reference to its file (VM_DONTCOPY: fork does not copy them). */
  readonly maps: readonly Mapping[];
  readonly lam: LamState;
  /** The thread whose multi-step syscall (open, mmap, close, unbind, fork, exec) is in progress. */
  readonly caller: string | null;
  /** exec: whether the exec'ing thread took the #GP fixup in this mm (seed-2021 drops its ref). */
  readonly callerFixedUp: boolean;
  /** The process's fd table: descriptor name -> file. */
  readonly fds: Readonly<Record<string, FdEntry>>;
  readonly caps: readonly string[];
  readonly unsafe: readonly string[];
  /** The next file this mm opens is `file:<id>.<nextFile>`. */
  readonly nextFile: number;
  /** mm_count beyond the users' reference: one per SVA bond on this mm (iommu_sva_domain_alloc's mmgrab). */
  readonly grabs: number;
  /** Replies still awaited (file.got / file.dropped) before the syscall or the teardown goes on. */
  readonly awaiting: number;
  /** An open in progress: the descriptor to install, and whether to map it (bind). */
  readonly opening: { readonly fd: string; readonly device: string; readonly cloexec: boolean; readonly map: boolean } | null;
  /** A fork waiting for dup_fd's references: the child's name. */
  readonly forking: string | null;
  /** exec left this mm: its fd table went with the process (exit_files is not this mm's). */
  readonly execed: boolean;
}

type MmEvent = Extract<
  Message,
  {
    type:
      | 'mm.clone' | 'mm.fork' | 'mm.exec' | 'mm.thread_exit' | 'mm.bind' | 'mm.unbind' | 'mm.close'
      | 'mm.open' | 'mm.mmap' | 'mm.munmap' | 'mm.close_on_exec'
      | 'mm.arch_prctl' | 'trap.gp' | 'trap.ud' | 'portal.store'
      | 'pasid.alloc' | 'pasid.get' | 'pasid.put' | 'pasid.free' | 'pasidtable.set' | 'pasidtable.clear'
      | 'iommu.bound' | 'iommu.bind_failed' | 'iommu.get_failed' | 'iommu.torndown'
      | 'file.mapped' | 'file.got' | 'file.dropped' | 'file.unbound' | 'mm.drop';
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

const without = <T>(xs: readonly T[], x: T): T[] => xs.filter((y) => y !== x);
const callerOf = (c: MmContext): string => {
  if (c.caller === null) throw new Error(`mm:${c.id}: reply with no syscall in progress`);
  return c.caller;
};
const self = (c: MmContext): Address => mmAddr(c.id);
/** A descriptor's reference as its file names it: `fd:<process>/<label>`. */
const fdHolder = (process: string, fd: string): string => `fd:${process}/${fd}`;
/** A portal mapping's reference: `map:mm:<id>`. */
const mapHolder = (c: MmContext): string => `map:mm:${c.id}`;
const portalsOf = (maps: readonly Mapping[]): string[] => [...new Set(maps.map((m) => m.device))];

/** bind's descriptor: named after the device, or (taken) the lowest free `<device>.<k>` — alloc_fd gives the lowest free number. */
function bindLabel(c: MmContext, device: string): string {
  if (c.fds[device] === undefined) return device;
  for (let k = 2; ; k++) if (c.fds[`${device}.${k}`] === undefined) return `${device}.${k}`;
}

/** Requests from threads that were killed while their syscall was queued: nobody is waiting for a reply. */
const ABSORB_REQUESTS = {
  'mm.clone': IGNORE, 'mm.fork': IGNORE, 'mm.exec': IGNORE, 'mm.bind': IGNORE, 'mm.unbind': IGNORE, 'mm.close': IGNORE,
  'mm.open': IGNORE, 'mm.mmap': IGNORE, 'mm.munmap': IGNORE, 'mm.close_on_exec': IGNORE,
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
    /** Every awaited reply (file.got, file.dropped) is in. */
    settled: ({ context }) => context.awaiting === 0,
    /** mm_count is the users' reference alone: no SVA bond holds this mm (__mmdrop can run). */
    ungrabbed: ({ context }) => context.grabs === 0,
    /** No ENQCMD: idxd_drv_enable_wq refuses every user shared WQ (wq_shared_supported is false),
     *  idxd_wq_add_cdev never runs, and open() of the device node fails in path lookup. */
    noUserSwq: ({ context }) => !context.cpu.enqcmd,
    lamRefuses: ({ context }) => bindRefusal(context.policy.lam, context.lam) !== null,
    fdInUse: ({ context, event }) => {
      assertEvent(event, 'mm.open');
      return context.fds[event.fd] !== undefined;
    },
    noSuchFd: ({ context, event }) => {
      assertEvent(event, ['mm.mmap', 'mm.close']);
      return event.fd !== undefined && context.fds[event.fd] === undefined;
    },
    nothingOpen: ({ context, event }) => {
      assertEvent(event, 'mm.close');
      const d = event.device;
      return event.fd === undefined && !Object.values(context.fds).some((f) => f.device === d) && !context.maps.some((m) => m.device === d);
    },
    noBoundFd: ({ context, event }) => {
      assertEvent(event, 'mm.unbind');
      return unbindTarget(context, event.device) === undefined;
    },
    mapOnOpen: ({ context }) => context.opening?.map === true,
    /**
     * The LAM PoC's iommu_sva_alloc_pasid held mmap_write_lock_killable across its LAM check and the
     * allocation, and prctl_enable_tagged_addr takes the same lock: an enable waits for a bind under way.
     * (v6.4 takes no such lock: LOCK_LAM keeps a multithreaded process from enabling LAM at all.)
     */
    pocEnableWaits: ({ context, event }) => {
      assertEvent(event, 'mm.arch_prctl');
      return context.policy.lam === 'poc-2022' && context.opening !== null && event.code === ARCH_CODES.ARCH_ENABLE_TAGGED_ADDR;
    },
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
    /**
     * The ENQCMD store walks this mm's page tables to the portal: no mapping -> SIGSEGV. A mapped portal
     * belongs to the file it was mapped from, which passes the store on to its device (file.store).
     */
    storeToPortal: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'portal.store');
      const map = context.maps.find((m) => m.device === event.device);
      if (map !== undefined) {
        enqueue.emit({ type: 'file.store', thread: event.thread, device: event.device, pasid: event.pasid, mm: context.id, to: map.file as Address });
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
    /** A thread leaves the mm (exit, or killed by exec): deactivate_mm() (seed-2021 drops its ref: pasid.ts `deactivate`). */
    threadLeaves: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.thread_exit');
      const put = deactivate(context.policy.pasid, event.fixedUp, context.pasid);
      if (put !== null) enqueue.emit({ type: 'iommu.put', mm: context.id, pasid: put, thread: event.thread, to: 'iommu' });
      enqueue.assign({ users: without(context.users, event.thread) });
    }),
    /** exc_invalid_op -> handle_invalid_op -> do_error_trap(…, X86_TRAP_UD, SIGILL, ILL_ILLOPN, …). */
    handleUd: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'trap.ud');
      enqueue.emit({ type: 'signal.sigill', thread: event.thread, to: threadAddr(event.thread) });
    }),
    setPasid: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'pasid.alloc');
      enqueue.assign({ pasid: event.pasid });
    }),
    clearPasid: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'pasid.free');
      if (context.pasid === event.pasid) enqueue.assign({ pasid: null });
    }),
    /** exec: kill every other thread of the process (de_thread) before switching mm. */
    startExec: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.exec');
      enqueue.assign({ caller: event.thread, callerFixedUp: event.fixedUp });
      for (const t of context.users) {
        if (t !== event.thread) enqueue.emit({ type: 'thread.kill', thread: t, to: threadAddr(t) });
      }
    }),
    /** merged: __mmdrop -> mm_pasid_drop(): the PASID goes back to the allocator (pasid.ts `freesAtMmdrop`). */
    dropPasid: enqueueActions(({ context, enqueue }) => {
      const pasid = context.pasid;
      if (pasid !== null && freesAtMmdrop(context.policy.pasid, pasid)) enqueue.emit({ type: 'iommu.free', mm: context.id, pasid, to: 'iommu' });
    }),
    refuseNoSwq: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, ['mm.bind', 'mm.open']);
      enqueue.emit(refuse(event.thread, { errno: 'ENOENT', reason: 'no-user-swq' }));
    }),
    /** LAM stands in the way of the bind (the guard asked `bindRefusal`): its errno and reason. */
    refuseLam: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, ['mm.bind', 'mm.open']);
      const r = bindRefusal(context.policy.lam, context.lam);
      if (r === null) throw new Error(`mm:${context.id}: refuseLam without a LAM refusal`);
      enqueue.emit(refuse(event.thread, r));
    }),
    refuseFdInUse: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'mm.open');
      enqueue.emit(refuse(event.thread, { errno: 'EINVAL', reason: 'fd-in-use' }));
    }),
    refuseBadFd: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, ['mm.mmap', 'mm.close']);
      enqueue.emit(refuse(event.thread, { errno: 'EBADF', reason: 'bad-fd' }));
    }),
    refuseNotOpen: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'mm.close');
      enqueue.emit(refuse(event.thread, { errno: 'EINVAL', reason: 'not-open' }));
    }),
    refuseNotBound: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'mm.unbind');
      enqueue.emit(refuse(event.thread, { errno: 'EINVAL', reason: 'not-bound' }));
    }),
    /** idxd_cdev_open: bind SVA on current->mm first (iommu_sva_bind_device). bind = open + mmap. */
    startOpen: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, ['mm.bind', 'mm.open']);
      const opening = event.type === 'mm.open'
        ? { fd: event.fd, device: event.device, cloexec: event.cloexec, map: false }
        : { fd: bindLabel(context, event.device), device: event.device, cloexec: false, map: true };
      enqueue.assign({ caller: event.thread, opening });
      enqueue.emit({ type: 'iommu.bind', mm: context.id, device: event.device, pasid: context.pasid, to: 'iommu' });
    }),
    /** Bound: the file is created (ctx->mm, ctx->pasid), its descriptor installed; the bond grabs this mm. */
    finishOpen: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'iommu.bound');
      const o = context.opening;
      if (o === null) throw new Error(`mm:${context.id}: iommu.bound with no open in progress`);
      const id = `${context.id}.${context.nextFile}`;
      const file = fileAddr(id);
      enqueue.emit({ type: 'file.open', device: o.device, mm: context.id, pasid: event.pasid, holder: fdHolder(context.process, o.fd), safe: !context.unsafe.includes(o.device), to: file });
      enqueue.assign({
        fds: { ...context.fds, [o.fd]: { file, device: o.device, cloexec: o.cloexec, bound: true } },
        bindings: { ...context.bindings, [o.device]: (context.bindings[o.device] ?? 0) + 1 },
        grabs: context.grabs + 1,
        nextFile: context.nextFile + 1,
      });
      if (o.map) {
        enqueue.emit({ type: 'file.mmap', thread: callerOf(context), mm: context.id, caps: context.caps, holder: mapHolder(context), reply: self(context), to: file });
      } else {
        enqueue.assign({ caller: null, opening: null });
        enqueue.emit(ret(callerOf(context)));
      }
    }),
    failOpen: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'iommu.bind_failed');
      enqueue.assign({ caller: null, opening: null });
      enqueue.emit(ret(callerOf(context), event.reason === undefined ? { errno: event.errno } : { errno: event.errno, reason: event.reason }));
    }),
    /** idxd_cdev_mmap of a descriptor: the file checks its gates. */
    startMmap: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.mmap');
      const fd = context.fds[event.fd];
      if (fd === undefined) throw new Error(`mm:${context.id}: mmap of ${event.fd}, which the guard found missing`);
      enqueue.assign({ caller: event.thread });
      enqueue.emit({ type: 'file.mmap', thread: event.thread, mm: context.id, caps: context.caps, holder: mapHolder(context), reply: self(context), to: fd.file as Address });
    }),
    /** The file answered the mmap: mapped (a reference), or refused (bind keeps its descriptor open and bound). */
    finishMmap: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'file.mapped');
      enqueue.assign({ caller: null, opening: null });
      if (event.errno !== undefined) {
        enqueue.emit(ret(callerOf(context), event.reason === undefined ? { errno: event.errno } : { errno: event.errno, reason: event.reason }));
        return;
      }
      const maps = [...context.maps, { device: event.device, file: event.file }];
      enqueue.assign({ maps, portals: portalsOf(maps) });
      enqueue.emit(ret(callerOf(context)));
    }),
    /** munmap of the device's portal: each mapping's reference goes (fput). */
    startMunmap: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.munmap');
      const gone = context.maps.filter((m) => m.device === event.device);
      const maps = context.maps.filter((m) => m.device !== event.device);
      enqueue.assign({ caller: event.thread, maps, portals: portalsOf(maps), awaiting: gone.length });
      for (const m of gone) enqueue.emit({ type: 'file.put', holder: mapHolder(context), reply: self(context), to: m.file as Address });
    }),
    /** close(fd), or close {device}: the device's portal unmapped and every descriptor of it closed. */
    startClose: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.close');
      const fds = { ...context.fds };
      const puts: { holder: string; file: string }[] = [];
      let maps = context.maps;
      if (event.fd !== undefined) {
        const f = fds[event.fd];
        if (f === undefined) throw new Error(`mm:${context.id}: close of ${event.fd}, which the guard found missing`);
        delete fds[event.fd];
        puts.push({ holder: fdHolder(context.process, event.fd), file: f.file });
      } else {
        for (const m of maps) if (m.device === event.device) puts.push({ holder: mapHolder(context), file: m.file });
        maps = maps.filter((m) => m.device !== event.device);
        for (const [label, f] of Object.entries(context.fds)) {
          if (f.device !== event.device) continue;
          delete fds[label];
          puts.push({ holder: fdHolder(context.process, label), file: f.file });
        }
      }
      enqueue.assign({ caller: event.thread, fds, maps, portals: portalsOf(maps), awaiting: puts.length });
      for (const p of puts) enqueue.emit({ type: 'file.put', holder: p.holder, reply: self(context), to: p.file as Address });
    }),
    /** A reply awaited (file.got, file.dropped) came in. */
    replied: enqueueActions(({ context, enqueue }) => {
      if (context.awaiting <= 0) throw new Error(`mm:${context.id}: a reply nobody awaited`);
      enqueue.assign({ awaiting: context.awaiting - 1 });
    }),
    returnOk: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ caller: null });
      enqueue.emit(ret(callerOf(context)));
    }),
    /** The scenario's driver-level unbind: the newest own bound descriptor's file drops its bond. */
    startUnbind: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.unbind');
      const label = unbindTarget(context, event.device);
      const f = label === undefined ? undefined : context.fds[label];
      if (label === undefined || f === undefined) throw new Error(`mm:${context.id}: unbind with no bound descriptor (the guard refuses that)`);
      enqueue.assign({ caller: event.thread, fds: { ...context.fds, [label]: { ...f, bound: false } } });
      enqueue.emit({ type: 'file.unbind', thread: event.thread, reply: self(context), to: f.file as Address });
    }),
    /** iommu_domain_free's mmdrop: a bond on this mm is gone. */
    dropGrab: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.drop');
      if (context.grabs <= 0) throw new Error(`mm:${context.id}: mm.drop with no grab`);
      enqueue.assign({
        grabs: context.grabs - 1,
        bindings: { ...context.bindings, [event.device]: Math.max(0, (context.bindings[event.device] ?? 0) - 1) },
      });
    }),
    /** fork: copy_files (dup_fd: get_file on every descriptor, acked) before copy_mm. */
    startFork: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.fork');
      const fds = Object.entries(context.fds);
      enqueue.assign({ caller: event.thread, forking: event.new, awaiting: fds.length });
      for (const [label, f] of fds) enqueue.emit({ type: 'file.get', holder: fdHolder(event.new, label), reply: self(context), to: f.file as Address });
    }),
    /** dup_mm: no PASID, no bonds, no portal (VM_DONTCOPY); LAM, the context flags, fds and caps are copied. */
    finishFork: enqueueActions(({ context, enqueue }) => {
      const child = context.forking;
      if (child === null) throw new Error(`mm:${context.id}: fork with no child`);
      const fds = Object.fromEntries(Object.entries(context.fds).map(([l, f]) => [l, { ...f, bound: false }]));
      enqueue.assign({ forking: null, caller: null });
      enqueue.emit({ type: 'kernel.fork', thread: callerOf(context), process: child, lam: context.lam, caps: context.caps, fds, to: 'kernel' });
    }),
    /** exec proper: deactivate_mm (seed-2021 drops the task ref), then a fresh mm with the fd table and caps. */
    finishExec: enqueueActions(({ context, enqueue }) => {
      const thread = callerOf(context);
      const put = deactivate(context.policy.pasid, context.callerFixedUp, context.pasid);
      if (put !== null) enqueue.emit({ type: 'iommu.put', mm: context.id, pasid: put, thread, to: 'iommu' });
      // The new image's descriptors are not its own opens (a bond stays the old mm's).
      const fds = Object.fromEntries(Object.entries(context.fds).map(([l, f]) => [l, { ...f, bound: false }]));
      enqueue.emit({ type: 'kernel.exec', thread, process: context.process, caps: context.caps, fds, to: 'kernel' });
      enqueue.assign({ users: without(context.users, thread), caller: null, callerFixedUp: false, fds: {}, execed: true });
    }),
    /** do_close_on_exec (the new mm, after exec_mmap): the O_CLOEXEC descriptors close. */
    startCloseOnExec: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'mm.close_on_exec');
      const fds = { ...context.fds };
      const puts: { holder: string; file: string }[] = [];
      for (const [label, f] of Object.entries(context.fds)) {
        if (!f.cloexec) continue;
        delete fds[label];
        puts.push({ holder: fdHolder(context.process, label), file: f.file });
      }
      enqueue.assign({ caller: event.thread, fds, awaiting: puts.length });
      // exec_mmap switched the task to this mm (IA32_PASID reset): the thread learns it before the return.
      enqueue.emit({ type: 'thread.exec', mm: context.id, to: threadAddr(event.thread) });
      for (const p of puts) enqueue.emit({ type: 'file.put', holder: p.holder, reply: self(context), to: p.file as Address });
    }),
    /** exit_mmap: entries torn down with fault-ignore (intel_mm_release). */
    startTeardown: enqueueActions(({ context, enqueue }) => {
      if (context.pasid !== null) enqueue.emit({ type: 'iommu.teardown', mm: context.id, pasid: context.pasid, to: 'iommu' });
    }),
    /** exit_mmap removes the portal mappings (fput each), then exit_files closes the process's descriptors. */
    putAll: enqueueActions(({ context, enqueue }) => {
      const puts: { holder: string; file: string }[] = context.maps.map((m) => ({ holder: mapHolder(context), file: m.file }));
      for (const [label, f] of Object.entries(context.fds)) puts.push({ holder: fdHolder(context.process, label), file: f.file });
      enqueue.assign({ maps: [], portals: [], fds: {}, awaiting: puts.length });
      for (const p of puts) enqueue.emit({ type: 'file.put', holder: p.holder, reply: self(context), to: p.file as Address });
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
    maps: [],
    lam: input.lam,
    caller: null,
    callerFixedUp: false,
    fds: input.fds ?? {},
    caps: input.caps ?? [],
    unsafe: input.unsafe ?? [],
    nextFile: 1,
    grabs: 0,
    awaiting: 0,
    opening: null,
    forking: null,
    execed: false,
  }),
  initial: 'alive',
  on: {
    // Replies that are informational for the mm, whatever state it is in.
    'pasid.free': { actions: 'clearPasid', meta: { cite: 'pasid-free' } },
    'pasid.put': IGNORE,
    'pasidtable.set': IGNORE,
    'pasidtable.clear': IGNORE,
    // A bond on this mm went (a file released or unbound): mm_count drops, in any state.
    'mm.drop': { actions: 'dropGrab', meta: { cite: 'mmgrab-drop' } },
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
        'mm.arch_prctl': { guard: not('pocEnableWaits'), actions: 'archPrctl', meta: { cite: 'arch-prctl' } },
        'mm.clone': { actions: 'cloneThread', meta: { cite: 'clone' } },
        // A thread other than the last may leave at any time; the last one only when no syscall is in flight.
        'mm.thread_exit': { guard: not('lastUserExits'), actions: 'threadLeaves', meta: { cite: 'exit-mm' } },
      },
      states: {
        idle: {
          description: 'No multi-step syscall in progress.',
          on: {
            'mm.open': [
              { guard: 'noUserSwq', actions: 'refuseNoSwq', meta: { cite: 'no-user-swq' } },
              { guard: 'fdInUse', actions: 'refuseFdInUse', meta: { cite: 'model-fd-label' } },
              { guard: 'lamRefuses', actions: 'refuseLam', meta: { cite: 'sva-lam-refusal' } },
              { target: 'binding', actions: 'startOpen', meta: { cite: 'idxd-open' } },
            ],
            'mm.bind': [
              { guard: 'noUserSwq', actions: 'refuseNoSwq', meta: { cite: 'no-user-swq' } },
              { guard: 'lamRefuses', actions: 'refuseLam', meta: { cite: 'sva-lam-refusal' } },
              { target: 'binding', actions: 'startOpen', meta: { cite: 'idxd-open' } },
            ],
            'mm.mmap': [
              { guard: 'noSuchFd', actions: 'refuseBadFd', meta: { cite: 'bad-fd' } },
              { target: 'mapping', actions: 'startMmap', meta: { cite: 'idxd-mmap' } },
            ],
            'mm.munmap': { target: 'putting', actions: 'startMunmap', meta: { cite: 'munmap' } },
            'mm.unbind': [
              { guard: 'noBoundFd', actions: 'refuseNotBound', meta: { cite: 'model-not-held' } },
              { target: 'unbinding', actions: 'startUnbind', meta: { cite: 'sva-unbind' } },
            ],
            'mm.close': [
              { guard: 'noSuchFd', actions: 'refuseBadFd', meta: { cite: 'bad-fd' } },
              { guard: 'nothingOpen', actions: 'refuseNotOpen', meta: { cite: 'model-not-held' } },
              { target: 'putting', actions: 'startClose', meta: { cite: 'close-fd' } },
            ],
            'mm.close_on_exec': { target: 'putting', actions: 'startCloseOnExec', meta: { cite: 'close-on-exec' } },
            'mm.fork': { target: 'forking', actions: 'startFork', meta: { cite: 'dup-fd' } },
            'mm.exec': { target: 'execWait', actions: 'startExec', meta: { cite: 'de-thread' } },
            'mm.thread_exit': [
              { guard: 'lastUserExits', target: '#mm.exiting', actions: 'threadLeaves', meta: { cite: 'exit-mmap' } },
              { actions: 'threadLeaves', meta: { cite: 'exit-mm' } },
            ],
          },
        },
        binding: {
          description: 'idxd_cdev_open: iommu_sva_bind_device() on current->mm (PASID allocation, PASID-table entry), then the file.',
          on: {
            'pasid.alloc': { actions: 'setPasid', meta: { cite: 'pasid-alloc' } },
            'iommu.bound': [
              { guard: ({ context }) => context.opening?.map === true, target: 'mapping', actions: 'finishOpen', meta: { cite: 'idxd-bound' } },
              { target: 'idle', actions: 'finishOpen', meta: { cite: 'idxd-bound' } },
            ],
            'iommu.bind_failed': { target: 'idle', actions: 'failOpen', meta: { cite: 'idxd-open' } },
          },
        },
        mapping: {
          description: 'idxd_cdev_mmap: the file checks CAP_SYS_RAWIO and that it is this mm\'s, then the portal is mapped.',
          on: { 'file.mapped': { target: 'idle', actions: 'finishMmap', meta: { cite: 'idxd-mmap' } } },
        },
        unbinding: {
          description: 'A driver-level unbind (iommu_sva_unbind_device): the file keeps its descriptor and mapping.',
          on: { 'file.unbound': { target: 'idle', actions: 'returnOk', meta: { cite: 'sva-unbind' } } },
        },
        putting: {
          description: 'close / munmap / do_close_on_exec: each reference put (a last one releases its file first).',
          always: { guard: 'settled', target: 'idle', actions: 'returnOk', meta: { cite: 'close-fd' } },
          on: { 'file.dropped': { actions: 'replied', meta: { cite: 'close-fd' } } },
        },
        forking: {
          description: 'fork: copy_files (get_file on every descriptor) before copy_mm.',
          always: { guard: 'settled', target: 'idle', actions: 'finishFork', meta: { cite: 'fork' } },
          on: { 'file.got': { actions: 'replied', meta: { cite: 'dup-fd' } } },
        },
        execWait: {
          description: 'exec: waiting for the other threads of the process to exit.',
          always: { guard: 'onlyCallerLeft', target: '#mm.exiting', actions: 'finishExec', meta: { cite: 'exec-mmap' } },
          on: { 'mm.thread_exit': { actions: 'threadLeaves', meta: { cite: 'exit-mm' } } },
        },
      },
    },
    exiting: {
      description: 'Last user gone (mmput): exit_mmap tears down PASID-table entries (silently) and unmaps the portals, exit_files closes the descriptors, then the users\' mmdrop.',
      initial: 'teardown',
      entry: 'startTeardown',
      on: ABSORB_REQUESTS,
      states: {
        teardown: {
          always: { guard: ({ context }) => context.pasid === null, target: 'putting', meta: { cite: 'exit-mmap' } },
          on: { 'iommu.torndown': { target: 'putting', meta: { cite: 'exit-mmap' } } },
        },
        putting: {
          entry: 'putAll',
          always: { guard: 'settled', target: 'dropped', meta: { cite: 'exit-files' } },
          on: { 'file.dropped': { actions: 'replied', meta: { cite: 'close-fd' } } },
        },
        dropped: {
          description: 'mm_users is 0. mm_count: held while an SVA bond grabs this mm (its file still open somewhere), then __mmdrop.',
          always: { guard: 'ungrabbed', target: 'dropping', meta: { cite: 'mmdrop' } },
        },
        dropping: {
          always: { guard: ({ context }) => !freesAtMmdrop(context.policy.pasid, context.pasid), target: '#mm.dead', meta: { cite: 'mmdrop' } },
          entry: 'dropPasid',
          on: { 'pasid.free': { target: '#mm.dead', actions: 'clearPasid', meta: { cite: 'mmdrop' } } },
        },
      },
    },
    dead: {
      description: 'mm_count reached zero (__mmdrop): the address space is gone. Late replies are dropped.',
      on: { ...ABSORB_REQUESTS, 'pasid.get': IGNORE, 'iommu.get_failed': IGNORE, 'iommu.torndown': IGNORE, 'file.got': IGNORE, 'file.dropped': IGNORE, 'file.unbound': IGNORE, 'file.mapped': IGNORE },
    },
  },
});

/** The descriptor a driver-level unbind acts on: the newest of this process's own bound ones for the device. */
function unbindTarget(c: MmContext, device: string): string | undefined {
  const own = Object.entries(c.fds).filter(([, f]) => f.device === device && f.bound);
  return own[own.length - 1]?.[0];
}
