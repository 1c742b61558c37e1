/**
 * Why a syscall failed: one short, stable code per kernel check that can refuse, carried as data in the
 * message that returns the errno (`sys.return`'s `reason`, and `iommu.bind_failed`'s on the way to it).
 *
 * The machine that makes the check names it when it refuses, so the log says which check fired and
 * nothing has to recompute it later (what-if used to call `archPrctl` again with a reconstructed state).
 * Records carry only the code, to keep log bytes small; the words and the kernel function are looked
 * up here when a person reads them (traces, what-if, the inspector). A code names the check, not the
 * errno: the same check may answer with different errnos under different policies
 * (`lam-pasid-not-forced` is EBUSY in the 2022 PoC and EINVAL in v6.4).
 *
 * Pure data: no xstate, no I/O (the inspector's page bundles this module). It imports nothing:
 * machines/protocol.ts imports `Refusal` from here, and holds `Refused` (an errno with its reason).
 */

export interface RefusalInfo {
  /** The check that refused, in words. */
  readonly check: string;
  /** The kernel function that makes it, when the kernel has one (some refusals are the model's own). */
  readonly where?: string;
}

/** Every refusal the machines produce, by code. */
export const REFUSALS = {
  // ---- arch_prctl (machines/lam.ts) ----
  'no-address-masking': {
    check: 'CONFIG_ADDRESS_MASKING is off: the LAM codes fall to the default case',
    where: 'do_arch_prctl_64',
  },
  'unknown-arch-prctl': { check: 'arch_prctl does not know this code', where: 'do_arch_prctl_64' },
  'lam-no-cpu': { check: 'the CPU lacks X86_FEATURE_LAM', where: 'prctl_enable_tagged_addr' },
  'lam-already-enabled': { check: 'LAM is already enabled', where: 'prctl_enable_tagged_addr' },
  'lam-pasid-not-forced': {
    check: 'the mm has a valid PASID and ARCH_FORCE_TAGGED_SVA was not set',
    where: 'prctl_enable_tagged_addr',
  },
  'lam-locked': {
    check: 'MM_CONTEXT_LOCK_LAM is set: a thread was created, or LAM is already enabled',
    where: 'prctl_enable_tagged_addr',
  },
  'lam-bad-nr-bits': { check: `nr_bits is 0 or more than LAM_U57's 6`, where: 'prctl_enable_tagged_addr' },
  // ---- bind (machines/lam.ts, machines/iommu.ts) ----
  'lam-not-dma-compatible': {
    check: 'LAM is enabled and ARCH_FORCE_TAGGED_SVA was not set: arch_pgtable_dma_compat is false',
    where: 'iommu_sva_alloc_pasid',
  },
  'pasid-exhausted': { check: 'no free PASID left in the IOMMU\'s range', where: 'iommu_sva_alloc_pasid' },
  'no-user-swq': {
    check: 'the CPU lacks ENQCMD: idxd enables no user shared work queue, so its device node does not exist (the open fails in path lookup)',
    where: 'idxd_drv_enable_wq (wq_shared_supported)',
  },
  // ---- mmap of a device file (machines/file.ts), descriptors (machines/mm.ts) ----
  'no-cap-sys-rawio': {
    check: 'the device is not user-submission safe and the process lacks CAP_SYS_RAWIO (e11452eb071b, INTEL-SA-01084)',
    where: 'idxd_cdev_mmap',
  },
  'file-of-other-mm': { check: 'the file was opened by another address space: current->mm != ctx->mm (8dfa57aabff6)', where: 'idxd_cdev_mmap' },
  'bad-fd': { check: 'the process has no such descriptor', where: 'fdget' },
  'fd-in-use': { check: 'the scenario named a descriptor the process already has (the model names descriptors; the kernel numbers them)' },
  // ---- unbind, close (machines/mm.ts) ----
  'not-bound': { check: 'the mm holds no bind of this device' },
  'not-open': { check: 'the mm has this device neither bound nor mapped' },
  // ---- no such thread (machines/kernel.ts, machines/thread.ts) ----
  'no-such-thread': { check: 'no thread of this name was ever created' },
  'thread-exited': { check: 'the thread has exited' },
} as const satisfies Readonly<Record<string, RefusalInfo>>;

export type Refusal = keyof typeof REFUSALS;
/** The codes, for the log schema's enum. */
export const REFUSAL_CODES = Object.keys(REFUSALS) as [Refusal, ...Refusal[]];

/** A refusal for people: the check, then the kernel function that makes it (no parentheses: it is shown inside some). */
export function describeRefusal(reason: Refusal): string {
  const r: RefusalInfo = REFUSALS[reason];
  return r.where === undefined ? r.check : `${r.check} — in ${r.where}`;
}
