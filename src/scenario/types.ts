/**
 * The normalized scenario: what `parseScenario` returns after validation, with every default filled in
 * (SPEC §6). The runtime consumes only this shape; the raw file shape lives in `schema.ts`.
 */
import type { CpuFeatures, Errno, MessageType, Policy, SysValue } from '../../machines/protocol.ts';

/** Every scenario op (SPEC §3), in the order the spec's table lists them. */
export const OPS = [
  'spawn', 'clone', 'fork', 'exec', 'exit', 'open', 'mmap', 'munmap', 'bind', 'unbind', 'close', 'enqcmd', 'arch_prctl', 'complete',
] as const;
export type Op = (typeof OPS)[number];

/** Device work-queue defaults: threshold defaults to the queue size, descriptors complete at once. */
export const DEFAULT_WQ_SIZE = 32;
export const DEFAULT_AUTO_COMPLETE = true;

/** The outcome a step may expect: a syscall's `ok` or errno, or ENQCMD's `accepted` / `retry` / `sigsegv`. */
export const NON_ERRNO_RESULTS = ['ok', 'accepted', 'retry', 'sigsegv', 'sigill'] as const;
export type ExpectedResult = (typeof NON_ERRNO_RESULTS)[number] | Errno;

/** Per-step expectations; every field optional. */
export interface Expect {
  readonly result?: ExpectedResult;
  /**
   * The syscall's returned value: an integer, or a string holding one (decimal or hex; hex lowercased,
   * `0x81ffffffffffffff`). Compared as integers: `6`, `"6"` and `"0x6"` all match 6.
   */
  readonly value?: SysValue;
  /** The mm's PASID after the step; `null` = none. */
  readonly pasid?: number | null;
  /** Message types caused by this step, in this order (others may interleave): svasim's or a registered kind's. */
  readonly events?: readonly string[];
  /** Message types that must not be caused by this step. */
  readonly noEvents?: readonly string[];
}

/** Fields every step may carry. */
interface StepCommon {
  readonly expect?: Expect;
  /** A human comment; ignored by the simulator. */
  readonly note?: string;
}

export interface SpawnStep extends StepCommon {
  readonly op: 'spawn';
  readonly process: string;
  /** Capabilities of the new process (`CAP_SYS_RAWIO` opens idxd_cdev_mmap's gate on unsafe devices); fork inherits them. */
  readonly caps?: readonly string[];
}
export interface CloneStep extends StepCommon { readonly op: 'clone'; readonly thread: string; readonly new: string }
export interface ForkStep extends StepCommon { readonly op: 'fork'; readonly thread: string; readonly new: string }
export interface ExecStep extends StepCommon { readonly op: 'exec'; readonly thread: string }
export interface ExitStep extends StepCommon { readonly op: 'exit'; readonly thread: string }
export interface BindStep extends StepCommon { readonly op: 'bind'; readonly thread: string; readonly device: string }
export interface UnbindStep extends StepCommon { readonly op: 'unbind'; readonly thread: string; readonly device: string }
/** `fd`: close that descriptor; `device`: unmap the device's portal and close every descriptor of it (exactly one: the loader checks). */
export interface CloseStep extends StepCommon { readonly op: 'close'; readonly thread: string; readonly device?: string; readonly fd?: string }
/** open(2) of the device's shared WQ file as descriptor `fd` (`cloexec`: O_CLOEXEC). */
export interface OpenStep extends StepCommon { readonly op: 'open'; readonly thread: string; readonly device: string; readonly fd: string; readonly cloexec?: boolean }
/** mmap(2) of descriptor `fd`'s portal into the thread's mm. */
export interface MmapStep extends StepCommon { readonly op: 'mmap'; readonly thread: string; readonly fd: string }
/** munmap(2) of the device's portal in the thread's mm. */
export interface MunmapStep extends StepCommon { readonly op: 'munmap'; readonly thread: string; readonly device: string }
export interface EnqcmdStep extends StepCommon { readonly op: 'enqcmd'; readonly thread: string; readonly device: string }
export interface ArchPrctlStep extends StepCommon {
  readonly op: 'arch_prctl';
  readonly thread: string;
  /** Normalized to a number: `"ARCH_ENABLE_TAGGED_ADDR"` and `"0x4002"` both become 0x4002. */
  readonly code: number;
  readonly arg?: number;
}
export interface CompleteStep extends StepCommon {
  readonly op: 'complete';
  readonly device: string;
  /** Descriptors to execute; absent = all queued. */
  readonly count?: number;
}

/** One scenario step, discriminated by `op`. */
export type Step =
  | SpawnStep | CloneStep | ForkStep | ExecStep | ExitStep | OpenStep | MmapStep | MunmapStep | BindStep | UnbindStep | CloseStep
  | EnqcmdStep | ArchPrctlStep | CompleteStep;
export type StepOf<O extends Op> = Extract<Step, { op: O }>;

export interface DeviceConfig {
  readonly name: string;
  readonly wqSize: number;
  /** Occupancy at which user (limited) portals get `retry`; 1 <= threshold <= wqSize. */
  readonly threshold: number;
  readonly autoComplete: boolean;
  /** idxd's `user_submission_safe` (absent: true); false: mmap needs CAP_SYS_RAWIO. */
  readonly userSubmissionSafe?: boolean;
  /** A registered device model's name (absent: svasim's work queue). */
  readonly kind?: string;
  /** That model's settings (its actor's `input.options`). */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** An actor of a registered kind, present from the start at `<prefix>:<name>`. */
export interface ActorConfig {
  readonly name: string;
  readonly kind: string;
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface IommuConfig {
  /** Inclusive; 1 <= min <= max <= 0xFFFFF. */
  readonly pasidRange: readonly [number, number];
}

/** End-of-run expectations. Empty records check nothing. */
export interface Final {
  /** Per process name: its mm's PASID, `null` = none. */
  readonly pasid: Readonly<Record<string, number | null>>;
  /** Per PASID (decimal string key): its refcount; checked under seed-2021 only. */
  readonly refs: Readonly<Record<string, number>>;
  /** Per thread name: IA32_PASID, `null` = unset. */
  readonly msr: Readonly<Record<string, number | null>>;
}

export interface Scenario {
  readonly scenario: 1;
  readonly name: string;
  readonly description?: string;
  /** The effective policy: defaults, then the file's, then the command line's override. */
  readonly policy: Policy;
  readonly cpu: CpuFeatures;
  readonly iommu: IommuConfig;
  readonly devices: readonly DeviceConfig[];
  /** Actors of registered kinds (absent when none). */
  readonly actors?: readonly ActorConfig[];
  readonly steps: readonly Step[];
  readonly final: Final;
  /** Message types that must never occur (svasim's or a registered kind's). */
  readonly forbid: readonly string[];
}
