/**
 * What a scenario's steps put on the bus, and the system a scenario configures: shared by `run`, replay
 * and exploration (whose worker threads load this without the runner, the log writer or the schemas).
 */
import { threadAddr, wqAddr, type Address, type Message } from '../../machines/protocol.ts';
import type { SystemConfig } from '../runtime/system.ts';
import type { Scenario, Step } from '../scenario/types.ts';

/** The {@link SystemConfig} of a scenario (its policy, CPU, PASID range, devices and actors). */
export function systemConfig(s: Scenario): SystemConfig {
  return { policy: s.policy, cpu: s.cpu, pasidRange: s.iommu.pasidRange, devices: s.devices, ...(s.actors ? { actors: s.actors } : {}) };
}

type Input = { msg: Message; to: Address };

/**
 * The input message each op puts on the bus, and where it goes. A record over every op is exhaustive
 * by construction (a missing op is a compile error) and is cheap on the per-step hot path.
 */
const INPUTS: { readonly [O in Step['op']]: (s: Extract<Step, { op: O }>) => Input } = {
  spawn: (s) => ({ msg: s.caps === undefined ? { type: 'sys.spawn', process: s.process } : { type: 'sys.spawn', process: s.process, caps: s.caps }, to: 'kernel' }),
  clone: (s) => ({ msg: { type: 'sys.clone', thread: s.thread, new: s.new }, to: threadAddr(s.thread) }),
  fork: (s) => ({ msg: { type: 'sys.fork', thread: s.thread, new: s.new }, to: threadAddr(s.thread) }),
  exec: (s) => ({ msg: { type: 'sys.exec', thread: s.thread }, to: threadAddr(s.thread) }),
  exit: (s) => ({ msg: { type: 'sys.exit', thread: s.thread }, to: threadAddr(s.thread) }),
  bind: (s) => ({ msg: { type: 'sys.bind', thread: s.thread, device: s.device }, to: threadAddr(s.thread) }),
  unbind: (s) => ({ msg: { type: 'sys.unbind', thread: s.thread, device: s.device }, to: threadAddr(s.thread) }),
  close: (s) => ({ msg: { type: 'sys.close', thread: s.thread, ...(s.fd !== undefined ? { fd: s.fd } : { device: s.device }) }, to: threadAddr(s.thread) }),
  open: (s) => ({ msg: { type: 'sys.open', thread: s.thread, device: s.device, fd: s.fd, ...(s.cloexec === undefined ? {} : { cloexec: s.cloexec }) }, to: threadAddr(s.thread) }),
  mmap: (s) => ({ msg: { type: 'sys.mmap', thread: s.thread, fd: s.fd }, to: threadAddr(s.thread) }),
  munmap: (s) => ({ msg: { type: 'sys.munmap', thread: s.thread, device: s.device }, to: threadAddr(s.thread) }),
  enqcmd: (s) => ({ msg: { type: 'insn.enqcmd', thread: s.thread, device: s.device }, to: threadAddr(s.thread) }),
  arch_prctl: (s) => ({
    msg: s.arg === undefined ? { type: 'sys.arch_prctl', thread: s.thread, code: s.code } : { type: 'sys.arch_prctl', thread: s.thread, code: s.code, arg: s.arg },
    to: threadAddr(s.thread),
  }),
  complete: (s) => ({
    msg: s.count === undefined ? { type: 'wq.execute', device: s.device } : { type: 'wq.execute', device: s.device, count: s.count },
    to: wqAddr(s.device),
  }),
};

/** The input message a step puts on the bus, and where it goes. */
export function stepInput(step: Step): Input {
  return (INPUTS[step.op] as (s: Step) => Input)(step);
}

