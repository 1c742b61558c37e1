/**
 * Linear Address Masking arch_prctl (x86-64 `do_arch_prctl_64`) and the LAM side of SVA bind, per policy.
 *
 * - `poc-2022`: Kirill Shutemov's PoC on the "[PATCHv8 00/11] Linear Address Masking enabling" thread
 *   (LKML, Sep 2022): enabling LAM with a PASID and without the force flag is -EBUSY; 0x4004 (`ARCH_XXX`)
 *   sets the per-mm flag; no LOCK_LAM.
 * - `v6.4`: the merged rules (`prctl_enable_tagged_addr`, arch/x86/kernel/process_64.c), checked in
 *   kernel order: -ENODEV, -EINVAL (PASID and not forced), -EBUSY (LOCK_LAM), -EINVAL (nr_bits 0 or > 6).
 * - `off`: kernel built without CONFIG_ADDRESS_MASKING: every LAM option falls to `default: -EINVAL`.
 *
 * Every refusal names the check that made it (a code of machines/refusals.ts), which the mm carries in
 * its `sys.return`: the log says why, and nothing downstream has to ask these rules again.
 */
import {
  ARCH_CODES,
  LAM_U57_BITS,
  UNTAG_MASK_OFF,
  UNTAG_MASK_U57,
  type CpuFeatures,
  type Errno,
  type LamPolicy,
  type LamState,
  type Refused,
  type SysValue,
} from './protocol.ts';
import type { Refusal } from './refusals.ts';

export interface ArchPrctlOutcome {
  readonly errno?: Errno;
  readonly value?: SysValue;
  readonly lam: LamState;
  /** Which kernel check refused it, when `errno` is set. */
  readonly reason?: Refusal;
}

const fail = (errno: Errno, lam: LamState, reason: Refusal): ArchPrctlOutcome => ({ errno, lam, reason });

/** `arch_prctl(code, arg)` issued by a thread of an mm whose LAM state is `lam` and PASID is `pasid`. */
export function archPrctl(
  policy: LamPolicy,
  cpu: CpuFeatures,
  lam: LamState,
  hasPasid: boolean,
  code: number,
  arg: number | undefined,
): ArchPrctlOutcome {
  if (policy === 'off') return fail('EINVAL', lam, 'no-address-masking');
  switch (code) {
    case ARCH_CODES.ARCH_GET_UNTAG_MASK:
      return { value: lam.enabled ? UNTAG_MASK_U57 : UNTAG_MASK_OFF, lam };
    case ARCH_CODES.ARCH_GET_MAX_TAG_BITS:
      return { value: cpu.lam ? LAM_U57_BITS : 0, lam };
    case ARCH_CODES.ARCH_FORCE_TAGGED_SVA:
      return { lam: { ...lam, force: true } };
    case ARCH_CODES.ARCH_ENABLE_TAGGED_ADDR:
      return enableTaggedAddr(policy, cpu, lam, hasPasid, arg ?? 0);
    default:
      return fail('EINVAL', lam, 'unknown-arch-prctl');
  }
}

function enableTaggedAddr(
  policy: 'poc-2022' | 'v6.4',
  cpu: CpuFeatures,
  lam: LamState,
  hasPasid: boolean,
  nrBits: number,
): ArchPrctlOutcome {
  if (!cpu.lam) return fail('ENODEV', lam, 'lam-no-cpu');
  if (policy === 'poc-2022') {
    if (lam.enabled) return fail('EBUSY', lam, 'lam-already-enabled'); // "Already enabled?"
    if (hasPasid && !lam.force) return fail('EBUSY', lam, 'lam-pasid-not-forced');
    if (nrBits === 0 || nrBits > LAM_U57_BITS) return fail('EINVAL', lam, 'lam-bad-nr-bits');
    return { lam: { ...lam, enabled: true } };
  }
  if (hasPasid && !lam.force) return fail('EINVAL', lam, 'lam-pasid-not-forced'); // EINVAL since fca1fdd2b0a6
  if (lam.lockLam) return fail('EBUSY', lam, 'lam-locked'); // also covers "already enabled"
  if (nrBits === 0 || nrBits > LAM_U57_BITS) return fail('EINVAL', lam, 'lam-bad-nr-bits');
  return { lam: { ...lam, enabled: true, lockLam: true } };
}

/** `arch_pgtable_dma_compat(mm)`: may this mm get a PASID / bind a device? (false -> bind fails -EBUSY) */
export function dmaCompatible(lam: LamState): boolean {
  return !lam.enabled || lam.force;
}

/**
 * The LAM side of SVA bind (`iommu_sva_alloc_pasid`, v6.4): an mm with LAM on and not forced gets no
 * PASID. `null`: LAM does not stand in the way (always so in a kernel without LAM).
 */
export function bindRefusal(policy: LamPolicy, lam: LamState): Refused | null {
  return policy !== 'off' && !dmaCompatible(lam) ? { errno: 'EBUSY', reason: 'lam-not-dma-compatible' } : null;
}

/** CLONE_VM thread creation: v6.4 `copy_thread()` sets MM_CONTEXT_LOCK_LAM (sticky). */
export function onCloneVm(policy: LamPolicy, lam: LamState): LamState {
  return policy === 'v6.4' && !lam.lockLam ? { ...lam, lockLam: true } : lam;
}
