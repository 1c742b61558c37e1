/**
 * The reason a syscall was refused, as `svasim run` prints it: the record shows the code the machine
 * logged (`reason=lam-locked`), the step's result line the check in words and the kernel function.
 */
import { describe, expect, it } from 'vitest';
import { main, type Io } from '../../src/cli/main.ts';
import { checkOutput } from '../setup/stack-guard.ts';

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    stdout: { write: (s: string) => void (out += s), isTTY: false },
    stderr: { write: (s: string) => void (err += s), isTTY: false },
    env: {},
  };
  const code = await main(argv, io);
  checkOutput(err, `svasim ${argv.join(' ')} (stderr)`);
  return { code, out };
}

/** The trace of one step: its header line up to the next step's. */
function stepText(out: string, index: number): string {
  const from = out.indexOf(`step ${index}: `);
  const to = out.indexOf(`\nstep ${index + 1}: `, from);
  if (from < 0) throw new Error(`no step ${index} in\n${out}`);
  return out.slice(from, to < 0 ? undefined : to);
}

describe('run: a refused step says which kernel check refused it', () => {
  it('lam-v6.4: LOCK_LAM after a clone, the PASID check, nr_bits, and the bind refused because of LAM', async () => {
    const { code, out } = await run(['run', 'lam-v6.4', '--no-log']);
    expect(code).toBe(0);
    expect(out).toContain('errno=EBUSY reason=lam-locked');
    expect(out).toContain('  = EBUSY (MM_CONTEXT_LOCK_LAM is set: a thread was created, or LAM is already enabled — in prctl_enable_tagged_addr) (mm PASID 1)');
    expect(out).toContain('  = EINVAL (the mm has a valid PASID and ARCH_FORCE_TAGGED_SVA was not set — in prctl_enable_tagged_addr) (mm PASID 1)');
    expect(out).toContain(`  = EINVAL (nr_bits is 0 or more than LAM_U57's 6 — in prctl_enable_tagged_addr)\n`);
    expect(out).toContain('  = EBUSY (LAM is enabled and ARCH_FORCE_TAGGED_SVA was not set: arch_pgtable_dma_compat is false — in iommu_sva_alloc_pasid)');
    expect(out).not.toMatch(/^ {2}= E[A-Z]+( \(mm PASID \d+\))?$/m); // no bare errno
  });

  it('lam-off and poc-2022 name their own checks', async () => {
    expect((await run(['run', 'lam-off', '--no-log'])).out).toContain('  = EINVAL (CONFIG_ADDRESS_MASKING is off: the LAM codes fall to the default case — in do_arch_prctl_64)');
    const poc = (await run(['run', 'lam-poc-2022', '--no-log'])).out;
    expect(poc).toContain('= EBUSY (the mm has a valid PASID and ARCH_FORCE_TAGGED_SVA was not set — in prctl_enable_tagged_addr)');
  });

  it('a successful step has no reason', async () => {
    const { out } = await run(['run', 'seed-a-unbind-dmar', '--no-log']);
    expect(stepText(out, 1)).toMatch(/\n {2}= ok \(mm PASID 1\)$/);
    expect(out).not.toMatch(/sys\.return .*reason=/);
  });
});
