/**
 * The kernel's process creation: makes processes and address spaces (spawn, fork, exec) and gives each
 * new mm the next id. Ids come from this actor's context, so they are deterministic and replayable.
 * It also answers syscalls naming a thread that does not exist (yet): ESRCH.
 */
import { assertEvent, enqueueActions, setup } from 'xstate';
import type { TransitionMeta } from './citations.ts';
import { LAM_OFF, mmAddr, threadAddr, type FdEntry, type Message, type Outgoing } from './protocol.ts';

export interface KernelContext {
  /** The id the next new mm gets. (Which mm each process uses is known from `mm.create` messages.) */
  readonly nextMm: number;
}

type KernelEvent = Extract<
  Message,
  {
    type:
      | 'sys.spawn' | 'kernel.fork' | 'kernel.exec'
      | 'sys.clone' | 'sys.fork' | 'sys.exec' | 'sys.exit' | 'sys.bind' | 'sys.unbind' | 'sys.close' | 'sys.open' | 'sys.mmap' | 'sys.munmap'
      | 'sys.arch_prctl' | 'insn.enqcmd';
  }
>;

/** The inputs that name a thread: the kernel gets them only when that thread does not exist (yet). */
const THREAD_INPUTS = [
  'sys.clone', 'sys.fork', 'sys.exec', 'sys.exit', 'sys.bind', 'sys.unbind', 'sys.close', 'sys.open', 'sys.mmap', 'sys.munmap', 'sys.arch_prctl', 'insn.enqcmd',
] as const satisfies readonly KernelEvent['type'][];

/** The fd table and caps a fork or an exec hands to the new mm (absent fields stay absent). */
const withTable = (e: { readonly caps?: readonly string[]; readonly fds?: Readonly<Record<string, FdEntry>> }): { caps?: readonly string[]; fds?: Readonly<Record<string, FdEntry>> } => ({
  ...(e.caps === undefined ? {} : { caps: e.caps }),
  ...(e.fds === undefined ? {} : { fds: e.fds }),
});

export const kernelMachine = setup({
  types: {
    context: {} as KernelContext,
    events: {} as KernelEvent,
    emitted: {} as Outgoing,
    /** Each transition names the kernel code it models (machines/citations.ts). */
    transitionMeta: {} as TransitionMeta,
  },
  actions: {
    spawn: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'sys.spawn');
      const mm = context.nextMm;
      enqueue.assign({ nextMm: mm + 1 });
      enqueue.emit({ type: 'mm.create', process: event.process, threads: [event.process], lam: LAM_OFF, ...(event.caps === undefined ? {} : { caps: event.caps }), to: mmAddr(mm) });
      enqueue.emit({ type: 'thread.start', process: event.process, mm, to: threadAddr(event.process) });
      enqueue.emit({ type: 'sys.return', thread: event.process, to: 'user' });
    }),
    /** fork: dup_mm gives a new mm with no PASID, no bonds, no portals; LAM and its flags are copied. */
    fork: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'kernel.fork');
      const mm = context.nextMm;
      enqueue.assign({ nextMm: mm + 1 });
      // copy_process: copy_files (the fd table the parent already took references for) and copy_creds (caps).
      enqueue.emit({ type: 'mm.create', process: event.process, threads: [event.process], lam: event.lam, ...withTable(event), to: mmAddr(mm) });
      enqueue.emit({ type: 'thread.start', process: event.process, mm, to: threadAddr(event.process) });
      enqueue.emit({ type: 'sys.return', thread: event.thread, to: threadAddr(event.thread) });
    }),
    /** exec_mmap: a fresh mm (no PASID, LAM off, no context flags). */
    exec: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'kernel.exec');
      const mm = context.nextMm;
      enqueue.assign({ nextMm: mm + 1 });
      // The process keeps its fd table and caps; do_close_on_exec runs in the new mm, which then returns.
      enqueue.emit({ type: 'mm.create', process: event.process, threads: [event.thread], lam: LAM_OFF, ...withTable(event), to: mmAddr(mm) });
      // The new mm moves the thread onto itself (thread.exec) before it answers: one channel, in order.
      enqueue.emit({ type: 'mm.close_on_exec', thread: event.thread, to: mmAddr(mm) });
    }),
    noSuchThread: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, THREAD_INPUTS);
      enqueue.emit({ type: 'sys.return', thread: event.thread, errno: 'ESRCH', reason: 'no-such-thread', to: 'user' });
    }),
  },
}).createMachine({
  id: 'kernel',
  context: { nextMm: 1 },
  initial: 'up',
  states: {
    up: {
      on: {
        'sys.spawn': { actions: 'spawn', meta: { cite: 'spawn' } },
        'kernel.fork': { actions: 'fork', meta: { cite: 'fork' } },
        'kernel.exec': { actions: 'exec', meta: { cite: 'exec-mm' } },
        'sys.clone': { actions: 'noSuchThread', meta: { cite: 'model-no-such-thread' } },
        'sys.fork': { actions: 'noSuchThread', meta: { cite: 'model-no-such-thread' } },
        'sys.exec': { actions: 'noSuchThread', meta: { cite: 'model-no-such-thread' } },
        'sys.exit': { actions: 'noSuchThread', meta: { cite: 'model-no-such-thread' } },
        'sys.bind': { actions: 'noSuchThread', meta: { cite: 'model-no-such-thread' } },
        'sys.unbind': { actions: 'noSuchThread', meta: { cite: 'model-no-such-thread' } },
        'sys.close': { actions: 'noSuchThread', meta: { cite: 'model-no-such-thread' } },
        'sys.open': { actions: 'noSuchThread', meta: { cite: 'model-no-such-thread' } },
        'sys.mmap': { actions: 'noSuchThread', meta: { cite: 'model-no-such-thread' } },
        'sys.munmap': { actions: 'noSuchThread', meta: { cite: 'model-no-such-thread' } },
        'sys.arch_prctl': { actions: 'noSuchThread', meta: { cite: 'model-no-such-thread' } },
        'insn.enqcmd': { actions: 'noSuchThread', meta: { cite: 'model-no-such-thread' } },
      },
    },
  },
});
