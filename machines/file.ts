/**
 * A device file: what `open("/dev/dsa/wqX.Y")` creates — a `struct file` with its idxd user context
 * (drivers/dma/idxd/cdev.c `struct idxd_user_context`). It lives as long as the kernel keeps it:
 * every descriptor in any process's fd table and the portal mapping hold a reference (`f_count`), and
 * the last `fput` releases it (`idxd_cdev_release` -> `idxd_file_dev_release`).
 *
 * - Born bound: `idxd_cdev_open` binds SVA on `current->mm` (the mm did that before the birth) and
 *   records `ctx->mm` and `ctx->pasid`. The bond holds that mm (`mmgrab`), so the mm's PASID lives as
 *   long as the bond (merged: `mm_pasid_drop` runs at `__mmdrop`).
 * - `idxd_cdev_mmap` maps the portal only when the device is user-submission safe or the caller has
 *   `CAP_SYS_RAWIO` (e11452eb071b, INTEL-SA-01084), then only into the mm that opened it
 *   (`current->mm != ctx->mm` -> `-EPERM`, 8dfa57aabff6); the mapping is `VM_DONTCOPY` (fork does not copy it).
 * - Release: drain the PASID — always, for a shared WQ, even after a driver-level unbind — then unbind
 *   SVA if still bound (`if (wq_shared(wq)) idxd_device_drain_pasid(idxd, ctx->pasid);` … `if (ctx->sva)
 *   { iommu_sva_unbind_device(ctx->sva); … }`); the unbind's `iommu_domain_free` drops the bond's grab
 *   of `ctx->mm` (`mm.drop`).
 *
 * References are named (`holder`): `fd:<process>/<label>` for a descriptor, `map:mm:<n>` for a mapping.
 * Whoever changes them names where the answer goes (`reply`), so a put from a forked child answers the
 * child's mm while the bond's `mm.drop` goes to `ctx->mm`.
 */
import { and, assertEvent, enqueueActions, setup } from 'xstate';
import type { TransitionMeta } from './citations.ts';
import { mmAddr, threadAddr, wqAddr, type Address, type Message, type Outgoing } from './protocol.ts';

/** A message taken on purpose without effect (the actor takes it instead of deferring it). */
const IGNORE = {} as const;

export interface FileInput {
  /** Its address's id (`file:<id>`): it names itself in its answers. */
  readonly id: string;
  readonly device: string;
  /** ctx->mm: the mm that opened it and that its bond holds. */
  readonly mm: number;
  /** ctx->pasid. */
  readonly pasid: number;
  /** Its first reference: the opener's descriptor. */
  readonly holder: string;
  /** The device's `user_submission_safe` (false: mmap needs CAP_SYS_RAWIO). */
  readonly safe: boolean;
}

export interface FileContext extends FileInput {
  /** Its references (f_count = how many): descriptors in fd tables, the portal mapping. */
  readonly holders: readonly string[];
  /** ctx->sva != NULL: the SVA bond is still there (a driver-level unbind clears it). */
  readonly sva: boolean;
  /** The put that released it: answered when the release is over. */
  readonly releasedBy: { readonly holder: string; readonly reply: string } | null;
  /** A driver-level unbind in progress: answered when the IOMMU is done. */
  readonly unbinder: { readonly thread: string; readonly reply: string } | null;
}

type FileEvent = Extract<Message, { type: 'file.mmap' | 'file.get' | 'file.put' | 'file.unbind' | 'file.store' | 'wq.drained' | 'iommu.unbound' }>;

const self = (c: FileContext): string => `file:${c.id}`;

export const fileMachine = setup({
  types: {
    input: {} as FileInput,
    context: {} as FileContext,
    events: {} as FileEvent,
    emitted: {} as Outgoing,
    transitionMeta: {} as TransitionMeta,
  },
  guards: {
    /** fput of the last reference: f_count reaches 0. */
    lastReference: ({ context, event }) => {
      assertEvent(event, 'file.put');
      return context.holders.length === 1 && context.holders[0] === event.holder;
    },
    bound: ({ context }) => context.sva,
    /**
     * idxd_file_dev_release: `if (wq_shared(wq)) idxd_device_drain_pasid(idxd, ctx->pasid);` — every WQ
     * svasim models is shared, so the release always drains (a test replaces this guard to show that a
     * release that skips the drain lets a queued descriptor run in another address space: G10).
     */
    drainsOnRelease: () => true,
    /** The storing mm still holds its mapping of this file (it always does: its put comes after the store). */
    mappedBy: ({ context, event }) => {
      assertEvent(event, 'file.store');
      return context.holders.includes(`map:mm:${event.mm}`);
    },
  },
  actions: {
    /** get_file (dup_fd at fork): one more reference. */
    get: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'file.get');
      enqueue.assign({ holders: [...context.holders, event.holder] });
      enqueue.emit({ type: 'file.got', holder: event.holder, file: self(context), to: event.reply as Address });
    }),
    /** fput of a reference that is not the last. */
    put: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'file.put');
      const i = context.holders.indexOf(event.holder);
      if (i < 0) throw new Error(`${self(context)}: put of ${event.holder}, which holds no reference`);
      enqueue.assign({ holders: [...context.holders.slice(0, i), ...context.holders.slice(i + 1)] });
      enqueue.emit({ type: 'file.dropped', holder: event.holder, file: self(context), released: false, to: event.reply as Address });
    }),
    /** The last fput: idxd_file_dev_release drains the PASID first, for a shared WQ always. */
    startRelease: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'file.put');
      enqueue.assign({ holders: [], releasedBy: { holder: event.holder, reply: event.reply } });
      enqueue.emit({ type: 'wq.drain', pasid: context.pasid, mm: context.mm, file: self(context), to: wqAddr(context.device) });
    }),
    /** The last fput, for a variant that does not drain: straight to the unbind (if bound). */
    releaseUndrained: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'file.put');
      enqueue.assign({ holders: [], releasedBy: { holder: event.holder, reply: event.reply } });
    }),
    /** Drained and still bound: iommu_sva_unbind_device(ctx->sva). */
    unbindOnRelease: enqueueActions(({ context, enqueue }) => {
      enqueue.emit({ type: 'iommu.unbind', mm: context.mm, device: context.device, pasid: context.pasid, count: 1, file: self(context), to: 'iommu' });
    }),
    /** The bond is gone: iommu_domain_free drops its grab of ctx->mm. */
    dropGrab: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ sva: false });
      enqueue.emit({ type: 'mm.drop', device: context.device, file: self(context), to: mmAddr(context.mm) });
    }),
    /** The release is over: the put that caused it returns (task_work ran before the return to user). */
    answerRelease: enqueueActions(({ context, enqueue }) => {
      const by = context.releasedBy;
      if (by === null) throw new Error(`${self(context)}: release with no put to answer`);
      enqueue.emit({ type: 'file.dropped', holder: by.holder, file: self(context), released: true, to: by.reply as Address });
    }),
    /** The portal write reaches the device's shared WQ (the submitter's mm rides along for invariant G10). */
    passStore: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'file.store');
      enqueue.emit({ type: 'wq.submit', thread: event.thread, pasid: event.pasid, mm: event.mm, to: wqAddr(context.device) });
    }),
    /** Not mapped by the storing mm any more: the store faults (never reached: the mm's put follows its stores). */
    storeFaults: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'file.store');
      enqueue.emit({ type: 'signal.sigsegv', thread: event.thread, reason: 'portal', to: threadAddr(event.thread) });
    }),
    /** idxd_cdev_mmap's checks, in the kernel's order, then the mapping's reference. */
    mmap: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'file.mmap');
      const to = event.reply as Address;
      const base = { type: 'file.mapped', thread: event.thread, device: context.device, file: self(context), holder: event.holder, to } as const;
      if (!context.safe && !event.caps.includes('CAP_SYS_RAWIO')) {
        enqueue.emit({ ...base, errno: 'EPERM', reason: 'no-cap-sys-rawio' });
        return;
      }
      if (event.mm !== context.mm) {
        enqueue.emit({ ...base, errno: 'EPERM', reason: 'file-of-other-mm' });
        return;
      }
      enqueue.assign({ holders: [...context.holders, event.holder] });
      enqueue.emit(base);
    }),
    /** A driver-level unbind (the scenario's `unbind`): the bond goes, the file stays. */
    startUnbind: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'file.unbind');
      enqueue.assign({ unbinder: { thread: event.thread, reply: event.reply } });
      enqueue.emit({ type: 'iommu.unbind', mm: context.mm, device: context.device, pasid: context.pasid, count: 1, file: self(context), to: 'iommu' });
    }),
    answerUnbind: enqueueActions(({ context, enqueue }) => {
      const u = context.unbinder;
      if (u === null) throw new Error(`${self(context)}: unbound with no unbind to answer`);
      enqueue.assign({ unbinder: null });
      enqueue.emit({ type: 'file.unbound', thread: u.thread, file: self(context), to: u.reply as Address });
    }),
  },
}).createMachine({
  id: 'file',
  context: ({ input }) => ({ ...input, holders: [input.holder], sva: true, releasedBy: null, unbinder: null }),
  initial: 'open',
  on: {
    // In any state: a store the mm let through before unmapping reaches the device (munmap's TLB flush).
    'file.store': [
      { guard: 'mappedBy', actions: 'passStore', meta: { cite: 'portal-flush' } },
      { actions: 'storeFaults', meta: { cite: 'enqcmd-store' } },
    ],
  },
  states: {
    open: {
      description: 'Referenced by descriptors (and the portal mapping, once mmap succeeded); SVA bound unless a driver-level unbind cleared it.',
      on: {
        'file.get': { actions: 'get', meta: { cite: 'dup-fd' } },
        'file.put': [
          { guard: and(['lastReference', 'drainsOnRelease']), target: 'releasing', actions: 'startRelease', meta: { cite: 'idxd-drain' } },
          { guard: 'lastReference', target: 'releasing.undrained', actions: 'releaseUndrained', meta: { cite: 'idxd-release' } },
          { actions: 'put', meta: { cite: 'close-fd' } },
        ],
        'file.mmap': { actions: 'mmap', meta: { cite: 'idxd-mmap' } },
        'file.unbind': { guard: 'bound', target: 'unbinding', actions: 'startUnbind', meta: { cite: 'sva-unbind' } },
      },
    },
    unbinding: {
      description: 'iommu_sva_unbind_device for a driver-level unbind: the PASID-table entry goes; the file and its mapping stay.',
      on: { 'iommu.unbound': { target: 'open', actions: ['dropGrab', 'answerUnbind'], meta: { cite: 'mmgrab-drop' } } },
    },
    releasing: {
      description: 'idxd_file_dev_release: drain the PASID (always, for a shared WQ), then unbind SVA if still bound.',
      initial: 'draining',
      states: {
        draining: {
          on: {
            'wq.drained': [
              { guard: 'bound', target: 'unbinding', actions: 'unbindOnRelease', meta: { cite: 'idxd-release-unbind' } },
              { target: '#file.released', actions: 'answerRelease', meta: { cite: 'idxd-release' } },
            ],
          },
        },
        unbinding: {
          on: { 'iommu.unbound': { target: '#file.released', actions: ['dropGrab', 'answerRelease'], meta: { cite: 'mmgrab-drop' } } },
        },
        undrained: {
          description: 'A release without the drain (not the kernel: only a variant with drainsOnRelease false gets here).',
          always: [
            { guard: 'bound', target: 'unbinding', actions: 'unbindOnRelease', meta: { cite: 'idxd-release-unbind' } },
            { target: '#file.released', actions: 'answerRelease', meta: { cite: 'idxd-release' } },
          ],
        },
      },
    },
    released: {
      description: 'Gone: no reference, no bond.',
      on: { 'file.get': IGNORE, 'file.put': IGNORE, 'file.mmap': IGNORE, 'file.unbind': IGNORE },
    },
  },
});
