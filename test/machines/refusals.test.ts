/**
 * Refusal reasons (machines/refusals.ts) as the whole system produces them: every syscall that returns
 * an errno says which check refused it, and only those do — in every built-in scenario under every
 * policy, and in scenarios written to reach the refusals the built-ins do not.
 */
import { describe, expect, it } from 'vitest';
import { isBuiltinMessage, LAM_POLICIES, PASID_POLICIES, type Message } from '../../machines/protocol.ts';
import { describeRefusal, REFUSALS, type Refusal } from '../../machines/refusals.ts';
import { payloadIssue } from '../../src/runtime/message-schema.ts';
import { loadScenarioFile, parseScenario } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/runner/run.ts';
import { builtinNames, builtinPath } from '../../src/scenarios/index.ts';

type Return = Extract<Message, { type: 'sys.return' }>;

/** Every sys.return of a run (the message's fields, without its routing). */
function returns(text: string): Return[] {
  const out: Return[] = [];
  runScenario(parseScenario(text, 's.json'), {
    onRecord: (d) => {
      const m = d.msg;
      if (!isBuiltinMessage(m) || m.type !== 'sys.return') return;
      const { thread, errno, value, reason } = m;
      out.push({ type: 'sys.return', thread, ...(errno === undefined ? {} : { errno }), ...(value === undefined ? {} : { value }), ...(reason === undefined ? {} : { reason }) });
    },
  });
  return out;
}

const scenario = (policy: object, steps: readonly object[], extra: object = {}): string =>
  JSON.stringify({ scenario: 1, name: 'refusals', policy, devices: [{ name: 'dsa0', wqSize: 4, threshold: 4 }], steps, ...extra });

describe('every errno return carries a reason, and only those', () => {
  const seen = new Set<Refusal>();
  it.each(builtinNames())('%s, under every policy', (name) => {
    const path = builtinPath(name);
    if (path === undefined) throw new Error(`no built-in ${name}`);
    const s = loadScenarioFile(path);
    for (const pasid of PASID_POLICIES) {
      for (const lam of LAM_POLICIES) {
        runScenario({ ...s, policy: { pasid, lam } }, {
          onRecord: (d) => {
            const m = d.msg;
            if (!isBuiltinMessage(m) || (m.type !== 'sys.return' && m.type !== 'iommu.bind_failed')) return;
            expect(m.errno === undefined, `${name} ${pasid}/${lam} seq ${d.seq}: ${JSON.stringify(m)}`).toBe(m.reason === undefined);
            if (m.reason !== undefined) seen.add(m.reason);
          },
        });
      }
    }
  });

  it('the built-ins together reach the LAM, bind, unbind and exhaustion refusals', () => {
    // (Runs after the cases above, which fill `seen`.)
    for (const r of ['no-address-masking', 'lam-pasid-not-forced', 'lam-locked', 'lam-bad-nr-bits', 'lam-not-dma-compatible', 'pasid-exhausted'] as const) {
      expect(seen.has(r), r).toBe(true);
    }
  });
});

describe('refusals the built-ins do not reach', () => {
  const last = (rs: readonly Return[]): Return | undefined => rs[rs.length - 1];

  it('ESRCH: a thread not created yet (no-such-thread) and one that exited (thread-exited)', () => {
    const never = returns(scenario({}, [{ op: 'spawn', process: 'A' }, { op: 'bind', thread: 'Z', device: 'dsa0' }, { op: 'spawn', process: 'Z' }]));
    expect(never[1]).toStrictEqual({ type: 'sys.return', thread: 'Z', errno: 'ESRCH', reason: 'no-such-thread' });
    const gone = returns(scenario({}, [{ op: 'spawn', process: 'A' }, { op: 'clone', thread: 'A', new: 'B' }, { op: 'exit', thread: 'B' }, { op: 'bind', thread: 'B', device: 'dsa0' }]));
    expect(last(gone)).toStrictEqual({ type: 'sys.return', thread: 'B', errno: 'ESRCH', reason: 'thread-exited' });
  });

  it('EINVAL: unbind of an unbound device (not-bound), close of one never opened (not-open)', () => {
    const rs = returns(scenario({}, [
      { op: 'spawn', process: 'A' },
      { op: 'unbind', thread: 'A', device: 'dsa0' },
      { op: 'close', thread: 'A', device: 'dsa0' },
    ]));
    expect(rs.slice(1)).toStrictEqual([
      { type: 'sys.return', thread: 'A', errno: 'EINVAL', reason: 'not-bound' },
      { type: 'sys.return', thread: 'A', errno: 'EINVAL', reason: 'not-open' },
    ]);
  });

  it('ENODEV without the LAM CPU feature, EBUSY when already enabled (poc-2022), EINVAL for an unknown code', () => {
    const enable = { op: 'arch_prctl', thread: 'A', code: 'ARCH_ENABLE_TAGGED_ADDR', arg: 6 };
    const noCpu = returns(scenario({ lam: 'v6.4' }, [{ op: 'spawn', process: 'A' }, enable], { cpu: { enqcmd: true, lam: false } }));
    expect(last(noCpu)).toMatchObject({ errno: 'ENODEV', reason: 'lam-no-cpu' });
    const twice = returns(scenario({ lam: 'poc-2022' }, [{ op: 'spawn', process: 'A' }, enable, enable]));
    expect(last(twice)).toMatchObject({ errno: 'EBUSY', reason: 'lam-already-enabled' });
    const unknown = returns(scenario({ lam: 'v6.4' }, [{ op: 'spawn', process: 'A' }, { op: 'arch_prctl', thread: 'A', code: 0x4005 }]));
    expect(last(unknown)).toMatchObject({ errno: 'EINVAL', reason: 'unknown-arch-prctl' });
  });
});

describe('the reason in the log', () => {
  it('sys.return and iommu.bind_failed take a known reason, or none (logs of older models); an unknown one is an error', () => {
    expect(payloadIssue('sys.return', { thread: 'A', errno: 'EBUSY', reason: 'lam-locked' })).toBeNull();
    expect(payloadIssue('sys.return', { thread: 'A', errno: 'EBUSY' })).toBeNull();
    expect(payloadIssue('iommu.bind_failed', { device: 'dsa0', errno: 'ENOSPC', reason: 'pasid-exhausted' })).toBeNull();
    expect(payloadIssue('sys.return', { thread: 'A', errno: 'EBUSY', reason: 'lam-lokced' })).toMatch(/^reason: /);
  });

  it('every reason has words, and the kernel function where the kernel makes the check', () => {
    for (const r of Object.keys(REFUSALS) as Refusal[]) {
      const info: { check: string; where?: string } = REFUSALS[r];
      expect(r).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(describeRefusal(r)).toBe(info.where === undefined ? info.check : `${info.check} — in ${info.where}`);
    }
  });
});
