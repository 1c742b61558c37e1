/**
 * The inspector's details panel, its text for a refused syscall (`refusalLines`): the errno and the
 * check named by the record's `reason`, then where the kernel makes it. (Pure: no DOM needed.)
 */
import { describe, expect, it } from 'vitest';
import { modelsLines, refusalLines } from '../../src/inspect/page/details.ts';
import type { LogRecord, ModelsAt } from '../../src/inspect/page/types.ts';

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

describe('modelsLines (#details-models)', () => {
  const base = { seq: 21, type: 'trap.gp', actor: 'mm:1', state: 'alive.idle' };

  it('the message\'s transition first ("models"), then the ones it led to ("then (always)"), each with function, file and note', () => {
    const m: ModelsAt = {
      ...base,
      transitions: [
        { on: 'mm.close', source: 'alive.idle', target: 'alive.closing', cite: 'idxd-release', models: { fn: 'idxd_cdev_release', file: 'drivers/dma/idxd/cdev.c' } },
        { on: 'always', source: 'alive.closing.next', target: 'alive.closing.draining', cite: 'idxd-drain', models: { fn: 'drain', file: 'drivers/dma/idxd/device.c', note: 'why' } },
      ],
    };
    expect(modelsLines(m)).toStrictEqual([
      { label: 'models', cite: 'idxd-release', fn: 'idxd_cdev_release', file: 'drivers/dma/idxd/cdev.c' },
      { label: 'then (always)', cite: 'idxd-drain', fn: 'drain', file: 'drivers/dma/idxd/device.c', note: 'why' },
    ]);
  });

  it('a transition without effect, a rule of the model\'s own, and no transition at all are said in words', () => {
    expect(modelsLines({ ...base, type: 'pasid.put', transitions: [{ on: 'pasid.put', source: '(root)', target: null, cite: null, models: null }] })).toStrictEqual([
      { label: 'models', cite: null, text: 'nothing: mm:1 ((root)) takes pasid.put without effect' },
    ]);
    expect(modelsLines({ ...base, transitions: [{ on: 'mm.close', source: 'alive.idle', target: null, cite: 'model-not-held', models: { model: 'EINVAL' } }] })).toStrictEqual([
      { label: 'models', cite: 'model-not-held', text: "the model's own rule: EINVAL" },
    ]);
    expect(modelsLines({ ...base, state: null, transitions: [], why: 'a birth' })).toStrictEqual([{ label: 'models', cite: null, text: 'a birth' }]);
  });
});
