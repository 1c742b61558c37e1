/**
 * Actions state the event they handle (xstate's `assertEvent`): a real action implementation wired to a
 * transition of another event throws, under both engines, instead of silently doing nothing. Each case
 * gives one machine's transition for `send` the implementation of another action (`machine.provide`),
 * then steps the machine through svasim's actor contract (src/runtime/actor.ts `fromMachine`).
 */
import { describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { iommuMachine } from '../../machines/iommu.ts';
import { kernelMachine } from '../../machines/kernel.ts';
import { mmMachine } from '../../machines/mm.ts';
import { LAM_OFF, type Message } from '../../machines/protocol.ts';
import { threadMachine } from '../../machines/thread.ts';
import { wqMachine } from '../../machines/wq.ts';
import { DEFER, fromMachine, type EngineKind, type Sent } from '../../src/runtime/actor.ts';

interface Case {
  readonly name: string;
  readonly machine: AnyStateMachine;
  readonly input: unknown;
  /** The action whose transition is mis-wired, and the implementation it gets instead. */
  readonly wire: string;
  readonly impl: string;
  /** An event that transition takes: with the mis-wired implementation it is the wrong one. */
  readonly send: Message;
  /** The event the implementation asserts. */
  readonly expects: string;
}

const impl = (m: AnyStateMachine, name: string): unknown => {
  const a = (m.implementations.actions as Record<string, unknown>)[name];
  if (a === undefined) throw new Error(`${m.id} has no action ${name}`);
  return a;
};

const CASES: readonly Case[] = [
  {
    name: 'thread: keepDevice on sys.exit',
    machine: threadMachine,
    input: { name: 'T', process: 'P', mm: 1 },
    wire: 'exitThread',
    impl: 'keepDevice',
    send: { type: 'sys.exit', thread: 'T' },
    expects: 'insn.enqcmd',
  },
  {
    name: 'mm: startMmap on mm.clone',
    machine: mmMachine,
    input: { id: 1, process: 'P', threads: ['P'], lam: LAM_OFF, policy: { pasid: 'merged', lam: 'v6.4' }, cpu: { enqcmd: true, lam: true } },
    wire: 'cloneThread',
    impl: 'startMmap',
    send: { type: 'mm.clone', thread: 'P', new: 'P1' },
    expects: 'mm.mmap',
  },
  {
    name: 'iommu: bind on iommu.unbind',
    machine: iommuMachine,
    input: { policy: 'seed-2021', pasidRange: [1, 8], devices: ['dsa0'] },
    wire: 'unbind',
    impl: 'bind',
    send: { type: 'iommu.unbind', mm: 1, device: 'dsa0', pasid: 1, count: 1 },
    expects: 'iommu.bind',
  },
  {
    name: 'wq: submit on wq.drain',
    machine: wqMachine,
    input: { device: 'dsa0', wqSize: 8, threshold: 4, autoComplete: false },
    wire: 'drain',
    impl: 'submit',
    send: { type: 'wq.drain', pasid: 1, mm: 1 },
    expects: 'wq.submit',
  },
  {
    name: 'kernel: fork on sys.spawn',
    machine: kernelMachine,
    input: undefined,
    wire: 'spawn',
    impl: 'fork',
    send: { type: 'sys.spawn', process: 'A' },
    expects: 'kernel.fork',
  },
];

/** One delivery of `msg` to a fresh actor of `machine`: what it sent (throws what the step throws). */
function deliver(machine: AnyStateMachine, input: unknown, msg: Message, engine: EngineKind): Sent[] {
  const b = fromMachine(machine, { engine });
  const out: Sent[] = [];
  const next = b.step(b.initial(input, 'x:test'), msg, out, 'x:test', 'user');
  expect(next).not.toBe(DEFER);
  return out;
}

describe.each(['compiled', 'xstate'] as const)('a mis-wired action throws (%s engine)', (engine) => {
  it.each(CASES)('$name', (c) => {
    // The machine as built takes the event: its own action runs and sends something.
    expect(deliver(c.machine, c.input, c.send, engine).length).toBeGreaterThan(0);
    const miswired = c.machine.provide({ actions: { [c.wire]: impl(c.machine, c.impl) } } as never);
    expect(() => deliver(miswired, c.input, c.send, engine)).toThrow(
      `Expected event ${JSON.stringify(c.send)} to have type matching "${c.expects}"`,
    );
  });
});
