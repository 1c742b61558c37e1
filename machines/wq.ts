/**
 * A device shared work queue (DSA/IAX SWQ) behind a user (limited) portal.
 *
 * ENQCMD is a non-posted store: the queue answers Success (`wq.accept`) while occupancy < threshold,
 * else Retry (`wq.retry`). It never looks at the PASID. Accepted descriptors are executed (at once with
 * `autoComplete`, else on `wq.execute`): each DMA asks the IOMMU to translate the descriptor's PASID;
 * success writes a completion record (`wq.complete`), a DMAR fault leaves the submitter without one.
 */
import { assertEvent, enqueueActions, setup } from 'xstate';
import type { TransitionMeta } from './citations.ts';
import { mmAddr, threadAddr, type Message, type Outgoing } from './protocol.ts';

export interface WqInput {
  readonly device: string;
  readonly wqSize: number;
  readonly threshold: number;
  readonly autoComplete: boolean;
}

export interface Descriptor {
  readonly pasid: number;
  readonly thread: string;
  /** The submitter's mm (from `wq.submit`): observer data for invariant G10, not something the device sees. */
  readonly mm?: number;
}

export interface WqContext extends WqInput {
  /** Accepted descriptors not yet dispatched: the occupancy is its length. */
  readonly queue: readonly Descriptor[];
  /**
   * Dispatched descriptors awaiting translation, per PASID (oldest PASID first). A short list, not an
   * object keyed by PASID: V8 stores such an object's numeric keys as an array as long as the largest
   * PASID, so every copy of a one-entry object for PASID 1000 would copy kilobytes.
   */
  readonly inflight: readonly InFlight[];
  /** Drain-PASID commands waiting for that PASID's descriptors to finish. */
  readonly drains: readonly { readonly pasid: number; readonly mm: number; readonly file?: string }[];
  readonly accepted: number;
  readonly retried: number;
  readonly completed: number;
  readonly faulted: number;
}

export interface InFlight {
  readonly pasid: number;
  readonly count: number;
}

/** How many descriptors of `pasid` are in flight. */
const inflightOf = (list: readonly InFlight[], pasid: number): number => list.find((f) => f.pasid === pasid)?.count ?? 0;

/** `list` with `pasid`'s count changed by `delta` (an entry at zero is dropped). */
function addInflight(list: readonly InFlight[], pasid: number, delta: number): InFlight[] {
  const out: InFlight[] = [];
  let found = false;
  for (const f of list) {
    if (f.pasid !== pasid) out.push(f);
    else {
      found = true;
      if (f.count + delta > 0) out.push({ pasid, count: f.count + delta });
    }
  }
  if (!found && delta > 0) out.push({ pasid, count: delta });
  return out;
}

type WqEvent = Extract<Message, { type: 'wq.submit' | 'wq.execute' | 'wq.drain' | 'iommu.translated' | 'fault.dmar' }>;

interface Emitter {
  assign: (c: Partial<WqContext>) => void;
  emit: (o: Outgoing) => void;
}

/** Send descriptors to the engines: each DMA goes through the IOMMU with the descriptor's PASID. */
function dispatch(c: WqContext, picked: readonly Descriptor[], enqueue: Emitter): readonly InFlight[] {
  let inflight = c.inflight;
  for (const d of picked) {
    inflight = addInflight(inflight, d.pasid, 1);
    enqueue.emit(
      d.mm === undefined
        ? { type: 'iommu.translate', device: c.device, pasid: d.pasid, thread: d.thread, to: 'iommu' }
        : { type: 'iommu.translate', device: c.device, pasid: d.pasid, thread: d.thread, mm: d.mm, to: 'iommu' },
    );
  }
  return inflight;
}

/** Who asked for a drain: the releasing file (idxd_file_dev_release), else the mm. */
const drainer = (w: { readonly mm: number; readonly file?: string | undefined }): Outgoing['to'] => (w.file === undefined ? mmAddr(w.mm) : (w.file as Outgoing['to']));

/** One descriptor finished (completed or faulted): release drains waiting on its PASID. */
function finish(c: WqContext, pasid: number, enqueue: Emitter): Pick<WqContext, 'inflight' | 'drains'> {
  const inflight = addInflight(c.inflight, pasid, -1);
  if (c.drains.length === 0) return { inflight, drains: c.drains };
  const drains = c.drains.filter((w) => {
    const done = inflightOf(inflight, w.pasid) === 0 && !c.queue.some((d) => d.pasid === w.pasid);
    if (done) enqueue.emit({ type: 'wq.drained', device: c.device, pasid: w.pasid, to: drainer(w) });
    return !done;
  });
  return { inflight, drains };
}

export const wqMachine = setup({
  types: {
    input: {} as WqInput,
    context: {} as WqContext,
    events: {} as WqEvent,
    emitted: {} as Outgoing,
    /** Each transition names the kernel code (or the DSA rule) it models (machines/citations.ts). */
    transitionMeta: {} as TransitionMeta,
  },
  actions: {
    submit: enqueueActions(({ context: c, event, enqueue }) => {
      assertEvent(event, 'wq.submit');
      const to = threadAddr(event.thread);
      if (c.queue.length >= c.threshold) {
        enqueue.assign({ retried: c.retried + 1 });
        enqueue.emit({ type: 'wq.retry', thread: event.thread, occupancy: c.queue.length, to });
        return;
      }
      const queue = [...c.queue, event.mm === undefined ? { pasid: event.pasid, thread: event.thread } : { pasid: event.pasid, thread: event.thread, mm: event.mm }];
      enqueue.emit({ type: 'wq.accept', thread: event.thread, pasid: event.pasid, occupancy: queue.length, to });
      if (c.autoComplete) {
        enqueue.assign({ accepted: c.accepted + 1, queue: [], inflight: dispatch(c, queue, enqueue) });
      } else {
        enqueue.assign({ accepted: c.accepted + 1, queue });
      }
    }),
    execute: enqueueActions(({ context: c, event, enqueue }) => {
      assertEvent(event, 'wq.execute');
      const n = Math.min(event.count ?? c.queue.length, c.queue.length);
      enqueue.assign({ queue: c.queue.slice(n), inflight: dispatch(c, c.queue.slice(0, n), enqueue) });
    }),
    drain: enqueueActions(({ context: c, event, enqueue }) => {
      assertEvent(event, 'wq.drain');
      const mine = c.queue.filter((d) => d.pasid === event.pasid);
      const inflight = dispatch(c, mine, enqueue);
      const queue = c.queue.filter((d) => d.pasid !== event.pasid);
      if (inflightOf(inflight, event.pasid) === 0) {
        enqueue.emit({ type: 'wq.drained', device: c.device, pasid: event.pasid, to: drainer(event) });
        enqueue.assign({ queue, inflight });
      } else {
        enqueue.assign({ queue, inflight, drains: [...c.drains, event.file === undefined ? { pasid: event.pasid, mm: event.mm } : { pasid: event.pasid, mm: event.mm, file: event.file }] });
      }
    }),
    complete: enqueueActions(({ context: c, event, enqueue }) => {
      assertEvent(event, 'iommu.translated');
      enqueue.emit({ type: 'wq.complete', thread: event.thread, pasid: event.pasid, to: threadAddr(event.thread) });
      enqueue.assign({ completed: c.completed + 1, ...finish(c, event.pasid, enqueue) });
    }),
    fault: enqueueActions(({ context: c, event, enqueue }) => {
      assertEvent(event, 'fault.dmar');
      // The kernel only prints (dmar_fault_do_one); no completion record is written, no signal is sent.
      enqueue.assign({ faulted: c.faulted + 1, ...finish(c, event.pasid, enqueue) });
    }),
  },
}).createMachine({
  id: 'wq',
  context: ({ input }) => ({
    ...input,
    queue: [],
    inflight: [],
    drains: [],
    accepted: 0,
    retried: 0,
    completed: 0,
    faulted: 0,
  }),
  initial: 'enabled',
  states: {
    enabled: {
      description: 'Shared WQ enabled: limited portal accepts while occupancy < threshold.',
      on: {
        'wq.submit': { actions: 'submit', meta: { cite: 'swq-limited-portal' } },
        'wq.execute': { actions: 'execute', meta: { cite: 'dsa-dispatch' } },
        'wq.drain': { actions: 'drain', meta: { cite: 'idxd-drain-device' } },
        'iommu.translated': { actions: 'complete', meta: { cite: 'dsa-completion' } },
        'fault.dmar': { actions: 'fault', meta: { cite: 'dsa-fault' } },
      },
    },
  },
});

