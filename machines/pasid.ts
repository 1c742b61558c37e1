/**
 * The PASID lifetime rules of each policy, as pure functions: the IOMMU and the mm ask them instead of
 * branching on the policy themselves (as machines/lam.ts does for LAM).
 *
 * - `seed-2021`: the unmerged RFC "Re-enable ENQCMD and PASID MSR" (Fenghua Yu, 2021-09-20) on a v5.15-era
 *   SVA library (drivers/iommu/iommu-sva-lib.c): a PASID is refcounted — one reference per bind call not
 *   yet unbound (`iommu_sva_alloc_pasid` → `ioasid_alloc` / `ioasid_get`, dropped by
 *   `iommu_sva_free_pasid` → `ioasid_put`) and one per task that took the #GP fixup
 *   (`__fixup_pasid_exception`, dropped by `deactivate_mm` → `pasid_put`) — and freed at the last put.
 * - `merged`: Linux v5.18+ (tag x86-pasid-2022-03-21, 2667ed10d9f0; v6.9 handle sharing): the PASID
 *   belongs to the mm from its first bind until `__mmdrop` → `mm_pasid_drop`; no refcount, only the
 *   per-task `pasid_activated` flag (`try_fixup_enqcmd_gp`).
 *
 * Every function takes the policy and only the values it needs; none reads a machine's context. A
 * refusal comes back as data (an errno and a code of machines/refusals.ts), which the IOMMU carries in
 * its `iommu.bind_failed` and the mm in its `sys.return`.
 */
import type { Errno, PasidPolicy, Refused } from './protocol.ts';

/** What tells the two policies apart. A record over every policy: a new policy must state each. */
interface PolicyRules {
  /** PASIDs are refcounted (ioasid) and freed at the last put. */
  readonly refcounted: boolean;
  /** The errno of a bind that finds the range exhausted. */
  readonly exhausted: Errno;
  /** `__mmdrop` frees the mm's PASID (`mm_pasid_drop`). */
  readonly freedAtMmdrop: boolean;
}

const RULES: Readonly<Record<PasidPolicy, PolicyRules>> = {
  'seed-2021': { refcounted: true, exhausted: 'ENOMEM', freedAtMmdrop: false },
  merged: { refcounted: false, exhausted: 'ENOSPC', freedAtMmdrop: true },
};

/** Whether the policy counts references per PASID (seed-2021's ioasid refcount; merged has none). */
export function hasRefcounts(policy: PasidPolicy): boolean {
  return RULES[policy].refcounted;
}

/**
 * A bind that needs a new PASID finds the range exhausted. seed-2021: `iommu_sva_alloc_pasid` turns
 * `ioasid_alloc`'s INVALID_IOASID into -ENOMEM; merged (v6.4+): `iommu_alloc_global_pasid` →
 * `ida_alloc_range` fails with -ENOSPC (v5.18–v6.3 returned -ENOMEM: README Fidelity 6).
 */
export function allocRefusal(policy: PasidPolicy): Refused {
  return { errno: RULES[policy].exhausted, reason: 'pasid-exhausted' };
}

/**
 * References a newly allocated PASID starts with: seed-2021 `ioasid_alloc` gives the bind its own
 * reference (1); `null` under merged (`iommu_alloc_global_pasid`: nothing to count).
 */
export function refsAtAlloc(policy: PasidPolicy): number | null {
  return hasRefcounts(policy) ? 1 : null;
}

/**
 * A later bind of an mm that already has its PASID. seed-2021: `iommu_sva_alloc_pasid` takes a reference
 * on the existing one (`ioasid_get`): `refs` is the count before, the result the count after (a
 * `pasid.get`). `null` under merged: the mm keeps its PASID and nothing is counted.
 */
export function onRebind(policy: PasidPolicy, refs: number): { readonly refs: number } | null {
  return hasRefcounts(policy) ? { refs: refs + 1 } : null;
}

/** One reference dropped (`ioasid_put`, seed-2021): the count after, and whether it freed the PASID. */
export interface PutOutcome {
  readonly refs: number;
  /** The last reference went: the PASID is back in the allocator (a `pasid.free`). */
  readonly freed: boolean;
}

/**
 * `ioasid_put` (seed-2021): one reference dropped, the PASID freed when none is left. Both puts reach it:
 * an unbind's ({@link onUnbind}) and a task's at `deactivate_mm` ({@link deactivate}).
 */
export function putRef(refs: number): PutOutcome {
  const after = refs - 1;
  return { refs: after, freed: after <= 0 };
}

/**
 * One unbind call of a bond on the mm's PASID. seed-2021: `iommu_sva_free_pasid` → `ioasid_put` drops
 * the bind's reference ({@link putRef}); `null` under merged: `iommu_sva_unbind_device` leaves the PASID
 * to the mm until `__mmdrop` ({@link freesAtMmdrop}).
 */
export function onUnbind(policy: PasidPolicy, refs: number): PutOutcome | null {
  return hasRefcounts(policy) ? putRef(refs) : null;
}

/**
 * How the #GP handler fixes up a thread once it decided to (ENQCMD enabled, the mm has a PASID, the
 * thread not yet activated). seed-2021 `__fixup_pasid_exception`: take the task's reference first
 * (`take-ref`: through the IOMMU, which may refuse → SIGSEGV), then write the MSR; merged
 * `try_fixup_enqcmd_gp`: write IA32_PASID and set `pasid_activated` at once (`write-msr`).
 */
export function gpFixup(policy: PasidPolicy): 'take-ref' | 'write-msr' {
  return hasRefcounts(policy) ? 'take-ref' : 'write-msr';
}

/**
 * The task's reference taken by a seed-2021 fixup (`ioasid_get` on the mm's PASID): the count after, or
 * `null` when the PASID has no reference left to add to (it is being freed: no fixup, SIGSEGV).
 */
export function fixupRef(refs: number | undefined): number | null {
  return refs === undefined || refs <= 0 ? null : refs + 1;
}

/**
 * A thread leaves the mm (exit, exec, killed by exec's `de_thread`): `deactivate_mm`. seed-2021 calls
 * `pasid_put` there: a thread that took the fixup in this mm (`fixedUp`) drops its reference on the
 * mm's PASID — the PASID returned, to put (an `iommu.put`). `null`: nothing to drop (merged: no
 * refcount, only `pasid_activated`; no fixup taken; no PASID).
 */
export function deactivate(policy: PasidPolicy, fixedUp: boolean, pasid: number | null): number | null {
  return hasRefcounts(policy) && fixedUp ? pasid : null;
}

/**
 * Does the mm's last drop free its PASID? merged: `__mmdrop` → `mm_pasid_drop` →
 * `iommu_free_global_pasid` (moved from `__mmput` by 2667ed10d9f0), when the mm has one. seed-2021: no,
 * the last `ioasid_put` frees it (an mm that still has one at its drop leaked a reference: invariant S2).
 */
export function freesAtMmdrop(policy: PasidPolicy, pasid: number | null): boolean {
  return RULES[policy].freedAtMmdrop && pasid !== null;
}
