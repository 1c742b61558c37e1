/**
 * Linear Address Masking arch_prctl (x86-64 `do_arch_prctl_64`) and the LAM side of SVA bind, per policy.
 *
 * - `poc-2022`: Kirill Shutemov's PoC on the LAM v8 thread (reference/002): enabling LAM with a PASID and
 *   without the force flag is -EBUSY; 0x4004 (`ARCH_XXX`) sets the per-mm flag; no LOCK_LAM.
 * - `v6.4`: the merged rules (kernel-semantics.md §3.16), checked in kernel order:
 *   -ENODEV, -EINVAL (PASID and not forced), -EBUSY (LOCK_LAM), -EINVAL (nr_bits 0 or > 6).
 * - `off`: kernel built without CONFIG_ADDRESS_MASKING: every LAM option falls to `default: -EINVAL`.
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
  type SysValue,
} from './protocol.ts';

export interface ArchPrctlOutcome {
  readonly errno?: Errno;
  readonly value?: SysValue;
  readonly lam: LamState;
  /** Which kernel check refused it (for people: traces, what-if), when `errno` is set. */
  readonly why?: string;
}

const fail = (errno: Errno, lam: LamState, why: string): ArchPrctlOutcome => ({ errno, lam, why });

/** `arch_prctl(code, arg)` issued by a thread of an mm whose LAM state is `lam` and PASID is `pasid`. */
export function archPrctl(
  policy: LamPolicy,
  cpu: CpuFeatures,
  lam: LamState,
  hasPasid: boolean,
  code: number,
  arg: number | undefined,
): ArchPrctlOutcome {
  if (policy === 'off') return fail('EINVAL', lam, 'no LAM in this kernel (lam=off): the LAM codes are unknown to arch_prctl');
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
      return fail('EINVAL', lam, `unknown arch_prctl code 0x${code.toString(16)}`);
  }
}

function enableTaggedAddr(
  policy: 'poc-2022' | 'v6.4',
  cpu: CpuFeatures,
  lam: LamState,
  hasPasid: boolean,
  nrBits: number,
): ArchPrctlOutcome {
  if (!cpu.lam) return fail('ENODEV', lam, 'the CPU has no LAM (X86_FEATURE_LAM)');
  const badBits = `nr_bits ${nrBits}: LAM_U57 takes 1 to ${LAM_U57_BITS}`;
  if (policy === 'poc-2022') {
    if (lam.enabled) return fail('EBUSY', lam, 'LAM is already enabled'); // "Already enabled?"
    if (hasPasid && !lam.force) return fail('EBUSY', lam, 'the mm has a PASID and ARCH_FORCE_TAGGED_SVA was not set');
    if (nrBits === 0 || nrBits > LAM_U57_BITS) return fail('EINVAL', lam, badBits);
    return { lam: { ...lam, enabled: true } };
  }
  if (hasPasid && !lam.force) return fail('EINVAL', lam, 'mm_valid_pasid() and ARCH_FORCE_TAGGED_SVA not set, since fca1fdd2b0a6'); // fca1fdd2b0a6
  if (lam.lockLam) return fail('EBUSY', lam, 'MM_CONTEXT_LOCK_LAM is set: a thread was created, or LAM is already enabled'); // also covers "already enabled"
  if (nrBits === 0 || nrBits > LAM_U57_BITS) return fail('EINVAL', lam, badBits);
  return { lam: { ...lam, enabled: true, lockLam: true } };
}

/** `arch_pgtable_dma_compat(mm)`: may this mm get a PASID / bind a device? (false -> bind fails -EBUSY) */
export function dmaCompatible(lam: LamState): boolean {
  return !lam.enabled || lam.force;
}

/** CLONE_VM thread creation: v6.4 `copy_thread()` sets MM_CONTEXT_LOCK_LAM (sticky). */
export function onCloneVm(policy: LamPolicy, lam: LamState): LamState {
  return policy === 'v6.4' && !lam.lockLam ? { ...lam, lockLam: true } : lam;
}
