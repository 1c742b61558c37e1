/**
 * The inspector's details panel, its text for a refused syscall (`refusalLines`): the errno and the
 * check named by the record's `reason`, then where the kernel makes it. (Pure: no DOM needed.)
 */
import { describe, expect, it } from 'vitest';
import { refusalLines } from '../../src/inspect/page/details.ts';
import type { LogRecord } from '../../src/inspect/page/types.ts';

const ret = (payload: Record<string, unknown>): LogRecord =>
  ({ seq: 30, type: 'sys.return', from: 'mm:1', to: 'thread:P', cause: 29, step: 8, thread: 'P', ...payload }) as LogRecord;

describe('refusalLines', () => {
  it('a refused sys.return: the errno with the check, then the reason code and the kernel function', () => {
    expect(refusalLines(ret({ errno: 'EBUSY', reason: 'lam-locked' }))).toStrictEqual([
      'EBUSY: MM_CONTEXT_LOCK_LAM is set: a thread was created, or LAM is already enabled',
      'reason lam-locked: checked in prctl_enable_tagged_addr()',
    ]);
  });

  it('a check of the model with no kernel function says so', () => {
    expect(refusalLines(ret({ errno: 'EINVAL', reason: 'not-bound' }))).toStrictEqual([
      'EINVAL: the mm holds no bind of this device',
      'reason not-bound: a check of the model (no kernel function)',
    ]);
  });

  it('nothing for a success, a log without reasons, an unknown code or another message type', () => {
    expect(refusalLines(ret({}))).toStrictEqual([]);
    expect(refusalLines(ret({ errno: 'EBUSY' }))).toStrictEqual([]);
    expect(refusalLines(ret({ errno: 'EBUSY', reason: 'toString' }))).toStrictEqual([]);
    expect(refusalLines({ ...ret({}), type: 'signal.sigsegv', reason: 'gp' } as LogRecord)).toStrictEqual([]);
  });
});
