// A svasim plugin: a device model of your own, written as an xstate v5 machine.
//
// "iax" is an accelerator work queue with an accept rule svasim's queue does not have: besides the
// total number of descriptors it holds (the scenario device's `threshold`), it caps how many descriptors
// one PASID may hold at once (`options.perPasid`, default 1). A submission over either limit is answered
// with Retry (ENQCMD's ZF=1), so two threads of one process (one PASID) compete for the same slot while
// another process gets its own. The rule is made up for this example: Intel's IAX and DSA shared work
// queues only count occupancy, as svasim's own `wq` model does.
//
// The model speaks svasim's work-queue protocol, so the mm, the IOMMU and the threads talk to it as they
// talk to the built-in queue: `wq.submit` (from the mm, after the CPU checked IA32_PASID), `wq.execute`
// (a scenario's `complete` step), `wq.drain` (a device file's release drains its PASID and waits for
// `wq.drained`), the IOMMU's answer to each DMA (`iommu.translated` or `fault.dmar`); it sends
// `wq.accept` / `wq.retry` to the submitting thread, `iommu.translate` for each descriptor it runs,
// `wq.complete` when the IOMMU translated, and `wq.drained` to whoever asked for the drain: the file the
// drain names (`file`), else the mm (`mm:<mm>`). Each `emit` names where the message goes in `to`.
//
// Used by: `svasim run device-model.json --plugin iax-plugin.mjs`, and by device-model.mjs (the library).
import { definePlugin, fromMachine } from 'svasim';
import { enqueueActions, setup } from 'xstate';

/** Descriptors of `pasid` the device holds (queued or running). */
const held = (c, pasid) => c.queue.filter((d) => d.pasid === pasid).length + c.running.filter((d) => d.pasid === pasid).length;

/** `list` without its first descriptor of `pasid` submitted by `thread`. */
function without(list, pasid, thread) {
  const i = list.findIndex((d) => d.pasid === pasid && d.thread === thread);
  return i < 0 ? list : [...list.slice(0, i), ...list.slice(i + 1)];
}

/** Start descriptors: each DMA asks the IOMMU to translate the descriptor's PASID. */
function dispatch(c, picked, enqueue) {
  // `mm`, the submitter's (kept from `wq.submit`), lets svasim check that the DMA lands in its address space (G10).
  for (const d of picked) enqueue.emit({ type: 'iommu.translate', device: c.device, pasid: d.pasid, thread: d.thread, mm: d.mm, to: 'iommu' });
  return [...c.running, ...picked];
}

/** Who a drain answers: the releasing file when the drain names one (`file: "file:1.1"`), else the mm. */
const drainer = (event) => event.file ?? `mm:${event.mm}`;

/** One descriptor finished (translated or faulted): answer the drains that waited for its PASID. */
function finish(c, event, enqueue) {
  const running = without(c.running, event.pasid, event.thread);
  const drains = c.drains.filter((w) => {
    const done = !running.some((d) => d.pasid === w.pasid) && !c.queue.some((d) => d.pasid === w.pasid);
    if (done) enqueue.emit({ type: 'wq.drained', device: c.device, pasid: w.pasid, to: w.to });
    return !done;
  });
  return { running, drains };
}

export const iaxMachine = setup({
  guards: {
    /** The accept rule: room in the device and under this PASID's cap. */
    hasRoom: ({ context: c, event }) => c.queue.length + c.running.length < c.threshold && held(c, event.pasid) < c.perPasid,
    /** The descriptor finishing is the last one the device holds. */
    lastOne: ({ context: c }) => c.queue.length === 0 && c.running.length === 1,
  },
  actions: {
    accept: enqueueActions(({ context: c, event, enqueue }) => {
      const queue = [...c.queue, { pasid: event.pasid, thread: event.thread, mm: event.mm }];
      enqueue.emit({ type: 'wq.accept', thread: event.thread, pasid: event.pasid, occupancy: queue.length + c.running.length, to: `thread:${event.thread}` });
      if (c.autoComplete) enqueue.assign({ accepted: c.accepted + 1, queue: [], running: dispatch(c, queue, enqueue) });
      else enqueue.assign({ accepted: c.accepted + 1, queue });
    }),
    retry: enqueueActions(({ context: c, event, enqueue }) => {
      enqueue.emit({ type: 'wq.retry', thread: event.thread, occupancy: c.queue.length + c.running.length, to: `thread:${event.thread}` });
      enqueue.assign({ retried: c.retried + 1 });
    }),
    execute: enqueueActions(({ context: c, event, enqueue }) => {
      const n = Math.min(event.count ?? c.queue.length, c.queue.length);
      enqueue.assign({ queue: c.queue.slice(n), running: dispatch(c, c.queue.slice(0, n), enqueue) });
    }),
    complete: enqueueActions(({ context: c, event, enqueue }) => {
      enqueue.emit({ type: 'wq.complete', thread: event.thread, pasid: event.pasid, to: `thread:${event.thread}` });
      enqueue.assign({ completed: c.completed + 1, ...finish(c, event, enqueue) });
    }),
    // As the kernel does on a DMAR fault: nothing reaches the submitter (no completion record, no signal).
    fault: enqueueActions(({ context: c, event, enqueue }) => {
      enqueue.assign({ faulted: c.faulted + 1, ...finish(c, event, enqueue) });
    }),
    drain: enqueueActions(({ context: c, event, enqueue }) => {
      const mine = c.queue.filter((d) => d.pasid === event.pasid);
      const running = dispatch(c, mine, enqueue);
      const queue = c.queue.filter((d) => d.pasid !== event.pasid);
      if (running.some((d) => d.pasid === event.pasid)) {
        enqueue.assign({ queue, running, drains: [...c.drains, { pasid: event.pasid, to: drainer(event) }] });
      } else {
        enqueue.emit({ type: 'wq.drained', device: c.device, pasid: event.pasid, to: drainer(event) });
        enqueue.assign({ queue, running });
      }
    }),
  },
}).createMachine({
  id: 'iax',
  // `input` is what svasim gives a device model: the scenario device's name, wqSize, threshold and
  // autoComplete, and its `options`.
  context: ({ input }) => ({
    device: input.device,
    threshold: input.threshold,
    autoComplete: input.autoComplete,
    perPasid: input.options.perPasid ?? 1,
    queue: [],
    running: [],
    drains: [],
    accepted: 0,
    retried: 0,
    completed: 0,
    faulted: 0,
  }),
  initial: 'idle',
  states: {
    idle: {
      description: 'Holds no descriptor.',
      on: {
        'wq.submit': [{ guard: 'hasRoom', target: 'busy', actions: 'accept' }, { actions: 'retry' }],
        'wq.execute': {},
        'wq.drain': { actions: 'drain' },
      },
    },
    busy: {
      description: 'Holds queued or running descriptors; the accept rule counts them per PASID.',
      on: {
        'wq.submit': [{ guard: 'hasRoom', actions: 'accept' }, { actions: 'retry' }],
        'wq.execute': { actions: 'execute' },
        'wq.drain': { actions: 'drain' },
        'iommu.translated': [{ guard: 'lastOne', target: 'idle', actions: 'complete' }, { actions: 'complete' }],
        'fault.dmar': [{ guard: 'lastOne', target: 'idle', actions: 'fault' }, { actions: 'fault' }],
      },
    },
  },
});

/**
 * Monitor IAX1, checked by svasim after every step: no PASID ever holds more descriptors than its cap
 * (it would fail if `hasRoom` forgot the cap).
 */
const capHolds = {
  invariant: 'IAX1',
  check(view) {
    const out = [];
    for (const address of view.changed) {
      const a = view.actor(address);
      if (a?.kind !== 'iax') continue;
      const c = a.context;
      for (const pasid of new Set([...c.queue, ...c.running].map((d) => d.pasid))) {
        if (held(c, pasid) > c.perPasid) out.push(`${address}: PASID ${pasid} holds ${held(c, pasid)} descriptors, cap ${c.perPasid}`);
      }
    }
    return out;
  },
};

export default definePlugin({
  name: 'iax-example',
  version: '1.0.0',
  kinds: [{ name: 'iax', device: true, behavior: fromMachine(iaxMachine), monitors: [capHolds] }],
});
