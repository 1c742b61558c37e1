/**
 * Unit tests of the PASID lifetime rules per policy (machines/pasid.ts): every function under both
 * policies, with the values the machines feed them (refcounts before and after, a missing PASID).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allocRefusal,
  deactivate,
  fixupRef,
  freesAtMmdrop,
  gpFixup,
  hasRefcounts,
  onRebind,
  onUnbind,
  putRef,
  refsAtAlloc,
} from '../../machines/pasid.ts';
import { PASID_POLICIES } from '../../machines/protocol.ts';
import { REFUSALS } from '../../machines/refusals.ts';

describe('hasRefcounts', () => {
  it('seed-2021 counts references per PASID; merged does not', () => {
    expect(hasRefcounts('seed-2021')).toBe(true);
    expect(hasRefcounts('merged')).toBe(false);
  });
});

describe('allocRefusal (ioasid_alloc vs iommu_alloc_global_pasid)', () => {
  it('seed-2021: ENOMEM; merged: ENOSPC; both name the exhausted range as the check', () => {
    expect(allocRefusal('seed-2021')).toStrictEqual({ errno: 'ENOMEM', reason: 'pasid-exhausted' });
    expect(allocRefusal('merged')).toStrictEqual({ errno: 'ENOSPC', reason: 'pasid-exhausted' });
    expect(REFUSALS['pasid-exhausted'].where).toBe('iommu_sva_alloc_pasid');
  });
});

describe('refsAtAlloc', () => {
  it('seed-2021: the first bind holds one reference; merged: nothing to count', () => {
    expect(refsAtAlloc('seed-2021')).toBe(1);
    expect(refsAtAlloc('merged')).toBeNull();
  });
});

describe('onRebind (ioasid_get)', () => {
  it('seed-2021: one more reference; merged: none', () => {
    expect(onRebind('seed-2021', 1)).toStrictEqual({ refs: 2 });
    expect(onRebind('seed-2021', 5)).toStrictEqual({ refs: 6 });
    expect(onRebind('merged', 1)).toBeNull();
    expect(onRebind('merged', 0)).toBeNull();
  });
});

describe('putRef (ioasid_put)', () => {
  it('drops one reference and frees at zero', () => {
    expect(putRef(3)).toStrictEqual({ refs: 2, freed: false });
    expect(putRef(2)).toStrictEqual({ refs: 1, freed: false });
    expect(putRef(1)).toStrictEqual({ refs: 0, freed: true });
  });

  it('a put on a count already at zero (a missing entry reads 0) frees too', () => {
    expect(putRef(0)).toStrictEqual({ refs: -1, freed: true });
  });

  it('n gets then n puts come back to the start, freeing only at the last', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), (n) => {
        let refs = refsAtAlloc('seed-2021') ?? 0;
        for (let i = 0; i < n; i++) refs = onRebind('seed-2021', refs)?.refs ?? Number.NaN;
        expect(refs).toBe(n + 1);
        for (let i = 0; i < n; i++) {
          const p = putRef(refs);
          expect(p.freed).toBe(false);
          refs = p.refs;
        }
        expect(putRef(refs)).toStrictEqual({ refs: 0, freed: true });
      }),
    );
  });
});

describe('onUnbind (iommu_sva_free_pasid vs iommu_sva_unbind_device)', () => {
  it('seed-2021: the bind reference is put, the last one frees', () => {
    expect(onUnbind('seed-2021', 2)).toStrictEqual({ refs: 1, freed: false });
    expect(onUnbind('seed-2021', 1)).toStrictEqual({ refs: 0, freed: true });
  });

  it('merged: the unbind leaves the PASID with the mm', () => {
    expect(onUnbind('merged', 1)).toBeNull();
    expect(onUnbind('merged', 0)).toBeNull();
  });
});

describe('gpFixup (__fixup_pasid_exception vs try_fixup_enqcmd_gp)', () => {
  it('seed-2021 takes the task reference first; merged writes the MSR at once', () => {
    expect(gpFixup('seed-2021')).toBe('take-ref');
    expect(gpFixup('merged')).toBe('write-msr');
  });
});

describe('fixupRef (the task reference, seed-2021)', () => {
  it('one more reference on a live PASID', () => {
    expect(fixupRef(1)).toBe(2);
    expect(fixupRef(4)).toBe(5);
  });

  it('none on a PASID without references (unknown, or put to zero): the fixup fails', () => {
    expect(fixupRef(undefined)).toBeNull();
    expect(fixupRef(0)).toBeNull();
    expect(fixupRef(-1)).toBeNull();
  });
});

describe('deactivate (deactivate_mm -> pasid_put)', () => {
  it('seed-2021: a thread that took the fixup puts its reference on the mm PASID', () => {
    expect(deactivate('seed-2021', true, 7)).toBe(7);
  });

  it('seed-2021: nothing to put without a fixup, or without a PASID', () => {
    expect(deactivate('seed-2021', false, 7)).toBeNull();
    expect(deactivate('seed-2021', true, null)).toBeNull();
    expect(deactivate('seed-2021', false, null)).toBeNull();
  });

  it('merged: never (no refcount, only pasid_activated)', () => {
    expect(deactivate('merged', true, 7)).toBeNull();
    expect(deactivate('merged', false, 7)).toBeNull();
    expect(deactivate('merged', true, null)).toBeNull();
  });
});

describe('freesAtMmdrop (__mmdrop -> mm_pasid_drop)', () => {
  it('merged: the mm PASID is freed at the drop; nothing without one', () => {
    expect(freesAtMmdrop('merged', 3)).toBe(true);
    expect(freesAtMmdrop('merged', null)).toBe(false);
  });

  it('seed-2021: never (the last ioasid_put frees)', () => {
    expect(freesAtMmdrop('seed-2021', 3)).toBe(false);
    expect(freesAtMmdrop('seed-2021', null)).toBe(false);
  });
});

describe('the two policies', () => {
  it('refcounting and the mmdrop free are exclusive: every PASID has exactly one way back to the allocator', () => {
    for (const p of PASID_POLICIES) expect(hasRefcounts(p)).toBe(!freesAtMmdrop(p, 1));
  });
});
