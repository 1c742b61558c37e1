/**
 * Unit tests of the LAM arch_prctl rules (machines/lam.ts) against kernel-semantics.md §3.16 and the
 * 2022 PoC (reference/002): every errno in kernel check order, the values the GET options return, the
 * DMA-compatibility check of SVA bind, and LOCK_LAM on CLONE_VM.
 */
import { describe, expect, it } from 'vitest';
import { archPrctl, bindRefusal, dmaCompatible, onCloneVm, type ArchPrctlOutcome } from '../../machines/lam.ts';
import { describeRefusal, REFUSALS, type Refusal } from '../../machines/refusals.ts';
import {
  ARCH_CODES,
  LAM_OFF,
  LAM_U57_BITS,
  UNTAG_MASK_OFF,
  UNTAG_MASK_U57,
  type CpuFeatures,
  type LamPolicy,
  type LamState,
} from '../../machines/protocol.ts';

const GET_MASK = ARCH_CODES.ARCH_GET_UNTAG_MASK;
const ENABLE = ARCH_CODES.ARCH_ENABLE_TAGGED_ADDR;
const GET_BITS = ARCH_CODES.ARCH_GET_MAX_TAG_BITS;
const FORCE = ARCH_CODES.ARCH_FORCE_TAGGED_SVA;
const ALL_CODES = [GET_MASK, ENABLE, GET_BITS, FORCE] as const;

const CPU: CpuFeatures = { enqcmd: true, lam: true };
const NO_LAM_CPU: CpuFeatures = { enqcmd: true, lam: false };

const lam = (over: Partial<LamState> = {}): LamState => ({ ...LAM_OFF, ...over });
const ENABLED_POC = lam({ enabled: true });
const ENABLED_V64 = lam({ enabled: true, lockLam: true });

/** Enable LAM: `arch_prctl(ARCH_ENABLE_TAGGED_ADDR, nrBits)`. */
const enable = (policy: LamPolicy, state: LamState, hasPasid: boolean, nrBits: number | undefined, cpu = CPU): ArchPrctlOutcome =>
  archPrctl(policy, cpu, state, hasPasid, ENABLE, nrBits);

describe('ARCH_CODES', () => {
  it('has the uapi values, and ARCH_XXX is the PoC name of 0x4004', () => {
    expect(ARCH_CODES).toMatchObject({
      ARCH_GET_UNTAG_MASK: 0x4001,
      ARCH_ENABLE_TAGGED_ADDR: 0x4002,
      ARCH_GET_MAX_TAG_BITS: 0x4003,
      ARCH_FORCE_TAGGED_SVA: 0x4004,
      ARCH_XXX: 0x4004,
    });
  });
});

describe('lam policy off (kernel without CONFIG_ADDRESS_MASKING)', () => {
  it.each(ALL_CODES)('code %d -> EINVAL and no state change', (code) => {
    for (const state of [LAM_OFF, ENABLED_V64, lam({ force: true })]) {
      for (const hasPasid of [false, true]) {
        for (const cpu of [CPU, NO_LAM_CPU]) {
          const out = archPrctl('off', cpu, state, hasPasid, code, 6);
          expect(out.errno).toBe('EINVAL');
          expect(out.reason).toBe('no-address-masking');
          expect(out.value).toBeUndefined();
          expect(out.lam).toStrictEqual(state);
        }
      }
    }
  });

  it('ARCH_FORCE_TAGGED_SVA does not set the force flag', () => {
    expect(archPrctl('off', CPU, LAM_OFF, false, FORCE, undefined).lam.force).toBe(false);
  });
});

describe.each(['poc-2022', 'v6.4'] as const)('%s: options other than enable', (policy) => {
  it('ARCH_GET_UNTAG_MASK: all ones with LAM off, ~GENMASK(62,57) with LAM_U57', () => {
    expect(UNTAG_MASK_OFF).toBe('0xffffffffffffffff');
    expect(UNTAG_MASK_U57).toBe('0x81ffffffffffffff');
    const off = archPrctl(policy, CPU, LAM_OFF, false, GET_MASK, undefined);
    expect(off).toStrictEqual({ value: '0xffffffffffffffff', lam: LAM_OFF });
    const on = policy === 'v6.4' ? ENABLED_V64 : ENABLED_POC;
    expect(archPrctl(policy, CPU, on, true, GET_MASK, undefined)).toStrictEqual({ value: '0x81ffffffffffffff', lam: on });
    // ~GENMASK(62, 57) really is that number.
    const genmask = ((1n << 63n) - 1n) ^ ((1n << 57n) - 1n);
    expect(BigInt(UNTAG_MASK_U57)).toBe(((1n << 64n) - 1n) ^ genmask);
  });

  it('ARCH_GET_MAX_TAG_BITS: 6 with the LAM CPU feature, 0 without', () => {
    expect(LAM_U57_BITS).toBe(6);
    expect(archPrctl(policy, CPU, LAM_OFF, false, GET_BITS, undefined)).toStrictEqual({ value: 6, lam: LAM_OFF });
    expect(archPrctl(policy, NO_LAM_CPU, LAM_OFF, false, GET_BITS, undefined)).toStrictEqual({ value: 0, lam: LAM_OFF });
  });

  it('ARCH_FORCE_TAGGED_SVA sets the force flag, returns 0, needs no LAM feature, and is sticky', () => {
    const out = archPrctl(policy, NO_LAM_CPU, LAM_OFF, true, FORCE, undefined);
    expect(out.errno).toBeUndefined();
    expect(out.value).toBeUndefined();
    expect(out.lam).toStrictEqual({ enabled: false, lockLam: false, force: true });
    const again = archPrctl(policy, CPU, out.lam, true, FORCE, undefined);
    expect(again.errno).toBeUndefined();
    expect(again.lam.force).toBe(true);
  });

  it.each([0, 0x1001, 0x4000, 0x4005, 0x4104, 0xffff])('unknown code %s -> EINVAL, state unchanged', (code) => {
    const state = lam({ force: true });
    expect(archPrctl(policy, CPU, state, true, code, 6)).toStrictEqual({ errno: 'EINVAL', lam: state, reason: 'unknown-arch-prctl' });
  });
});

describe('poc-2022: ARCH_ENABLE_TAGGED_ADDR check order', () => {
  it('1. no LAM CPU feature -> ENODEV, before every other check', () => {
    expect(enable('poc-2022', ENABLED_POC, true, 0, NO_LAM_CPU).errno).toBe('ENODEV');
    expect(enable('poc-2022', LAM_OFF, false, 6, NO_LAM_CPU)).toStrictEqual({ errno: 'ENODEV', lam: LAM_OFF, reason: 'lam-no-cpu' });
  });

  it('2. already enabled -> EBUSY, before the PASID and nr_bits checks', () => {
    expect(enable('poc-2022', ENABLED_POC, true, 0)).toStrictEqual({ errno: 'EBUSY', lam: ENABLED_POC, reason: 'lam-already-enabled' });
    expect(enable('poc-2022', lam({ enabled: true, force: true }), false, 6).errno).toBe('EBUSY');
  });

  it('3. PASID without the force flag -> EBUSY (not EINVAL), before nr_bits', () => {
    expect(enable('poc-2022', LAM_OFF, true, 6)).toStrictEqual({ errno: 'EBUSY', lam: LAM_OFF, reason: 'lam-pasid-not-forced' });
    expect(enable('poc-2022', LAM_OFF, true, 0).errno).toBe('EBUSY');
    expect(enable('poc-2022', LAM_OFF, true, 7).errno).toBe('EBUSY');
  });

  it('4. nr_bits 0, missing or > 6 -> EINVAL', () => {
    expect(enable('poc-2022', LAM_OFF, false, 0)).toStrictEqual({ errno: 'EINVAL', lam: LAM_OFF, reason: 'lam-bad-nr-bits' });
    expect(enable('poc-2022', LAM_OFF, false, undefined).errno).toBe('EINVAL');
    expect(enable('poc-2022', LAM_OFF, false, 7).errno).toBe('EINVAL');
    expect(enable('poc-2022', lam({ force: true }), true, 0).errno).toBe('EINVAL');
  });

  it('LOCK_LAM does not exist in the PoC: a locked mm can still enable', () => {
    const out = enable('poc-2022', lam({ lockLam: true }), false, 6);
    expect(out.errno).toBeUndefined();
    expect(out.lam.enabled).toBe(true);
  });

  it('success: nr_bits 1..6 enables LAM (no LOCK_LAM); with a PASID only when forced', () => {
    for (let n = 1; n <= 6; n++) {
      expect(enable('poc-2022', LAM_OFF, false, n)).toStrictEqual({ lam: { enabled: true, lockLam: false, force: false } });
    }
    expect(enable('poc-2022', lam({ force: true }), true, 6)).toStrictEqual({ lam: { enabled: true, lockLam: false, force: true } });
  });
});

describe('v6.4: ARCH_ENABLE_TAGGED_ADDR check order', () => {
  it('1. no LAM CPU feature -> ENODEV, before every other check', () => {
    expect(enable('v6.4', ENABLED_V64, true, 0, NO_LAM_CPU)).toStrictEqual({ errno: 'ENODEV', lam: ENABLED_V64, reason: 'lam-no-cpu' });
    expect(enable('v6.4', LAM_OFF, false, 6, NO_LAM_CPU).errno).toBe('ENODEV');
  });

  it('2. PASID without the force flag -> EINVAL (fca1fdd2b0a6), before LOCK_LAM', () => {
    expect(enable('v6.4', LAM_OFF, true, 6)).toStrictEqual({ errno: 'EINVAL', lam: LAM_OFF, reason: 'lam-pasid-not-forced' });
    // EINVAL from the PASID check, even though LOCK_LAM would give EBUSY.
    expect(enable('v6.4', lam({ lockLam: true }), true, 6).errno).toBe('EINVAL');
    expect(enable('v6.4', ENABLED_V64, true, 6).errno).toBe('EINVAL');
  });

  it('3. LOCK_LAM -> EBUSY, before nr_bits; also covers "already enabled"', () => {
    expect(enable('v6.4', lam({ lockLam: true }), false, 0)).toStrictEqual({ errno: 'EBUSY', lam: lam({ lockLam: true }), reason: 'lam-locked' });
    expect(enable('v6.4', lam({ lockLam: true }), false, 7).errno).toBe('EBUSY');
    expect(enable('v6.4', ENABLED_V64, false, 6).errno).toBe('EBUSY');
    expect(enable('v6.4', lam({ lockLam: true, force: true }), true, 6).errno).toBe('EBUSY');
  });

  it('4. nr_bits 0, missing or > 6 -> EINVAL', () => {
    expect(enable('v6.4', LAM_OFF, false, 0)).toStrictEqual({ errno: 'EINVAL', lam: LAM_OFF, reason: 'lam-bad-nr-bits' });
    expect(enable('v6.4', LAM_OFF, false, undefined).errno).toBe('EINVAL');
    expect(enable('v6.4', LAM_OFF, false, 7).errno).toBe('EINVAL');
    expect(enable('v6.4', lam({ force: true }), true, 0).errno).toBe('EINVAL');
  });

  it('success: enables LAM and sets LOCK_LAM; with a PASID only when forced', () => {
    for (let n = 1; n <= 6; n++) {
      expect(enable('v6.4', LAM_OFF, false, n)).toStrictEqual({ lam: { enabled: true, lockLam: true, force: false } });
    }
    expect(enable('v6.4', lam({ force: true }), true, 6)).toStrictEqual({ lam: { enabled: true, lockLam: true, force: true } });
  });

  it('enabling twice: the second call fails with EBUSY', () => {
    const first = enable('v6.4', LAM_OFF, false, 6);
    expect(first.errno).toBeUndefined();
    expect(enable('v6.4', first.lam, false, 6)).toStrictEqual({ errno: 'EBUSY', lam: first.lam, reason: 'lam-locked' });
  });
});

describe('every refusal names the kernel check that made it, under each policy', () => {
  // [policy, LAM state, mm has a PASID, code, arg, cpu, errno, reason]
  const rows: readonly [LamPolicy, LamState, boolean, number, number | undefined, CpuFeatures, string, Refusal][] = [
    ['off', LAM_OFF, false, ENABLE, 6, CPU, 'EINVAL', 'no-address-masking'],
    ['off', LAM_OFF, false, GET_MASK, undefined, CPU, 'EINVAL', 'no-address-masking'],
    ['poc-2022', LAM_OFF, false, 0x4005, undefined, CPU, 'EINVAL', 'unknown-arch-prctl'],
    ['poc-2022', LAM_OFF, false, ENABLE, 6, NO_LAM_CPU, 'ENODEV', 'lam-no-cpu'],
    ['poc-2022', ENABLED_POC, false, ENABLE, 6, CPU, 'EBUSY', 'lam-already-enabled'],
    ['poc-2022', LAM_OFF, true, ENABLE, 6, CPU, 'EBUSY', 'lam-pasid-not-forced'],
    ['poc-2022', LAM_OFF, false, ENABLE, 7, CPU, 'EINVAL', 'lam-bad-nr-bits'],
    ['v6.4', LAM_OFF, false, 0x4005, undefined, CPU, 'EINVAL', 'unknown-arch-prctl'],
    ['v6.4', LAM_OFF, false, ENABLE, 6, NO_LAM_CPU, 'ENODEV', 'lam-no-cpu'],
    ['v6.4', LAM_OFF, true, ENABLE, 6, CPU, 'EINVAL', 'lam-pasid-not-forced'],
    ['v6.4', lam({ lockLam: true }), false, ENABLE, 6, CPU, 'EBUSY', 'lam-locked'],
    ['v6.4', ENABLED_V64, false, ENABLE, 6, CPU, 'EBUSY', 'lam-locked'],
    ['v6.4', LAM_OFF, false, ENABLE, 0, CPU, 'EINVAL', 'lam-bad-nr-bits'],
  ];
  it.each(rows)('%s, %o, PASID %s, code %d arg %s -> %s (%s)', (policy, state, hasPasid, code, arg, cpu, errno, reason) => {
    expect(archPrctl(policy, cpu, state, hasPasid, code, arg)).toStrictEqual({ errno, lam: state, reason });
    expect(describeRefusal(reason)).toContain(REFUSALS[reason].check);
  });

  it('a call that succeeds has no reason', () => {
    for (const policy of ['poc-2022', 'v6.4'] as const) {
      for (const code of ALL_CODES) expect(archPrctl(policy, CPU, LAM_OFF, false, code, 6).reason).toBeUndefined();
    }
  });

  it('bind: LAM on and not forced -> EBUSY lam-not-dma-compatible under poc-2022 and v6.4; never under off', () => {
    const on = lam({ enabled: true });
    expect(bindRefusal('poc-2022', on)).toStrictEqual({ errno: 'EBUSY', reason: 'lam-not-dma-compatible' });
    expect(bindRefusal('v6.4', lam({ enabled: true, lockLam: true }))).toStrictEqual({ errno: 'EBUSY', reason: 'lam-not-dma-compatible' });
    expect(bindRefusal('off', on)).toBeNull();
    expect(bindRefusal('v6.4', lam({ enabled: true, force: true }))).toBeNull();
    expect(bindRefusal('poc-2022', LAM_OFF)).toBeNull();
  });
});

describe('dmaCompatible (arch_pgtable_dma_compat)', () => {
  it('is true without LAM or with the force flag, false for LAM without force', () => {
    expect(dmaCompatible(LAM_OFF)).toBe(true);
    expect(dmaCompatible(lam({ lockLam: true }))).toBe(true);
    expect(dmaCompatible(lam({ force: true }))).toBe(true);
    expect(dmaCompatible(lam({ enabled: true, force: true }))).toBe(true);
    expect(dmaCompatible(lam({ enabled: true }))).toBe(false);
    expect(dmaCompatible(lam({ enabled: true, lockLam: true }))).toBe(false);
  });
});

describe('onCloneVm (copy_thread with CLONE_VM)', () => {
  it('v6.4 sets LOCK_LAM and keeps the other flags; it stays set', () => {
    const out = onCloneVm('v6.4', lam({ force: true }));
    expect(out).toStrictEqual({ enabled: false, lockLam: true, force: true });
    expect(onCloneVm('v6.4', out)).toStrictEqual(out);
  });

  it('after a CLONE_VM thread, v6.4 refuses to enable LAM with EBUSY', () => {
    expect(enable('v6.4', onCloneVm('v6.4', LAM_OFF), false, 6).errno).toBe('EBUSY');
  });

  it.each(['poc-2022', 'off'] as const)('%s leaves the state alone', (policy) => {
    for (const s of [LAM_OFF, lam({ force: true }), ENABLED_POC]) expect(onCloneVm(policy, s)).toStrictEqual(s);
  });
});
