/**
 * `svasim/machines`: svasim's statecharts, one xstate v5 machine per actor kind, with the input each is
 * created with and the context it keeps (SPEC §9).
 *
 * They are the same machine definitions the runtime steps; use them to draw, inspect or run svasim's
 * actors in your own xstate system (each at its address as `systemId`, created with the input types
 * below; {@link createSvasimRouter} delivers their messages and defers what a state cannot take yet).
 * `MACHINES` maps each {@link ActorKind} to its machine.
 *
 * @packageDocumentation
 */
export { MACHINES } from '../machines/index.ts';
export type { ActorKind } from '../machines/index.ts';
export { threadMachine } from '../machines/thread.ts';
export type { ThreadInput, ThreadContext } from '../machines/thread.ts';
export { mmMachine } from '../machines/mm.ts';
export type { MmInput, MmContext } from '../machines/mm.ts';
export { iommuMachine } from '../machines/iommu.ts';
export type { IommuInput, IommuContext, PasidEntry } from '../machines/iommu.ts';
export { wqMachine } from '../machines/wq.ts';
export type { WqInput, WqContext, Descriptor, InFlight } from '../machines/wq.ts';
export { kernelMachine } from '../machines/kernel.ts';
export type { KernelContext } from '../machines/kernel.ts';
export { fileMachine } from '../machines/file.ts';
export type { FileInput, FileContext } from '../machines/file.ts';
// Running them as xstate actors of your own system, routed as svasim routes them (src/interop/router.ts).
export { SvasimRouter, createSvasimRouter, createSvasimSystem, svasimActors } from './interop/router.ts';
export type { SvasimRouterOptions, SvasimActorSpec } from './interop/router.ts';
