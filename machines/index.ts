/** Every machine kind and its statechart: the one table the runtime, the layouts and the CLI use. */
import type { AnyStateMachine } from 'xstate';
import { fileMachine } from './file.ts';
import { iommuMachine } from './iommu.ts';
import { kernelMachine } from './kernel.ts';
import { mmMachine } from './mm.ts';
import { threadMachine } from './thread.ts';
import { wqMachine } from './wq.ts';

export type ActorKind = 'kernel' | 'iommu' | 'thread' | 'mm' | 'wq' | 'file';

export const MACHINES: Readonly<Record<ActorKind, AnyStateMachine>> = {
  thread: threadMachine,
  mm: mmMachine,
  iommu: iommuMachine,
  wq: wqMachine,
  kernel: kernelMachine,
  file: fileMachine,
};
