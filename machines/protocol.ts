/**
 * The message vocabulary of svasim: one union for every message any actor sends.
 *
 * Names are dotted lowercase (`subsystem.verb`). The types listed in SPEC §5 are the public contract of
 * the event log; the others (`mm.*`, `iommu.*`, `kernel.*`, `thread.*`, `portal.store`, `wq.submit`,
 * `wq.drain`…) are the internal requests and replies between actors, logged like every other message.
 *
 * This module is pure data: no rxjs, no I/O. Machines and the runtime both import it.
 */
import type { Refusal } from './refusals.ts';

/**
 * Where a message goes: `user` (the scenario's programs), `kernel`, `iommu`, `monitor`, `thread:<name>`,
 * `mm:<n>`, `wq:<device>`, or `<prefix>:<name>` for an actor of a kind registered by a library user or a
 * plugin (src/runtime/kinds.ts).
 */
export type Address = BuiltinAddress | `${string}:${string}`;
/** The addresses of svasim's own actors. */
export type BuiltinAddress = 'user' | 'kernel' | 'iommu' | 'monitor' | `thread:${string}` | `mm:${number}` | `wq:${string}` | `file:${string}`;

export const ERRNOS = ['EBUSY', 'EINVAL', 'ENOMEM', 'ENOSPC', 'EOVERFLOW', 'ENODEV', 'EINTR', 'ESRCH', 'EPERM', 'EBADF', 'ENOENT'] as const;
export type Errno = (typeof ERRNOS)[number];

/**
 * A refused syscall: what it returns and why (a code of machines/refusals.ts). Here rather than next to
 * the codes: refusals.ts imports nothing, so this module can import its `Refusal` without a cycle.
 */
export interface Refused {
  readonly errno: Errno;
  readonly reason: Refusal;
}

export const PASID_POLICIES = ['seed-2021', 'merged'] as const;
export type PasidPolicy = (typeof PASID_POLICIES)[number];
export const LAM_POLICIES = ['poc-2022', 'v6.4', 'off'] as const;
export type LamPolicy = (typeof LAM_POLICIES)[number];

export interface Policy {
  readonly pasid: PasidPolicy;
  readonly lam: LamPolicy;
}
export interface CpuFeatures {
  readonly enqcmd: boolean;
  readonly lam: boolean;
}

export const DEFAULT_POLICY: Policy = { pasid: 'seed-2021', lam: 'poc-2022' };
export const DEFAULT_CPU: CpuFeatures = { enqcmd: true, lam: true };
/** Intel VT-d: PASID 0 is reserved (RID2PASID); 20-bit PASIDs give [1, 0xFFFFF]. */
export const DEFAULT_PASID_RANGE: readonly [number, number] = [1, 0xfffff];
export const PASID_MAX = 0xfffff;

/** VT-d fault reason 0x59: "SM: Present bit in PASID Table Entry is clear". */
export const DMAR_REASON_PASID_ENTRY_NOT_PRESENT = 0x59;

/** x86 arch_prctl LAM option codes (arch/x86/include/uapi/asm/prctl.h). */
export const ARCH_CODES = {
  ARCH_GET_UNTAG_MASK: 0x4001,
  ARCH_ENABLE_TAGGED_ADDR: 0x4002,
  ARCH_GET_MAX_TAG_BITS: 0x4003,
  ARCH_FORCE_TAGGED_SVA: 0x4004,
  /** The name the 2022 PoC gave 0x4004. */
  ARCH_XXX: 0x4004,
} as const;
export type ArchCodeName = keyof typeof ARCH_CODES;

/** Per-mm LAM state (x86 `mm->context`): LAM_U57 on or off, and the two context flags. */
export interface LamState {
  readonly enabled: boolean;
  /** MM_CONTEXT_LOCK_LAM: set by the first CLONE_VM thread creation and by enabling (v6.4). */
  readonly lockLam: boolean;
  /** MM_CONTEXT_FORCE_TAGGED_SVA (MM_CONTEXT_XXX in the PoC): LAM and SVA may coexist. */
  readonly force: boolean;
}
export const LAM_OFF: LamState = { enabled: false, lockLam: false, force: false };

/**
 * A descriptor in a process's fd table: the file it refers to, its device, `cloexec` (O_CLOEXEC: exec
 * closes it), and `bound` (it is this process's own open, and its file's SVA bond is still there: what
 * the scenario's driver-level `unbind` acts on).
 */
export interface FdEntry {
  readonly file: string;
  readonly device: string;
  readonly cloexec: boolean;
  /** This process opened it and its bond is still there: what an `unbind` step acts on (inherited or exec-kept: false). */
  readonly bound: boolean;
}

/** A syscall's returned value: a number, or a 64-bit quantity as a hex string. */
export type SysValue = number | string;

/** Every message, discriminated by `type`. Payload fields sit beside `type`, as in the log. */
export type Message =
  // ---- inputs: scenario steps, sent by `user` ----
  | { type: 'sys.spawn'; process: string; caps?: readonly string[] }
  | { type: 'sys.clone'; thread: string; new: string }
  | { type: 'sys.fork'; thread: string; new: string }
  | { type: 'sys.exec'; thread: string }
  | { type: 'sys.exit'; thread: string }
  | { type: 'sys.bind'; thread: string; device: string }
  | { type: 'sys.unbind'; thread: string; device: string }
  /** `fd`: close that descriptor; `device`: munmap the device's portal and close its every descriptor. */
  | { type: 'sys.close'; thread: string; device?: string; fd?: string }
  | { type: 'sys.open'; thread: string; device: string; fd: string; cloexec?: boolean }
  | { type: 'sys.mmap'; thread: string; fd: string }
  | { type: 'sys.munmap'; thread: string; device: string }
  | { type: 'sys.arch_prctl'; thread: string; code: number; arg?: number }
  | { type: 'insn.enqcmd'; thread: string; device: string }
  | { type: 'wq.execute'; device: string; count?: number }
  // ---- thread -> mm (the syscall or trap runs in the context of current->mm) ----
  | { type: 'mm.clone'; thread: string; new: string }
  | { type: 'mm.fork'; thread: string; new: string }
  /** `fixedUp`: the thread took the #GP fixup in this mm (its IA32_PASID is valid), so it holds a ref (seed-2021). */
  | { type: 'mm.exec'; thread: string; fixedUp: boolean }
  | { type: 'mm.thread_exit'; thread: string; fixedUp: boolean }
  | { type: 'mm.bind'; thread: string; device: string }
  | { type: 'mm.unbind'; thread: string; device: string }
  | { type: 'mm.close'; thread: string; device?: string; fd?: string }
  | { type: 'mm.open'; thread: string; device: string; fd: string; cloexec: boolean }
  | { type: 'mm.mmap'; thread: string; fd: string }
  | { type: 'mm.munmap'; thread: string; device: string }
  /** do_close_on_exec in the new mm's process: close the close-on-exec descriptors, then return. */
  | { type: 'mm.close_on_exec'; thread: string }
  | { type: 'mm.arch_prctl'; thread: string; code: number; arg?: number }
  | { type: 'trap.gp'; thread: string; activated: boolean }
  | { type: 'portal.store'; thread: string; device: string; pasid: number }
  // ---- mm <-> kernel (process table, new mm ids) ----
  | { type: 'kernel.fork'; thread: string; process: string; lam: LamState; caps?: readonly string[]; fds?: Readonly<Record<string, FdEntry>> }
  | { type: 'kernel.exec'; thread: string; process: string; caps?: readonly string[]; fds?: Readonly<Record<string, FdEntry>> }
  /** `fds`, `caps`: the process's fd table (fork: dup_fd's copy; exec: kept) and capabilities. */
  | { type: 'mm.create'; process: string; threads: readonly string[]; lam: LamState; caps?: readonly string[]; fds?: Readonly<Record<string, FdEntry>> }
  // ---- to threads ----
  | { type: 'thread.start'; process: string; mm: number }
  | { type: 'thread.exec'; mm: number }
  | { type: 'thread.kill'; thread: string }
  | { type: 'msr.write'; thread: string; pasid: number }
  | { type: 'gp.fixup'; thread: string }
  | { type: 'signal.sigsegv'; thread: string; reason: 'gp' | 'portal' }
  /** ENQCMD on a CPU without the instruction: #UD (exc_invalid_op), before IA32_PASID or the portal matter. */
  | { type: 'trap.ud'; thread: string }
  /** do_error_trap(…, X86_TRAP_UD, SIGILL, ILL_ILLOPN): the #UD's signal. */
  | { type: 'signal.sigill'; thread: string }
  /**
   * `reason`: the kernel check that refused (machines/refusals.ts). The machines set it on every return
   * with an `errno`; it is optional because logs of models before 0.2.0 do not have it.
   */
  | { type: 'sys.return'; thread: string; errno?: Errno; value?: SysValue; reason?: Refusal }
  // ---- mm -> iommu ----
  | { type: 'iommu.bind'; mm: number; device: string; pasid: number | null }
  /** `file`: the file whose bond this is; it gets `iommu.unbound` (absent: the mm does). */
  | { type: 'iommu.unbind'; mm: number; device: string; pasid: number; count: number; file?: string }
  | { type: 'iommu.get'; mm: number; pasid: number; thread: string }
  | { type: 'iommu.put'; mm: number; pasid: number; thread: string }
  | { type: 'iommu.teardown'; mm: number; pasid: number }
  | { type: 'iommu.free'; mm: number; pasid: number }
  // ---- iommu -> mm ----
  | { type: 'pasid.alloc'; pasid: number; mm: number }
  | { type: 'pasid.get'; pasid: number; refs: number; thread?: string }
  | { type: 'pasid.put'; pasid: number; refs: number }
  | { type: 'pasid.free'; pasid: number }
  | { type: 'pasidtable.set'; device: string; pasid: number }
  | { type: 'pasidtable.clear'; device: string; pasid: number; silent?: boolean }
  | { type: 'iommu.bound'; device: string; pasid: number }
  /** `reason` as in `sys.return` (optional for the same reason). */
  | { type: 'iommu.bind_failed'; device: string; errno: Errno; reason?: Refusal }
  | { type: 'iommu.get_failed'; pasid: number; thread: string }
  | { type: 'iommu.unbound'; device: string; pasid: number }
  | { type: 'iommu.torndown'; pasid: number }
  // ---- device work queues ----
  /** `mm`: the submitter's address space (observer data for invariant G10; hardware carries only the PASID). */
  | { type: 'wq.submit'; thread: string; pasid: number; mm?: number }
  /** `file`: the releasing file (idxd_file_dev_release), which gets `wq.drained`; absent: the mm does. */
  | { type: 'wq.drain'; pasid: number; mm: number; file?: string }
  | { type: 'wq.drained'; device: string; pasid: number }
  | { type: 'wq.accept'; thread: string; pasid: number; occupancy: number }
  | { type: 'wq.retry'; thread: string; occupancy: number }
  | { type: 'wq.complete'; thread: string; pasid: number }
  /** `mm`: the descriptor's submitter (from `wq.submit`; a device model may omit it, then G10 cannot check it). */
  | { type: 'iommu.translate'; device: string; pasid: number; thread: string; mm?: number }
  /** `space`: the mm whose page tables the PASID-table entry walks (G10: must be the submitter's `mm`). */
  | { type: 'iommu.translated'; device: string; pasid: number; thread: string; mm?: number; space?: number }
  | { type: 'fault.dmar'; device: string; pasid: number; reason: number; suppressed?: boolean; thread: string }
  // ---- device files: an idxd user context (struct file + idxd_user_context) ----
  /**
   * idxd_cdev_open, once the opener's mm bound SVA: the file's birth. `mm` is ctx->mm, `pasid`
   * ctx->pasid, `holder` its first reference (the opener's fd), `safe` the device's
   * user_submission_safe.
   */
  | { type: 'file.open'; device: string; mm: number; pasid: number; holder: string; safe: boolean }
  /** idxd_cdev_mmap from `mm` (current->mm) with the caller's capabilities; `holder` names the mapping. */
  | { type: 'file.mmap'; thread: string; mm: number; caps: readonly string[]; holder: string; reply: string }
  | { type: 'file.mapped'; thread: string; device: string; file: string; holder: string; errno?: Errno; reason?: Refusal }
  /**
   * An ENQCMD store through the portal `mm` mapped from this file (the mm found the mapping): the file
   * passes it to its device. Through the file, a store the mm let through reaches the device before the
   * mapping's last reference goes (munmap's TLB flush waits for stores under way), so before a release's drain.
   */
  | { type: 'file.store'; thread: string; device: string; pasid: number; mm: number }
  /** dup_fd's get_file: one more reference (acked, so a later put on another channel cannot overtake it). */
  | { type: 'file.get'; holder: string; reply: string }
  | { type: 'file.got'; holder: string; file: string }
  /** fput: a reference goes (a closed fd, an unmapped portal); the last one releases the file. */
  | { type: 'file.put'; holder: string; reply: string }
  /** The put is done (`released`: it was the last reference and the release ran first, as task_work does). */
  | { type: 'file.dropped'; holder: string; file: string; released: boolean }
  /** The scenario's driver-level unbind of this file's bond (iommu_sva_unbind_device; ctx->sva = NULL). */
  | { type: 'file.unbind'; thread: string; reply: string }
  | { type: 'file.unbound'; thread: string; file: string }
  /** iommu_domain_free -> mmdrop: the bond no longer holds ctx->mm (its mm_count). */
  | { type: 'mm.drop'; device: string; file: string }
  // ---- monitors ----
  | { type: 'invariant.violation'; invariant: string; detail: string };

/**
 * A message of a kind registered by a library user or a plugin: its own dotted `type` (never one of
 * svasim's) and payload fields, checked by the schema the kind registered for that type.
 */
export interface ForeignMessage {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** What travels on the bus: svasim's messages and those of registered kinds. */
export type AnyMessage = Message | ForeignMessage;

/** Whether a message is one of svasim's own (its type is in {@link MESSAGE_TYPES}): narrows to {@link Message}. */
export function isBuiltinMessage(m: AnyMessage): m is Message {
  return TYPE_SET.has(m.type);
}

export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

/** What a machine emits: a message and its destination. The runtime adds `from`, `seq`, `cause`, `step`. */
export type Outgoing = Message & { readonly to: Address };

/** Every message type, for validating `expect.events`, `noEvents` and `forbid` in scenarios. */
export const MESSAGE_TYPES = [
  'sys.spawn', 'sys.clone', 'sys.fork', 'sys.exec', 'sys.exit', 'sys.bind', 'sys.unbind', 'sys.close', 'sys.open', 'sys.mmap', 'sys.munmap',
  'sys.arch_prctl', 'insn.enqcmd', 'wq.execute',
  'mm.clone', 'mm.fork', 'mm.exec', 'mm.thread_exit', 'mm.bind', 'mm.unbind', 'mm.close', 'mm.open', 'mm.mmap', 'mm.munmap', 'mm.close_on_exec', 'mm.arch_prctl',
  'trap.gp', 'portal.store', 'kernel.fork', 'kernel.exec', 'mm.create',
  'thread.start', 'thread.exec', 'thread.kill', 'msr.write', 'gp.fixup', 'signal.sigsegv', 'trap.ud', 'signal.sigill', 'sys.return',
  'iommu.bind', 'iommu.unbind', 'iommu.get', 'iommu.put', 'iommu.teardown', 'iommu.free',
  'pasid.alloc', 'pasid.get', 'pasid.put', 'pasid.free', 'pasidtable.set', 'pasidtable.clear',
  'iommu.bound', 'iommu.bind_failed', 'iommu.get_failed', 'iommu.unbound', 'iommu.torndown',
  'wq.submit', 'wq.drain', 'wq.drained', 'wq.accept', 'wq.retry', 'wq.complete',
  'iommu.translate', 'iommu.translated', 'fault.dmar', 'invariant.violation',
  'file.open', 'file.mmap', 'file.mapped', 'file.store', 'file.get', 'file.got', 'file.put', 'file.dropped', 'file.unbind', 'file.unbound', 'mm.drop',
] as const satisfies readonly MessageType[];

// Compile-time check that MESSAGE_TYPES lists every member of the union.
type Missing = Exclude<MessageType, (typeof MESSAGE_TYPES)[number]>;
const _allListed: [Missing] extends [never] ? true : Missing = true;
void _allListed;

const TYPE_SET: ReadonlySet<string> = new Set<string>(MESSAGE_TYPES);

export const threadAddr = (name: string): `thread:${string}` => `thread:${name}`;
export const mmAddr = (id: number): `mm:${number}` => `mm:${id}`;
export const wqAddr = (device: string): `wq:${string}` => `wq:${device}`;
export const fileAddr = (id: string): `file:${string}` => `file:${id}`;

/** 64-bit untag masks as the kernel reports them via ARCH_GET_UNTAG_MASK. */
export const UNTAG_MASK_OFF = '0xffffffffffffffff';
/** ~GENMASK(62, 57): LAM_U57. */
export const UNTAG_MASK_U57 = '0x81ffffffffffffff';
export const LAM_U57_BITS = 6;
