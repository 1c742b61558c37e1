/**
 * Where each transition of svasim's machines comes from: one table of citations, by id — the kernel
 * function (or the hardware document) a transition models, and the file to read it in.
 *
 * The machines name the id on each transition (`meta: { cite: 'gp-fixup' }`, typed by
 * {@link TransitionMeta}), so the statechart and every reader of it — the inspector's details panel,
 * `svasim diagram`, Stately's inspector — read the same entry, and the words live here only. A
 * transition's comment in the machine says what the model does; this table says where the kernel does
 * it. Every entry was read in the kernel source (or the patch mail of the unmerged seed RFC); entries
 * that model hardware name Intel's documents instead of a kernel file.
 *
 * - `fn`: the function, or the call path (`a → b`) that decides; `file`: its path in the kernel tree
 *   (several, comma-separated, when the path crosses files), or the document.
 * - `seed`: where the seed-2021 policy (the unmerged RFC "Re-enable ENQCMD and PASID MSR", Fenghua Yu,
 *   2021-09-20, on a v5.15-era tree) models another function; {@link citationFor} picks it under that
 *   policy. Without it, both policies cite the same code.
 * - `model`: a rule of the model's own, with no kernel counterpart (a scenario naming a thread that does
 *   not exist, a device the mm does not hold): said so rather than cited.
 *
 * Pure data: no xstate, no I/O (the inspector's page may bundle it).
 */
import type { PasidPolicy } from './protocol.ts';

/** A kernel function (or a hardware document's rule) that a transition models. */
export interface KernelCitation {
  /** The function, or the call path that decides (`do_exit → exit_mm`). */
  readonly fn: string;
  /** Its file(s) in the kernel tree, or the document (Intel SDM, DSA or VT-d specification). */
  readonly file: string;
  /** What it decides, in one line (a version or commit where that matters). */
  readonly note?: string;
  /** The seed-2021 RFC's counterpart, when it is another function. */
  readonly seed?: Omit<KernelCitation, 'seed'>;
}

/** A rule of the model's own: no kernel code does this (the text says why the model needs it). */
export interface ModelRule {
  readonly model: string;
}

export type Citation = KernelCitation | ModelRule;

/** Every citation, by id. */
export const CITATIONS = {
  // ---- the CPU: ENQCMD and its exceptions (threads) ----
  'enqcmd-ud': {
    fn: 'ENQCMD → #UD',
    file: 'Intel SDM Vol. 2, ENQCMD',
    note: 'CPUID.(EAX=07H,ECX=0):ECX.ENQCMD is 0: the instruction is undefined, before IA32_PASID or the destination matter',
  },
  'enqcmd-gp': {
    fn: 'ENQCMD → #GP(0)',
    file: 'Intel SDM Vol. 2, ENQCMD',
    note: 'the PASID Valid field (bit 31) of IA32_PASID is 0: #GP before any store',
  },
  'enqcmd-store': {
    fn: 'ENQCMD (enqueue store)',
    file: 'Intel SDM Vol. 2, ENQCMD',
    note: 'a 64-byte non-posted store to the portal, the command carrying IA32_PASID[19:0]; #PF if the portal is not mapped',
  },
  'enqcmd-status': {
    fn: 'ENQCMD completes: ZF=0 Success, ZF=1 Retry',
    file: 'Intel SDM Vol. 2, ENQCMD; Intel DSA Architecture Specification §3.3.1',
    note: 'the shared WQ answered the non-posted store',
  },
  'portal-fault': {
    fn: 'exc_page_fault → do_user_addr_fault → bad_area → force_sig_fault(SIGSEGV)',
    file: 'arch/x86/mm/fault.c',
    note: 'the ENQCMD store hit no mapping (the portal was unmapped): #PF, SIGSEGV',
  },
  'syscall-return': {
    fn: 'do_syscall_64 → syscall_exit_to_user_mode',
    file: 'arch/x86/entry/common.c',
    note: 'the syscall returns to user mode',
  },
  // ---- #GP fixup and #UD (traps.c; the mm's side) ----
  'gp-fixup': {
    fn: 'exc_general_protection → try_fixup_enqcmd_gp',
    file: 'arch/x86/kernel/traps.c',
    note: 'ENQCMD enabled, mm_valid_pasid(current->mm), !current->pasid_activated: fix up (load IA32_PASID), else no fixup → SIGSEGV',
    seed: {
      fn: 'exc_general_protection → fixup_pasid_exception → __fixup_pasid_exception',
      file: 'arch/x86/kernel/traps.c, drivers/iommu/intel/svm.c',
      note: 'RFC patches 4/8 and 5/8: X86_FEATURE_ENQCMD, mm->pasid, !current->has_valid_pasid, then iommu_sva_alloc_pasid takes the task\'s reference (failure: no fixup)',
    },
  },
  'msr-write': {
    fn: 'try_fixup_enqcmd_gp: wrmsrl(MSR_IA32_PASID, pasid | MSR_IA32_PASID_VALID); current->pasid_activated = 1',
    file: 'arch/x86/kernel/traps.c',
    seed: {
      fn: '__fixup_pasid_exception: fpu__pasid_write(pasid); current->has_valid_pasid = 1',
      file: 'drivers/iommu/intel/svm.c, arch/x86/kernel/fpu/xstate.c',
      note: 'RFC patch 4/8',
    },
  },
  'gp-fixup-return': {
    fn: 'exc_general_protection: if (user_mode(regs) && try_fixup_enqcmd_gp()) return;',
    file: 'arch/x86/kernel/traps.c',
    note: 'v5.18+: before interrupts are enabled; back to user mode without a signal: the faulting ENQCMD executes again, now with a valid IA32_PASID',
    seed: {
      fn: 'exc_general_protection: if (user_mode(regs) && fixup_pasid_exception()) goto exit;',
      file: 'arch/x86/kernel/traps.c',
      note: 'RFC patch 4/8: after cond_local_irq_enable',
    },
  },
  'gp-sigsegv': {
    fn: 'exc_general_protection → gp_user_force_sig_segv → force_sig(SIGSEGV)',
    file: 'arch/x86/kernel/traps.c',
    note: 'no fixup: the #GP is the program\'s (svasim records the signal and lets the thread go on: README Fidelity 3)',
    seed: { fn: 'exc_general_protection → force_sig(SIGSEGV)', file: 'arch/x86/kernel/traps.c' },
  },
  'seed-fixup-ref': {
    fn: '__fixup_pasid_exception → iommu_sva_alloc_pasid(current->mm, …)',
    file: 'drivers/iommu/intel/svm.c, drivers/iommu/iommu-sva-lib.c',
    note: 'seed RFC patch 5/8: the task\'s reference on the mm\'s PASID (ioasid_get); a failure returns false (no fixup, SIGSEGV); merged kernels take none',
  },
  'ud-sigill': {
    fn: 'exc_invalid_op → handle_invalid_op → do_error_trap(…, X86_TRAP_UD, SIGILL, ILL_ILLOPN, …)',
    file: 'arch/x86/kernel/traps.c',
  },
  // ---- syscalls: processes and threads ----
  spawn: {
    fn: 'kernel_clone, then execve → begin_new_exec → exec_mmap',
    file: 'kernel/fork.c, fs/exec.c',
    note: 'a spawn stands for fork + exec of a new program: a new process on a fresh mm (no PASID, LAM off)',
  },
  clone: {
    fn: 'kernel_clone → copy_process → copy_mm (CLONE_VM: mm_users + 1) → copy_thread',
    file: 'kernel/fork.c, arch/x86/kernel/process.c',
    note: 'v6.4+ copy_thread sets MM_CONTEXT_LOCK_LAM for a CLONE_VM thread; fpu_clone leaves the child\'s IA32_PASID unset',
  },
  fork: {
    fn: 'copy_process → copy_mm → dup_mm (mm_init → mm_pasid_init); arch_dup_mmap → dup_lam',
    file: 'kernel/fork.c, arch/x86/include/asm/mmu_context.h',
    note: 'a new mm with no PASID; the portal is not copied (idxd_cdev_mmap sets VM_DONTCOPY); LAM and the context flags are copied',
  },
  execve: {
    fn: 'do_execve → alloc_bprm → bprm_mm_init (mm_alloc); begin_new_exec',
    file: 'fs/exec.c',
    note: 'the new mm exists before the old one is dropped',
  },
  'de-thread': {
    fn: 'begin_new_exec → de_thread → zap_other_threads',
    file: 'fs/exec.c, kernel/signal.c',
    note: 'exec kills every other thread of the process before switching mm',
  },
  'exec-mm': {
    fn: 'begin_new_exec → exec_mmap',
    file: 'fs/exec.c',
    note: 'a fresh mm: no PASID, LAM off, no context flags',
  },
  'exec-thread': {
    fn: 'begin_new_exec → exec_mmap; flush_thread → fpu_flush_thread → fpu_reset_fpregs',
    file: 'fs/exec.c, arch/x86/kernel/fpu/core.c',
    note: 'the thread switches to the new mm and IA32_PASID goes back to its init value; pasid_activated is not cleared (README Fidelity 5)',
  },
  'exec-mmap': {
    fn: 'exec_mmap → exec_mm_release → mm_release → deactivate_mm; mmput(old_mm)',
    file: 'fs/exec.c, kernel/fork.c',
    note: 'the exec\'ing thread leaves the old mm, which is torn down as its last user left',
    seed: {
      fn: 'exec_mmap → exec_mm_release → mm_release → deactivate_mm → pasid_put; mmput(old_mm)',
      file: 'fs/exec.c, arch/x86/include/asm/mmu_context.h, drivers/iommu/intel/svm.c',
      note: 'RFC patch 5/8: a thread that took the fixup drops its reference (iommu_sva_free_pasid)',
    },
  },
  'do-exit': {
    fn: 'do_exit',
    file: 'kernel/exit.c',
    note: 'the thread is gone; its mm hears it leave (exit_mm)',
  },
  'exit-mm': {
    fn: 'do_exit → exit_mm → exit_mm_release → mm_release → deactivate_mm; mmput',
    file: 'kernel/exit.c, kernel/fork.c',
    note: 'a thread leaves the mm (mm_users − 1); merged kernels drop nothing (pasid_activated is per task)',
    seed: {
      fn: 'do_exit → exit_mm → exit_mm_release → mm_release → deactivate_mm → pasid_put',
      file: 'kernel/exit.c, arch/x86/include/asm/mmu_context.h, drivers/iommu/intel/svm.c',
      note: 'RFC patch 5/8: a thread that took the fixup drops its reference (iommu_sva_free_pasid → ioasid_put)',
    },
  },
  'exit-mmap': {
    fn: 'do_exit → exit_mm → mmput → __mmput → exit_mmap → mmu_notifier_release',
    file: 'kernel/exit.c, kernel/fork.c, mm/mmap.c',
    note: 'the last user left: the address space is torn down (before exit_files: hazard H8)',
  },
  'exit-files': {
    fn: 'do_exit → exit_files → fput (each open file) → idxd_cdev_release',
    file: 'kernel/exit.c, fs/file.c, drivers/dma/idxd/cdev.c',
    note: 'after exit_mm: the files of the process are released (the release runs from task_work: README Fidelity)',
  },
  mmdrop: {
    fn: '__mmdrop → mm_pasid_drop → iommu_free_global_pasid',
    file: 'kernel/fork.c, drivers/iommu/iommu-sva.c',
    note: 'the mm\'s PASID goes back to the allocator (moved from __mmput by 2667ed10d9f0)',
    seed: {
      fn: '__mmdrop',
      file: 'kernel/fork.c',
      note: 'the seed RFC frees the PASID at its last ioasid_put, not here: an mm that still has one leaked a reference (invariant S2)',
    },
  },
  'arch-prctl': {
    fn: 'do_arch_prctl_64 → prctl_enable_tagged_addr',
    file: 'arch/x86/kernel/process_64.c',
    note: 'LAM: ARCH_GET_UNTAG_MASK, ARCH_ENABLE_TAGGED_ADDR, ARCH_GET_MAX_TAG_BITS, ARCH_FORCE_TAGGED_SVA; the checks per policy: machines/lam.ts',
  },
  // ---- the device file (idxd) ----
  'idxd-open': {
    fn: 'idxd_cdev_open → iommu_sva_bind_device(dev, current->mm); idxd_cdev_mmap',
    file: 'drivers/dma/idxd/cdev.c',
    note: 'bind = open (SVA bind on the opener\'s mm, ctx->pasid) + mmap of the one-page limited portal; the open fails with the bind\'s error',
  },
  'idxd-mmap': {
    fn: 'idxd_cdev_mmap',
    file: 'drivers/dma/idxd/cdev.c',
    note: 'first: !idxd->user_submission_safe && !capable(CAP_SYS_RAWIO) → -EPERM (e11452eb071b, INTEL-SA-01084); then current->mm != ctx->mm → -EPERM (8dfa57aabff6); vm_flags_set(vma, VM_DONTCOPY); the VMA holds the file',
  },
  munmap: {
    fn: 'do_vmi_munmap → remove_vma → fput',
    file: 'mm/mmap.c, mm/vma.c',
    note: 'the portal mapping goes, and with it its reference to the file',
  },
  'close-fd': {
    fn: 'close_fd → filp_close → fput → ____fput (task_work) → __fput → release',
    file: 'fs/file.c, fs/open.c, fs/file_table.c',
    note: 'the last reference of a file runs its release before the syscall returns to user space (task_work)',
  },
  'close-on-exec': {
    fn: 'begin_new_exec → do_close_on_exec',
    file: 'fs/exec.c, fs/file.c',
    note: 'after exec_mmap: only the O_CLOEXEC descriptors close; the others stay open in the new image',
  },
  'dup-fd': {
    fn: 'copy_process → copy_files → dup_fd (get_file on each descriptor)',
    file: 'kernel/fork.c, fs/file.c',
    note: 'fork copies the fd table: parent and child share every open file (and its close_on_exec bits)',
  },
  'mmgrab-drop': {
    fn: 'iommu_sva_unbind_device → iommu_domain_free → mmdrop(domain->mm)',
    file: 'drivers/iommu/iommu-sva.c, drivers/iommu/iommu.c',
    note: 'the SVA bond held its mm (mmgrab in iommu_sva_domain_alloc): the mm_struct, and under merged its PASID, outlive the process while a bound file is open',
    seed: {
      fn: 'intel_svm_unbind_mm → mmu_notifier_unregister → mmdrop',
      file: 'drivers/iommu/intel/svm.c, mm/mmu_notifier.c',
      note: 'v5.15-era: no SVA domain; intel_svm_bind_mm\'s mmu_notifier_register held the mm (mmgrab) until the svm\'s last device unbinds',
    },
  },
  'bad-fd': {
    fn: 'close_fd → file_close_fd: NULL → -EBADF; mmap: ksys_mmap_pgoff → fget: NULL → -EBADF',
    file: 'fs/file.c, fs/open.c, mm/mmap.c',
    note: 'the process has no such descriptor',
  },
  'model-fd-label': {
    model: 'scenarios name descriptors (the kernel numbers them): opening onto a name the process already has is the model\'s own EINVAL; bind takes the device\'s name, or the lowest free <device>.<k>',
  },
  'no-user-swq': {
    fn: 'idxd_init_module (support_enqcmd) → wq_shared_supported → idxd_drv_enable_wq',
    file: 'drivers/dma/idxd/init.c, drivers/dma/idxd/idxd.h, drivers/dma/idxd/device.c',
    note: 'no ENQCMD: every user shared WQ is refused (IDXD_SCMD_WQ_NO_SVM), idxd_wq_add_cdev never runs, open() fails in path lookup: ENOENT',
  },
  'sva-lam-refusal': {
    fn: 'iommu_sva_bind_device → iommu_alloc_mm_data: !arch_pgtable_dma_compat(mm) → -EBUSY',
    file: 'drivers/iommu/iommu-sva.c, arch/x86/include/asm/mmu_context.h',
    note: 'LAM enabled and not forced: no PASID for this mm (the 2022 PoC: arch_can_alloc_pasid in iommu_sva_alloc_pasid)',
  },
  'pasid-alloc': {
    fn: 'iommu_alloc_mm_data → iommu_alloc_global_pasid (ida_alloc_range)',
    file: 'drivers/iommu/iommu-sva.c, drivers/iommu/iommu.c',
    note: 'the mm gets the lowest free PASID, kept until __mmdrop',
    seed: {
      fn: 'iommu_sva_alloc_pasid → ioasid_alloc; mm->pasid = pasid',
      file: 'drivers/iommu/iommu-sva-lib.c, drivers/iommu/ioasid.c',
      note: 'the first bind\'s allocation is that bind\'s reference (refs 1)',
    },
  },
  'pasid-free': {
    fn: 'mm_pasid_drop: the mm has no PASID any more',
    file: 'drivers/iommu/iommu-sva.c',
    seed: {
      fn: 'iommu_sva_free_pasid: if (ioasid_put(mm->pasid)) mm->pasid = 0',
      file: 'drivers/iommu/iommu-sva-lib.c',
      note: 'the last reference went (an unbind\'s or a task\'s): the PASID is free for anyone (hazard H9)',
    },
  },
  'idxd-bound': {
    fn: 'idxd_cdev_open: ctx->pasid = iommu_sva_get_pasid(sva); idxd_cdev_mmap',
    file: 'drivers/dma/idxd/cdev.c',
    note: 'the file keeps the PASID it was bound with (ctx->pasid); the portal page is mapped VM_DONTCOPY',
  },
  'sva-unbind': {
    fn: 'iommu_sva_unbind_device',
    file: 'drivers/iommu/iommu-sva.c',
    note: 'a driver-level unbind: the PASID-table entry goes with the last bond of (device, PASID); the portal stays mapped (idxd never does this while mapped: README Fidelity 2)',
    seed: {
      fn: 'iommu_sva_unbind_device → iommu_sva_free_pasid → ioasid_put',
      file: 'drivers/iommu/iommu.c, drivers/iommu/iommu-sva-lib.c',
      note: 'each unbind call drops its bind\'s reference; the last one frees the PASID',
    },
  },
  'idxd-release': {
    fn: 'idxd_cdev_release → idxd_file_dev_release',
    file: 'drivers/dma/idxd/cdev.c',
    note: 'the file\'s release, once its last reference (descriptors and the portal mapping) is gone: drain the PASID, then unbind if still bound',
  },
  'idxd-drain': {
    fn: 'idxd_file_dev_release: if (wq_shared(wq)) idxd_device_drain_pasid(idxd, ctx->pasid)',
    file: 'drivers/dma/idxd/cdev.c, drivers/dma/idxd/device.c',
    note: 'unconditional for a shared WQ, even after a driver-level unbind: the device finishes every descriptor of the file\'s PASID (invariant G10)',
  },
  'idxd-release-unbind': {
    fn: 'idxd_file_dev_release: if (ctx->sva) iommu_sva_unbind_device(ctx->sva)',
    file: 'drivers/dma/idxd/cdev.c',
    note: 'after the drain, only if the file is still bound',
  },
  // ---- the IOMMU ----
  'sva-bind': {
    fn: 'iommu_sva_bind_device → iommu_alloc_mm_data; a bond exists: refcount_inc(&handle->users); else attach → intel_svm_set_dev_pasid',
    file: 'drivers/iommu/iommu-sva.c, drivers/iommu/intel/svm.c',
    note: 'the mm\'s PASID (allocated at its first bind), one bond per (device, PASID), the PASID-table entry programmed with the first bond',
    seed: {
      fn: 'iommu_sva_bind_device → iommu_sva_alloc_pasid (ioasid_alloc, or ioasid_get when the mm has one)',
      file: 'drivers/iommu/iommu.c, drivers/iommu/iommu-sva-lib.c, drivers/iommu/intel/svm.c',
      note: 'every bind call takes a reference on the mm\'s PASID',
    },
  },
  'seed-pasid-put': {
    fn: 'deactivate_mm → pasid_put → iommu_sva_free_pasid → ioasid_put',
    file: 'arch/x86/include/asm/mmu_context.h, drivers/iommu/intel/svm.c, drivers/iommu/iommu-sva-lib.c',
    note: 'seed RFC patch 5/8: a task that took the fixup drops its reference; the last one frees the PASID',
  },
  'mm-release': {
    fn: 'exit_mmap → mmu_notifier_release → intel_mm_release → intel_pasid_tear_down_entry(…, fault_ignore = true)',
    file: 'mm/mmap.c, drivers/iommu/intel/svm.c, drivers/iommu/intel/pasid.c',
    note: 'every entry of the mm\'s PASID cleared with Fault Processing Disable: later faults on it are not reported (hazard H8)',
  },
  'pasid-walk': {
    fn: 'scalable-mode PASID-table walk; DMAR fault reason 0x59 → dmar_fault → dmar_fault_do_one',
    file: 'Intel VT-d Architecture Specification; drivers/iommu/intel/dmar.c',
    note: 'a present entry translates through its mm\'s page tables; none: fault 0x59 (SM: Present bit in PASID Table Entry is clear), printed unless FPD is set',
  },
  // ---- the device (DSA shared work queue) ----
  'swq-limited-portal': {
    fn: 'shared WQ, limited portal: accept while occupancy < WQ threshold, else Retry',
    file: 'Intel DSA Architecture Specification §3.3.1',
    note: 'the queue never looks at the PASID (invariant G9)',
  },
  'dsa-dispatch': {
    fn: 'descriptors dispatched to an engine; each DMA is translated with the descriptor\'s PASID',
    file: 'Intel DSA Architecture Specification',
  },
  'dsa-completion': {
    fn: 'completion record written for the descriptor',
    file: 'Intel DSA Architecture Specification',
  },
  'dsa-fault': {
    fn: 'the descriptor\'s translation faulted: no completion record; the kernel only prints (dmar_fault_do_one)',
    file: 'Intel DSA Architecture Specification §3.13; drivers/iommu/intel/dmar.c',
    note: 'no SWERROR, event log or partial completion modelled (README Fidelity 9)',
  },
  'portal-flush': {
    fn: 'munmap → unmap_region → tlb_finish_mmu → flush_tlb_mm_range (IPIs to every CPU running the mm)',
    file: 'mm/mmap.c, mm/mmu_gather.c, arch/x86/mm/tlb.c',
    note: 'the flush returns only when no CPU can still store to the portal: an ENQCMD under way completes first (its descriptor is in the WQ) or faults after; so the release that follows drains it',
  },
  'idxd-drain-device': {
    fn: 'idxd_device_drain_pasid → idxd_cmd_exec(idxd, IDXD_CMD_DRAIN_PASID, …)',
    file: 'drivers/dma/idxd/device.c',
    note: 'the device completes every descriptor of the PASID before answering (README Fidelity 10)',
  },
  // ---- the model's own rules ----
  'model-no-such-thread': {
    model: 'a scenario step names a thread that was never created: ESRCH (in the kernel a syscall runs in a live task; there is no such path)',
  },
  'model-exited-thread': {
    model: 'a scenario step names a thread that has exited: ESRCH; late replies to it are dropped',
  },
  'model-not-held': {
    model: 'unbind or close of a device the mm does not hold: EINVAL (idxd has no such path: the fd would not exist)',
  },
} as const satisfies Readonly<Record<string, Citation>>;

export type CitationId = keyof typeof CITATIONS;

/** The citation ids, for checks and schemas. */
export const CITATION_IDS = Object.keys(CITATIONS) as [CitationId, ...CitationId[]];

/** What every transition of svasim's machines carries as xstate transition `meta`. */
export interface TransitionMeta {
  readonly cite: CitationId;
}

/** Is `id` a citation of the table? (Meta read from a machine definition is untyped.) */
export function isCitationId(id: unknown): id is CitationId {
  return typeof id === 'string' && Object.hasOwn(CITATIONS, id);
}

/** A citation as it applies under a PASID policy: seed-2021 reads the RFC's function where it has one. */
export type ResolvedCitation = Omit<KernelCitation, 'seed'> | ModelRule;

/** The citation `id` under `policy` (the seed RFC's counterpart under seed-2021, when there is one). */
export function citationFor(id: CitationId, policy: PasidPolicy): ResolvedCitation {
  const c: Citation = CITATIONS[id];
  if ('model' in c) return c;
  const { seed, ...own } = c;
  return policy === 'seed-2021' && seed !== undefined ? seed : own;
}

/** One line for people: `fn (file)`, or `the model's own rule: …`. */
export function describeCitation(c: ResolvedCitation): string {
  return 'model' in c ? `the model's own rule: ${c.model}` : `${c.fn} (${c.file})`;
}
