/**
 * A thread (task_struct): the CPU side of ENQCMD and the syscall entry of every scenario step.
 *
 * - `msr` is IA32_PASID (MSR 0xD93): `null` while its valid bit is clear.
 * - `activated` is `current->pasid_activated` (merged) / `current->has_valid_pasid` (seed-2021): set
 *   by the #GP fixup, never cleared (not even by exec: only `dup_task_struct` in kernel/fork.c resets it).
 * - A new thread (clone, fork) starts with msr unset and not activated: nothing is inherited.
 */
import { assertEvent, assign, emit, setup } from 'xstate';
import type { TransitionMeta } from './citations.ts';
import { mmAddr, type Message, type MessageOf, type Outgoing } from './protocol.ts';

/**
 * A message taken on purpose without effect: a transition with no target and no actions. It is enabled,
 * so the actor takes the message (src/runtime/actor.ts) instead of deferring it.
 */
const IGNORE = {} as const;

export interface ThreadInput {
  readonly name: string;
  readonly process: string;
  readonly mm: number;
  /** The CPU has the ENQCMD instruction (`cpu.enqcmd`); absent: it has. */
  readonly enqcmd?: boolean;
}

export interface ThreadContext {
  readonly name: string;
  readonly process: string;
  readonly mm: number;
  readonly msr: number | null;
  readonly activated: boolean;
  /** The CPU decodes ENQCMD; without it the instruction raises #UD before anything else. */
  readonly enqcmd: boolean;
  /** The device of an ENQCMD that raised #GP, kept until the handler answers (fixup: re-executed; SIGSEGV: dropped). */
  readonly device: string | null;
  /** Completion records the devices wrote for this thread. */
  readonly completions: number;
}

type ThreadEvent = Exclude<Message, { type: 'sys.spawn' | 'wq.execute' }>;
/** The syscalls a thread runs against current->mm (exit and ENQCMD are the thread's own transitions). */
const MM_SYSCALLS = ['sys.clone', 'sys.fork', 'sys.exec', 'sys.bind', 'sys.unbind', 'sys.close', 'sys.open', 'sys.mmap', 'sys.munmap', 'sys.arch_prctl'] as const;
type SyscallInput = MessageOf<(typeof MM_SYSCALLS)[number]>;

const toMm = (c: ThreadContext): Outgoing['to'] => mmAddr(c.mm);

/** The request a syscall becomes in the context of current->mm. */
function syscallToMm(c: ThreadContext, e: SyscallInput): Outgoing {
  const to = toMm(c);
  switch (e.type) {
    case 'sys.clone':
      return { type: 'mm.clone', thread: c.name, new: e.new, to };
    case 'sys.fork':
      return { type: 'mm.fork', thread: c.name, new: e.new, to };
    case 'sys.exec':
      return { type: 'mm.exec', thread: c.name, fixedUp: c.msr !== null, to };
    case 'sys.bind':
      return { type: 'mm.bind', thread: c.name, device: e.device, to };
    case 'sys.unbind':
      return { type: 'mm.unbind', thread: c.name, device: e.device, to };
    case 'sys.close':
      return e.fd !== undefined ? { type: 'mm.close', thread: c.name, fd: e.fd, to } : { type: 'mm.close', thread: c.name, ...(e.device === undefined ? {} : { device: e.device }), to };
    case 'sys.open':
      return { type: 'mm.open', thread: c.name, device: e.device, fd: e.fd, cloexec: e.cloexec === true, to };
    case 'sys.mmap':
      return { type: 'mm.mmap', thread: c.name, fd: e.fd, to };
    case 'sys.munmap':
      return { type: 'mm.munmap', thread: c.name, device: e.device, to };
    case 'sys.arch_prctl':
      return e.arg === undefined
        ? { type: 'mm.arch_prctl', thread: c.name, code: e.code, to }
        : { type: 'mm.arch_prctl', thread: c.name, code: e.code, arg: e.arg, to };
  }
}

export const threadMachine = setup({
  types: {
    input: {} as ThreadInput,
    context: {} as ThreadContext,
    events: {} as ThreadEvent,
    emitted: {} as Outgoing,
    /** Each transition names the kernel code it models (machines/citations.ts). */
    transitionMeta: {} as TransitionMeta,
  },
  guards: {
    msrInvalid: ({ context }) => context.msr === null,
    /** CPUID.(EAX=07H,ECX=0):ECX.ENQCMD is 0: the instruction is undefined (#UD), whatever IA32_PASID holds. */
    noEnqcmd: ({ context }) => !context.enqcmd,
  },
  actions: {
    /** A syscall enters the kernel and runs against current->mm. */
    enterSyscall: emit(({ context, event }) => {
      assertEvent(event, MM_SYSCALLS);
      return syscallToMm(context, event);
    }),
    /** ENQCMD on a CPU without it: #UD, handled by exc_invalid_op in the context of current->mm. */
    raiseUd: emit(({ context }) => ({ type: 'trap.ud', thread: context.name, to: toMm(context) }) as const),
    /** ENQCMD with IA32_PASID invalid: #GP before any store (the device is kept to re-execute). */
    raiseGp: emit(({ context }) => ({ type: 'trap.gp', thread: context.name, activated: context.activated, to: toMm(context) }) as const),
    keepDevice: assign({
      device: ({ event }) => {
        assertEvent(event, 'insn.enqcmd');
        return event.device;
      },
    }),
    /** ENQCMD with a valid IA32_PASID (or re-executed after the fixup): the store goes to the portal. */
    storeToPortal: emit(({ context, event }) => {
      assertEvent(event, ['insn.enqcmd', 'gp.fixup']);
      const device = event.type === 'insn.enqcmd' ? event.device : context.device;
      if (device === null || context.msr === null) throw new Error(`thread ${context.name}: ENQCMD store with no device or no PASID`);
      return { type: 'portal.store', thread: context.name, device, pasid: context.msr, to: toMm(context) } as const;
    }),
    writeMsr: assign({
      msr: ({ event }) => {
        assertEvent(event, 'msr.write');
        return event.pasid;
      },
      activated: true,
    }),
    exitThread: emit(({ context }) => ({
      // deactivate_mm(): the thread's ref (seed-2021) is the one it took by its fixup in this mm. After
      // exec the flag is stale but the MSR was reset, so it holds no ref in the new mm (SPEC §2).
      type: 'mm.thread_exit', thread: context.name, fixedUp: context.msr !== null, to: toMm(context),
    }) as const),
    /** A syscall or instruction on a thread that has exited. */
    answerEsrch: emit(({ context }) => ({ type: 'sys.return', thread: context.name, errno: 'ESRCH', reason: 'thread-exited', to: 'user' }) as const),
    /** Exec: a fresh mm; IA32_PASID back to init (fpu_reset_fpregs); pasid_activated untouched. */
    execInto: assign(({ event }) => {
      assertEvent(event, 'thread.exec');
      return { mm: event.mm, msr: null, device: null };
    }),
    countCompletion: assign({ completions: ({ context }) => context.completions + 1 }),
    forgetDevice: assign({ device: null }),
  },
}).createMachine({
  id: 'thread',
  context: ({ input }) => ({
    name: input.name,
    process: input.process,
    mm: input.mm,
    msr: null,
    activated: false,
    enqcmd: input.enqcmd ?? true,
    device: null,
    completions: 0,
  }),
  initial: 'running',
  on: {
    // Completion records can land at any time, even after the submitter moved on or exited.
    'wq.complete': { actions: 'countCompletion', meta: { cite: 'dsa-completion' } },
  },
  states: {
    running: {
      description: 'In user mode, ready for the next step of its program.',
      on: {
        'sys.clone': { target: 'syscall', actions: 'enterSyscall', meta: { cite: 'clone' } },
        'sys.fork': { target: 'syscall', actions: 'enterSyscall', meta: { cite: 'fork' } },
        'sys.exec': { target: 'syscall', actions: 'enterSyscall', meta: { cite: 'execve' } },
        'sys.bind': { target: 'syscall', actions: 'enterSyscall', meta: { cite: 'idxd-open' } },
        'sys.unbind': { target: 'syscall', actions: 'enterSyscall', meta: { cite: 'sva-unbind' } },
        'sys.close': { target: 'syscall', actions: 'enterSyscall', meta: { cite: 'close-fd' } },
        'sys.open': { target: 'syscall', actions: 'enterSyscall', meta: { cite: 'idxd-open' } },
        'sys.mmap': { target: 'syscall', actions: 'enterSyscall', meta: { cite: 'idxd-mmap' } },
        'sys.munmap': { target: 'syscall', actions: 'enterSyscall', meta: { cite: 'munmap' } },
        'sys.arch_prctl': { target: 'syscall', actions: 'enterSyscall', meta: { cite: 'arch-prctl' } },
        'sys.exit': { target: 'exited', actions: 'exitThread', meta: { cite: 'do-exit' } },
        'insn.enqcmd': [
          { guard: 'noEnqcmd', target: 'trapping', actions: 'raiseUd', meta: { cite: 'enqcmd-ud' } },
          { guard: 'msrInvalid', target: 'trapping', actions: ['keepDevice', 'raiseGp'], meta: { cite: 'enqcmd-gp' } },
          { target: 'enqueuing', actions: 'storeToPortal', meta: { cite: 'enqcmd-store' } },
        ],
        'thread.kill': { target: 'exited', actions: 'exitThread', meta: { cite: 'de-thread' } },
      },
    },
    syscall: {
      description: 'In the kernel, waiting for the syscall to return.',
      on: {
        'sys.return': { target: 'running', meta: { cite: 'syscall-return' } },
        'thread.exec': { actions: 'execInto', meta: { cite: 'exec-thread' } },
        'thread.kill': { target: 'exited', actions: 'exitThread', meta: { cite: 'de-thread' } },
      },
    },
    trapping: {
      description: 'ENQCMD raised #GP (IA32_PASID invalid); the #GP handler decides: fix up or SIGSEGV.',
      on: {
        'msr.write': { actions: 'writeMsr', meta: { cite: 'msr-write' } },
        'gp.fixup': { target: 'enqueuing', actions: ['storeToPortal', 'forgetDevice'], meta: { cite: 'gp-fixup-return' } },
        'signal.sigsegv': { target: 'running', actions: 'forgetDevice', meta: { cite: 'gp-sigsegv' } },
        'signal.sigill': { target: 'running', meta: { cite: 'ud-sigill' } },
        // thread.kill waits: the #GP (#UD) handler runs to completion in this thread's context first.
      },
    },
    enqueuing: {
      description: 'The ENQCMD store is on its way to the portal; the work queue answers Success or Retry.',
      on: {
        'wq.accept': { target: 'running', meta: { cite: 'enqcmd-status' } },
        'wq.retry': { target: 'running', meta: { cite: 'enqcmd-status' } },
        'signal.sigsegv': { target: 'running', meta: { cite: 'portal-fault' } },
        // thread.kill waits for the instruction to retire.
      },
    },
    exited: {
      description: 'Gone (do_exit). Syscalls naming it get ESRCH; late replies are dropped.',
      on: {
        'sys.clone': { actions: 'answerEsrch', meta: { cite: 'model-exited-thread' } },
        'sys.fork': { actions: 'answerEsrch', meta: { cite: 'model-exited-thread' } },
        'sys.exec': { actions: 'answerEsrch', meta: { cite: 'model-exited-thread' } },
        'sys.exit': { actions: 'answerEsrch', meta: { cite: 'model-exited-thread' } },
        'sys.bind': { actions: 'answerEsrch', meta: { cite: 'model-exited-thread' } },
        'sys.unbind': { actions: 'answerEsrch', meta: { cite: 'model-exited-thread' } },
        'sys.close': { actions: 'answerEsrch', meta: { cite: 'model-exited-thread' } },
        'sys.open': { actions: 'answerEsrch', meta: { cite: 'model-exited-thread' } },
        'sys.mmap': { actions: 'answerEsrch', meta: { cite: 'model-exited-thread' } },
        'sys.munmap': { actions: 'answerEsrch', meta: { cite: 'model-exited-thread' } },
        'sys.arch_prctl': { actions: 'answerEsrch', meta: { cite: 'model-exited-thread' } },
        'insn.enqcmd': { actions: 'answerEsrch', meta: { cite: 'model-exited-thread' } },
        'thread.kill': IGNORE,
        'sys.return': IGNORE,
        'thread.exec': IGNORE,
        'msr.write': IGNORE,
        'gp.fixup': IGNORE,
        'signal.sigsegv': IGNORE,
        'signal.sigill': IGNORE,
        'wq.accept': IGNORE,
        'wq.retry': IGNORE,
      },
    },
  },
});
