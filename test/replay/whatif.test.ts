/**
 * What-if and refusal reasons: the reasons come from the records (the log's and the re-run's), a step
 * differs only when what the kernel did differs, and a refused step shows the check that refused it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLog } from '../../src/log/reader.ts';
import { formatWhatIf, whatIf } from '../../src/replay/whatif.ts';
import { parseScenario } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/runner/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'svasim-whatif-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Enable LAM twice in a single-threaded process: both policies refuse the second call with EBUSY, by different checks. */
const TWICE = JSON.stringify({
  scenario: 1,
  name: 'enable LAM twice',
  policy: { pasid: 'merged', lam: 'v6.4' },
  devices: [{ name: 'dsa0', wqSize: 4, threshold: 4 }],
  steps: [
    { op: 'spawn', process: 'A' },
    { op: 'arch_prctl', thread: 'A', code: 'ARCH_ENABLE_TAGGED_ADDR', arg: 6 },
    { op: 'arch_prctl', thread: 'A', code: 'ARCH_ENABLE_TAGGED_ADDR', arg: 6 },
    { op: 'bind', thread: 'A', device: 'dsa0' },
  ],
});

function logText(name: string, scenarioText: string): string {
  const path = join(dir, `${name}.jsonl`);
  runScenario(parseScenario(scenarioText, `${name}.json`), { log: path });
  return readFileSync(path, 'utf8');
}

describe('what-if counts results, not reasons', () => {
  const text = logText('twice', TWICE);

  it('the same errno from another check is not a difference (v6.4 lam-locked vs poc-2022 lam-already-enabled)', () => {
    const w = whatIf(parseLog(text, 'twice.jsonl'), { lam: 'poc-2022' });
    const row = w.rows[2];
    expect(row?.logged).toMatchObject({ result: 'EBUSY', reason: 'lam-locked' });
    expect(row?.rerun).toMatchObject({ result: 'EBUSY', reason: 'lam-already-enabled' });
    expect(row?.differs).toBe(false);
    // The bind after it: refused by LAM under both, for the same reason.
    expect(w.rows[3]).toMatchObject({ differs: false, logged: { result: 'EBUSY', reason: 'lam-not-dma-compatible' } });
    expect(w.differing).toBe(0);
    expect(formatWhatIf(w).join('\n')).toContain('0 of 4 steps differ');
  });

  it('when results differ, both sides show their reason', () => {
    const w = whatIf(parseLog(text, 'twice.jsonl'), { lam: 'off' });
    // Under off, the first enable is refused (no LAM) where v6.4 accepted it.
    const row = w.rows[1];
    expect(row).toMatchObject({ differs: true, logged: { result: 'ok' }, rerun: { result: 'EINVAL', reason: 'no-address-masking' } });
    const out = formatWhatIf(w).join('\n');
    expect(out).toContain('EINVAL (CONFIG_ADDRESS_MASKING is off: the LAM codes fall to the default case — in do_arch_prctl_64)');
    // Step 2: v6.4 EBUSY (lam-locked) vs off EINVAL: both reasons on their lines.
    expect(out).toMatch(/step 2: .*\n .*EBUSY \(MM_CONTEXT_LOCK_LAM is set[^\n]*\n .*EINVAL \(CONFIG_ADDRESS_MASKING is off/);
  });

  it('the logged side\'s reason is read from the log, not recomputed', () => {
    // Edit the reason of the logged refusal: what-if reports what the log says.
    const edited = text.replace('"errno":"EBUSY","reason":"lam-locked"', '"errno":"EBUSY","reason":"lam-already-enabled"');
    expect(edited).not.toBe(text);
    const w = whatIf(parseLog(edited, 'edited.jsonl'), { lam: 'v6.4' });
    expect(w.rows[2]?.logged.reason).toBe('lam-already-enabled');
    expect(w.rows[2]?.rerun.reason).toBe('lam-locked');
    expect(w.differing).toBe(0);
  });

  it('a log without reasons (an older model) compares equal to a re-run with them', () => {
    const old = text.replace(/,"reason":"[a-z-]+"/g, '');
    expect(old).not.toContain('"reason"');
    const w = whatIf(parseLog(old, 'old.jsonl'), { lam: 'v6.4' });
    expect(w.rows[2]?.logged.reason).toBeUndefined();
    expect(w.rows[2]?.rerun.reason).toBe('lam-locked');
    expect(w.differing).toBe(0);
  });
});
