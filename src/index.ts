/**
 * `svasim`: the library's main entry point (SPEC §9).
 *
 * Run a scenario, replay or seek in an event log, explore every interleaving of a scenario
 * ({@link explore}), drive a {@link System} yourself with a scheduler, and read or write logs. The statecharts are in `svasim/machines`, the message vocabulary in
 * `svasim/protocol`.
 *
 * @example
 * ```js
 * import { loadScenario, runScenario, replayFile } from 'svasim';
 * const result = runScenario(loadScenario('seed-a-unbind-dmar'), { log: 'run.jsonl' });
 * console.log(result.ok, result.messages);
 * console.log(replayFile('run.jsonl').identical);
 * ```
 *
 * Your own actors join through the actor contract ({@link Behavior}, {@link fromMachine}, {@link fromDecider})
 * and a {@link Kinds} registry (or a plugin file, {@link loadPlugins}). Your xstate machines invoke svasim
 * as an actor ({@link fromSvasim}); svasim's machines run in your xstate system with {@link createSvasimRouter}.
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import type { Policy } from '../machines/protocol.ts';
import { loadScenarioFile, ScenarioError, type LoadOptions } from './scenario/load.ts';
import type { Scenario } from './scenario/types.ts';
import { builtinNames, builtinPath } from './scenarios/index.ts';

// Scenarios: the format, the loader and the runner.
export type { Scenario, Step, StepOf, Op, Expect, ExpectedResult, DeviceConfig, IommuConfig, Final } from './scenario/types.ts';
export { parseScenario, scenarioFromValue, loadScenarioFile, parsePolicyOverride, ScenarioError } from './scenario/load.ts';
export type { ScenarioIssue, ScenarioErrorLocation } from './scenario/load.ts';
export { runScenario, ScenarioRun, systemConfig, stepInput } from './runner/run.ts';
export type { RunOptions, RunResult, StepOutcome, Failure, ProcessSummary } from './runner/run.ts';
export { builtinNames } from './scenarios/index.ts';

// The runtime: the bus and its actors, the schedulers, the invariant monitor, state views.
export { System, SubscriberError } from './runtime/system.ts';
export type { SystemConfig, SystemOptions, SystemSnapshot, DeviceSpec, Delivered, EngineKind, ActorKind, ActorView } from './runtime/system.ts';
export { FifoScheduler, ListScheduler, ChoiceScheduler, RandomScheduler } from './runtime/scheduler.ts';
export type { Scheduler, Envelope, SchedulerDescription } from './runtime/scheduler.ts';
export { ofType, toAddress, fromAddress } from './runtime/streams.ts';
export type { DeliveredOf } from './runtime/streams.ts';
export { InvariantMonitor } from './runtime/monitor.ts';
export type { Violation } from './runtime/monitor.ts';
export { systemState, formatState, actorStates } from './runtime/state.ts';
export type { SystemState, ActorState } from './runtime/state.ts';

// The actor contract, actor kinds and plugins (composition with your own simulations).
export { DEFER, fromMachine, fromDecider } from './runtime/actor.ts';
export type { Behavior, Decider, BusMessage, Sent, StateValue, Defer, DeviceModelInput, ActorInput, BornInput } from './runtime/actor.ts';
export { Kinds, KindError } from './runtime/kinds.ts';
export type { KindDefinition, KindMonitor, KindOrigin, StepView, StandardSchema, Kind } from './runtime/kinds.ts';
export { loadPlugins, definePlugin, PluginError } from './cli/plugins.ts';
export type { Plugin } from './cli/plugins.ts';
export type { ActorSpec } from './runtime/system.ts';
export type { ActorConfig } from './scenario/types.ts';
export type { LoadOptions } from './scenario/load.ts';

// xstate interop: svasim as an xstate actor, and svasim's machines routed in your own xstate system.
export { fromSvasim, svasimLogic, recordEvent } from './interop/logic.ts';
export type { SvasimLogic, SvasimLogicOptions, SvasimEvent, SvasimInput, SvasimContext, SvasimSnapshot, SvasimPersistedSnapshot, SvasimRecord } from './interop/logic.ts';
export { ResumableRun } from './interop/resumable.ts';
export type { ResumableOptions, ResumableState } from './interop/resumable.ts';
export { SvasimRouter, createSvasimRouter, createSvasimSystem, svasimActors } from './interop/router.ts';
export type { SvasimRouterOptions, SvasimActorSpec } from './interop/router.ts';

// Event logs: the reader and the writer.
export { readLog, parseLog, streamLog, LogError } from './log/reader.ts';
export type { ParsedLog, LogEnding, LogStream, ReadOptions } from './log/reader.ts';
export { LogFileError } from './log/errors.ts';
export { LogWriter, RecordEncoder } from './log/writer.ts';
export type { LogWriterOptions, RecordFields } from './log/writer.ts';
export { headerLine, closingLine, recordLine } from './log/format.ts';
export type { LogHeader, ClosingRecord, PluginRef } from './log/format.ts';
export { pluginRefs } from './log/format.ts';
export { LOG_FORMAT_VERSION, MODEL_VERSION } from './version.ts';

// Replay, seeking (time travel) and what-if.
export { replay, replayFile } from './replay/replay.ts';
export type { ReplayResult, ReplayOptions, Checkpoint } from './replay/replay.ts';
export { SeekableLog, DivergenceError, stateAt } from './replay/checkpoints.ts';
export { whatIf, formatWhatIf } from './replay/whatif.ts';
export type { WhatIfResult, WhatIfRow, StepDigest } from './replay/whatif.ts';

// Exploration: every interleaving (breadth first, sleep sets, worker threads), sampling (random, PCT),
// counterexamples as ordinary logs, minimized.
export { explore, tuneGcForLanes, STRATEGIES, writeCounterexample, tracePath, minimize } from './explore/index.ts';
export type { ExploreOptions, ExploreProgress, ExploreSummary, ExploreEvent, Bound, Finding, SearchStats, Strategy, TransitionRef, Minimized } from './explore/index.ts';
export type { Trace as CounterexampleTrace } from './explore/index.ts';

/**
 * Load a scenario: a built-in one by name (see {@link builtinNames}, or `svasim list`), or a scenario
 * file by path. A name that is neither a built-in nor an existing file is a {@link ScenarioError}, and
 * so is a file that does not parse or check (its message names the file, line:column and JSON path of
 * every mistake).
 *
 * @param nameOrPath - a built-in name such as `'seed-a-unbind-dmar'`, or a path such as `'./my.json'`
 *   (a name ending in `.json` or containing `/` is always a path).
 * @param override - policy switches applied on top of the scenario's own (as `--policy` does).
 * @param options - `kinds`: the registry whose device models and actor kinds the scenario may name.
 * @returns the normalized scenario, ready for {@link runScenario}.
 */
export function loadScenario(nameOrPath: string, override?: Partial<Policy>, options: LoadOptions = {}): Scenario {
  const builtin = nameOrPath.endsWith('.json') || nameOrPath.includes('/') ? undefined : builtinPath(nameOrPath);
  if (builtin !== undefined) return loadScenarioFile(builtin, override);
  if (!nameOrPath.endsWith('.json') && !nameOrPath.includes('/') && !existsSync(nameOrPath)) {
    throw new ScenarioError(`"${nameOrPath}" is neither a scenario file nor a built-in scenario (built-ins: ${builtinNames().join(', ')})`);
  }
  return loadScenarioFile(nameOrPath, override, options);
}
