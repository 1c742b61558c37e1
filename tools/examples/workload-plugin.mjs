// A svasim plugin: actors of your own simulation on svasim's bus, written as deciders (plain functions).
//
// - "workload" (at load:<name>): a program's submission loop. It hears copies of svasim's messages
//   (`observes`): when its device's PASID-table entry is set (the bind is done) it submits an ENQCMD from
//   its thread, and one more each time the previous descriptor finished — completed (`wq.complete`) or
//   lost to a DMAR fault (`fault.dmar`, which the program itself never sees: the kernel only prints it).
//   After `options.count` descriptors it reports `load.done` to the user, with what became of them; so it
//   does, and stops, when the ENQCMD raised SIGSEGV (`signal.sigsegv`: the program would die there).
// - "injector" (at inject:<name>): a fault injector. It counts the ENQCMDs its thread got accepted
//   (`wq.accept`) and at the `options.after`-th it makes the thread unbind the device (`sys.unbind`, as the
//   driver's unbind would; with `options.syscall: "close"`, `sys.close`, as the program's close(2) of the
//   device file would), then tells the user (`inject.fired`).
//
// What they send is an ordinary message: it gets a seq and the cause it answers (the observed copy), is
// logged, checked against its schema (zod schemas for the two new message types), and replayed.
//
// Used by: `svasim run workload.json --plugin workload-plugin.mjs`, and by workload.mjs (the library).
import { definePlugin, fromDecider } from 'svasim';
import { z } from 'zod';

const enqcmd = (s) => ({ type: 'insn.enqcmd', thread: s.thread, device: s.device, to: `thread:${s.thread}` });

const workload = {
  name: 'workload',
  prefix: 'load',
  observes: ['pasidtable.set', 'wq.complete', 'fault.dmar', 'signal.sigsegv'],
  messages: {
    'load.done': z.strictObject({
      type: z.literal('load.done'),
      thread: z.string(),
      submitted: z.number().int().min(0),
      completed: z.number().int().min(0),
      faulted: z.number().int().min(0),
      signalled: z.boolean(),
    }),
  },
  behavior: fromDecider({
    initialState: (input) => {
      const o = input.options;
      return { thread: o.thread, device: o.device, count: o.count, submitted: 0, completed: 0, faulted: 0, killed: false };
    },
    decide(m, s) {
      if (s.killed || m.thread !== s.thread) {
        // The first PASID-table entry of the device starts the loop (the message names no thread).
        return m.type === 'pasidtable.set' && m.device === s.device && s.submitted === 0 && !s.killed ? [enqcmd(s)] : [];
      }
      const done = (more) => ({ type: 'load.done', thread: s.thread, submitted: s.submitted, completed: s.completed, faulted: s.faulted, signalled: false, ...more, to: 'user' });
      switch (m.type) {
        case 'wq.complete':
          return s.submitted < s.count ? [enqcmd(s)] : [done({ completed: s.completed + 1 })];
        case 'fault.dmar':
          return s.submitted < s.count ? [enqcmd(s)] : [done({ faulted: s.faulted + 1 })];
        case 'signal.sigsegv':
          // The program would die here: it reports and stops.
          return [done({ signalled: true })];
        default:
          return [];
      }
    },
    evolve(s, m) {
      if (m.type === 'pasidtable.set' && m.device === s.device && s.submitted === 0 && !s.killed) return { ...s, submitted: 1 };
      if (m.thread !== s.thread || s.killed) return s;
      const next = s.submitted < s.count ? s.submitted + 1 : s.submitted;
      if (m.type === 'wq.complete') return { ...s, completed: s.completed + 1, submitted: next };
      if (m.type === 'fault.dmar') return { ...s, faulted: s.faulted + 1, submitted: next };
      if (m.type === 'signal.sigsegv') return { ...s, killed: true };
      return s;
    },
    stateName: (s) => (s.killed ? 'killed' : s.completed + s.faulted >= s.count ? 'done' : s.submitted === 0 ? 'waiting' : 'submitting'),
  }),
};

const injector = {
  name: 'injector',
  prefix: 'inject',
  observes: ['wq.accept'],
  messages: {
    'inject.fired': z.strictObject({ type: z.literal('inject.fired'), thread: z.string(), device: z.string(), after: z.number().int().min(1) }),
  },
  behavior: fromDecider({
    initialState: (input) => ({ ...input.options, accepted: 0, fired: false }),
    decide(m, s) {
      if (m.type !== 'wq.accept' || s.fired || m.thread !== s.thread || s.accepted + 1 < s.after) return [];
      return [
        { type: s.syscall === 'close' ? 'sys.close' : 'sys.unbind', thread: s.thread, device: s.device, to: `thread:${s.thread}` },
        { type: 'inject.fired', thread: s.thread, device: s.device, after: s.after, to: 'user' },
      ];
    },
    evolve(s, m) {
      if (s.fired || m.thread !== s.thread) return s;
      const accepted = s.accepted + 1;
      return { ...s, accepted, fired: accepted >= s.after };
    },
    stateName: (s) => (s.fired ? 'fired' : 'counting'),
  }),
};

export default definePlugin({ name: 'workload-example', version: '1.0.0', kinds: [workload, injector] });
