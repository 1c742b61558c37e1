/**
 * Replay (src/replay/replay.ts) and the log reader (src/log/reader.ts): every built-in scenario's log
 * replays identically; tampering is caught as divergence (changed content) or damage (structure).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogError, parseLog } from '../../src/log/reader.ts';
import { closingLine, headerLine, recordLine } from '../../src/log/format.ts';
import { replay, replayFile } from '../../src/replay/replay.ts';
import type { Delivered } from '../../src/runtime/system.ts';
import { DivergenceError, SeekableLog } from '../../src/replay/checkpoints.ts';
import { formatWhatIf, whatIf } from '../../src/replay/whatif.ts';
import { formatState, systemState, type SystemState } from '../../src/runtime/state.ts';
import { loadScenarioFile, parseScenario } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/runner/run.ts';
import { builtinNames, builtinPath } from '../../src/scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'svasim-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run a built-in scenario with a log and return the log's text. */
function logOf(name: string, policy?: { pasid?: 'seed-2021' | 'merged' }): string {
  const path = builtinPath(name);
  if (!path) throw new Error(`no built-in ${name}`);
  const loaded = loadScenarioFile(path);
  const scenario = policy ? { ...loaded, policy: { ...loaded.policy, ...policy } } : loaded;
  const log = join(dir, `${name}-${policy?.pasid ?? 'own'}.jsonl`);
  runScenario(scenario, { log, ...(policy ? { filePolicy: loaded.policy } : {}) });
  return readFileSync(log, 'utf8');
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');
const join1 = (ls: string[]): string => `${ls.join('\n')}\n`;
/** The header and record lines of a log (its closing record, the last line, left out). */
const unclosed = (ls: readonly string[]): string[] => {
  if (!ls[ls.length - 1]?.startsWith('{"end":"svasim"')) throw new Error('the log has no closing record');
  return ls.slice(0, -1);
};
/** The lines with a closing record that counts their records and steps. */
const closed = (ls: readonly string[]): string[] => {
  const records = ls.slice(1).map((l) => JSON.parse(l) as { step: number });
  return [...ls, closingLine(records.length, Math.max(-1, ...records.map((r) => r.step)) + 1)];
};

describe('replay of built-in scenarios', () => {
  it.each(builtinNames())('%s replays identically', (name) => {
    const r = replay(parseLog(logOf(name), `${name}.jsonl`));
    // The header, the records, the closing record.
    expect(r).toStrictEqual({ identical: true, records: lines(logOf(name)).length - 2 });
  });

  it('a run under a command-line policy replays under that policy (the header keeps both)', () => {
    const text = logOf('seed-a-unbind-dmar', { pasid: 'merged' });
    const log = parseLog(text, 'x.jsonl');
    expect(log.header.policy.pasid).toBe('merged');
    expect(log.scenario.policy.pasid).toBe('merged');
    expect(replay(log).identical).toBe(true);
  });
});

describe('tampered logs', () => {
  const text = logOf('seed-a-unbind-dmar');
  const ls = lines(text);

  it('a changed payload diverges at that seq, showing both records and the causes', () => {
    const i = ls.findIndex((l) => l.includes('"type":"pasid.put"'));
    const seq = i; // line i holds seq i (line 0 is the header)
    const tampered = [...ls];
    tampered[i] = (tampered[i] ?? '').replace('"refs":1', '"refs":5');
    const r = replay(parseLog(join1(tampered), 't.jsonl'));
    expect(r.identical).toBe(false);
    if (r.identical) return;
    expect(r.seq).toBe(seq);
    expect(r.expected).toContain('"refs":5');
    expect(r.actual).toContain('"refs":1');
    expect(r.causes[0]).toContain('"type":"sys.unbind"');
  });

  it('a changed message type diverges: the system had another message pending', () => {
    const i = ls.findIndex((l) => l.includes('"type":"wq.complete"'));
    const tampered = [...ls];
    tampered[i] = (tampered[i] ?? '').replace('"type":"wq.complete"', '"type":"wq.submit"'); // same payload shape: the reader accepts it
    const r = replay(parseLog(join1(tampered), 't.jsonl'));
    expect(r.identical).toBe(false);
    if (!r.identical) {
      expect(r.seq).toBe(i);
      expect(r.actual).toContain('"type":"wq.complete"');
    }
  });

  it('a removed record is damage, reported by line', () => {
    const tampered = [...ls];
    tampered.splice(10, 1);
    expect(() => parseLog(join1(tampered), 't.jsonl')).toThrow(new LogError('t.jsonl:11: damaged log: seq 11 where 10 was expected (a record is missing or out of order)'));
  });

  it('reordered records are damage', () => {
    const tampered = [...ls];
    const a = tampered[5] ?? '';
    tampered[5] = tampered[6] ?? '';
    tampered[6] = a;
    expect(() => parseLog(join1(tampered), 't.jsonl')).toThrow(/t\.jsonl:6: damaged log: seq 6 where 5 was expected/);
  });

  it('a cause pointing forward is damage', () => {
    const tampered = [...ls];
    tampered[8] = (tampered[8] ?? '').replace(/"cause":\d+/, '"cause":30');
    expect(() => parseLog(join1(tampered), 't.jsonl')).toThrow(/t\.jsonl:9: damaged log: seq 8 names cause 30, which is not earlier/);
  });

  it('a truncated last line is reported by line as an incomplete log; --allow-truncated replays the prefix and counts the loss', () => {
    const body = join1(unclosed(ls));
    const cut = body.slice(0, body.length - 20);
    const n = lines(cut).length;
    expect(() => parseLog(cut, 't.jsonl')).toThrow(
      new LogError(`t.jsonl:${n}: incomplete log: it ends at seq ${n - 2} in step 5 of 6, and its last line is cut short (a record lost): the run ended while writing it (it was stopped, or a write failed); --allow-truncated replays its ${n - 2} complete records`),
    );
    const log = parseLog(cut, 't.jsonl', { allowTruncated: true });
    expect(log.truncated).toBe(1);
    expect(log.ending).toEqual({ kind: 'cut', what: 'record' });
    expect(log.records).toHaveLength(n - 2);
    expect(() => replay(log)).toThrow(/^t\.jsonl: incomplete log: /);
    expect(replay(log, { allowIncomplete: true })).toMatchObject({ identical: true, records: n - 2 });
  });

  it('a malformed line in the middle is reported by line', () => {
    const tampered = [...ls];
    tampered[3] = '{"seq":3,';
    expect(() => parseLog(join1(tampered), 't.jsonl')).toThrow('t.jsonl:4: malformed record: not JSON');
  });

  it('an unknown message type or address is malformed', () => {
    const bad = [...ls];
    bad[2] = (bad[2] ?? '').replace(/"type":"[^"]+"/, '"type":"bogus.type"');
    expect(() => parseLog(join1(bad), 't.jsonl')).toThrow(new LogError('t.jsonl:3: malformed record: unknown message type "bogus.type"'));
    const bad2 = [...ls];
    bad2[2] = (bad2[2] ?? '').replace(/"to":"[^"]+"/, '"to":"nowhere"');
    expect(() => parseLog(join1(bad2), 't.jsonl')).toThrow(/t\.jsonl:3: malformed record: to/);
  });

  it('a mistyped message type is one short line naming the nearest known type, not a list of every type', () => {
    const i = ls.findIndex((l) => l.includes('"type":"msr.write"'));
    const bad = [...ls];
    bad[i] = (bad[i] ?? '').replace('"type":"msr.write"', '"type":"msr.wrote"');
    expect(() => parseLog(join1(bad), 't.jsonl')).toThrow(new LogError(`t.jsonl:${i + 1}: malformed record: unknown message type "msr.wrote" (did you mean "msr.write"?)`));
    const path = join(dir, 'mistyped.jsonl');
    writeFileSync(path, join1(bad));
    expect(() => replayFile(path)).toThrow(new LogError(`${path}:${i + 1}: malformed record: unknown message type "msr.wrote" (did you mean "msr.write"?)`));
    const notString = [...ls];
    notString[i] = (notString[i] ?? '').replace('"type":"msr.write"', '"type":7');
    expect(() => parseLog(join1(notString), 't.jsonl')).toThrow(new LogError(`t.jsonl:${i + 1}: malformed record: type: expected a message type (a string), got 7`));
  });

  it('an unknown log format version is rejected with a clear message', () => {
    const bad = [ls[0]?.replace('"version":2', '"version":3') ?? '', ...ls.slice(1)];
    expect(() => parseLog(join1(bad), 't.jsonl')).toThrow('t.jsonl:1: log format version 3 is not supported (this svasim reads versions 0 to 2)');
  });

  it('a log without its closing record, cut inside a step, is incomplete (exit 2), never a divergence', () => {
    // The last record and the closing record removed: step 5 still has a message to deliver.
    const cut = unclosed(ls).slice(0, -1);
    const n = cut.length - 1;
    const message = `t.jsonl: incomplete log: it ends at seq ${n} in step 5 of 6 (step 5 still had 1 message pending, not in the log), with no closing record: the run ended early (it was stopped, or its log writes failed); --allow-truncated replays its ${n} complete records`;
    expect(() => replay(parseLog(join1(cut), 't.jsonl'))).toThrow(new LogError(message));
    const path = join(dir, 'cut-in-step.jsonl');
    writeFileSync(path, join1(cut));
    expect(() => replayFile(path)).toThrow(new LogError(message.replace('t.jsonl', path)));
  });

  it('a closed log whose model has more to deliver diverges at its end (the log is complete, so the model differs)', () => {
    const cut = closed(unclosed(ls).slice(0, -1));
    const r = replay(parseLog(join1(cut), 't.jsonl'));
    expect(r).toMatchObject({ identical: false, seq: cut.length - 1, expected: null });
    if (!r.identical) expect(r.actual).toContain('"type":"fault.dmar"');
  });

  it('a format-1 log (no closing record) cut inside a step, or before the last step, is incomplete, never a divergence at seq N+1', () => {
    // Cut at seq 29, inside step 3 (a message still pending), steps 4 and 5 with no record.
    const v1 = [ls[0]?.replace('"version":2', '"version":1') ?? '', ...unclosed(ls).slice(1, 30)];
    const log = parseLog(join1(v1), 't.jsonl');
    expect(log.upcastFrom).toBe(1);
    expect(log.ending).toEqual({ kind: 'unmarked' });
    const why =
      "it ends at seq 29 in step 3 of 6 (step 3 still had 1 message pending, not in the log; steps 4..5 have no record): the run ended early (it was stopped, or its log writes failed); log format 1 has no closing record, and its records stop short of the scenario's end";
    expect(() => replay(log)).toThrow(new LogError(`t.jsonl: incomplete log: ${why}; --allow-truncated replays its 29 complete records`));
    const path = join(dir, 'v1-cut.jsonl');
    writeFileSync(path, join1(v1));
    expect(() => replayFile(path)).toThrow(new LogError(`${path}: incomplete log: ${why}; --allow-truncated replays its 29 complete records`));
    expect(replayFile(path, { allowTruncated: true })).toMatchObject({ identical: true, records: 29, incomplete: { pending: 1, missingSteps: 2, why } });
    // Cut inside the last step (every step has a record, a message still pending): incomplete too.
    const last = [v1[0] ?? '', ...unclosed(ls).slice(1, -1)];
    expect(() => replay(parseLog(join1(last), 't.jsonl'))).toThrow(/^t\.jsonl: incomplete log: it ends at seq \d+ in step 5 of 6 \(step 5 still had 1 message pending, not in the log\)/);
    // The whole log in format 1 replays identically.
    expect(replay(parseLog(join1([v1[0] ?? '', ...unclosed(ls).slice(1)]), 't.jsonl'))).toStrictEqual({ identical: true, records: ls.length - 2 });
  });

  it('the closing record must count the records and steps before it, and end the log', () => {
    const body = unclosed(ls);
    const at = body.length + 1;
    const recount = [...body, (ls[ls.length - 1] ?? '').replace(/"records":\d+/, '"records":7')];
    expect(() => parseLog(join1(recount), 't.jsonl')).toThrow(new LogError(`t.jsonl:${at}: damaged log: the closing record counts 7 records, but ${body.length - 1} precede it`));
    const steps = [...body, (ls[ls.length - 1] ?? '').replace(/"steps":\d+/, '"steps":9')];
    expect(() => parseLog(join1(steps), 't.jsonl')).toThrow(new LogError(`t.jsonl:${at}: damaged log: the closing record says 9 steps ran (steps 0..8), but the records reach step 5`));
    // A count of steps against a 0-based step: said so that it does not contradict itself.
    const five = [...body, (ls[ls.length - 1] ?? '').replace(/"steps":\d+/, '"steps":5')];
    expect(() => parseLog(join1(five), 't.jsonl')).toThrow(new LogError(`t.jsonl:${at}: damaged log: the closing record says 5 steps ran (steps 0..4), but the records reach step 5`));
    const malformed = [...body, '{"end":"svasim","records":"40","steps":6}'];
    expect(() => parseLog(join1(malformed), 't.jsonl')).toThrow(/^t\.jsonl:\d+: malformed closing record: records: /);
    const after = [...ls, ls[1] ?? ''];
    expect(() => parseLog(join1(after), 't.jsonl')).toThrow(new LogError(`t.jsonl:${at + 1}: damaged log: a line after the closing record (line ${at} ends the log)`));
    const path = join(dir, 'after-closing.jsonl');
    writeFileSync(path, join1(after));
    expect(() => replayFile(path)).toThrow(new LogError(`${path}:${at + 1}: damaged log: a line after the closing record (line ${at} ends the log)`));
  });
});

describe('time travel and what-if', () => {
  const text = logOf('seed-a-unbind-dmar');
  const log = parseLog(text, 'a.jsonl');

  it('--until stops at a seq and shows the state there: after unbind the PASID lives on in A1 with no table entry', () => {
    const unbound = log.records.findIndex((d) => d.msg.type === 'sys.return' && d.step === 4) + 1;
    let state: SystemState | undefined;
    const r = replay(log, { until: unbound, onStop: (sys) => (state = systemState(sys)) });
    expect(r).toStrictEqual({ identical: true, records: unbound });
    expect(state?.seq).toBe(unbound);
    expect(state?.iommu.pasids).toStrictEqual([{ pasid: 1, mm: 1, refs: 1 }]);
    expect(state?.iommu.tables).toStrictEqual({ dsa0: {} });
    expect(state?.threads.map((t) => [t.name, t.msr, t.activated])).toStrictEqual([
      ['A', null, false],
      ['A1', 1, true],
    ]);
    expect(state?.mms[0]).toMatchObject({ id: 1, pasid: 1, portals: ['dsa0'], bindings: { dsa0: 0 } });
    expect(formatState(state as SystemState).join('\n')).toContain('dsa0 PASID table: empty');
  });

  it('--until 1 shows the state after the first record', () => {
    let state: SystemState | undefined;
    replay(log, { until: 1, onStop: (sys) => (state = systemState(sys)) });
    expect(state?.seq).toBe(1);
    expect(state?.threads).toStrictEqual([]);
  });

  it('what-if merged vs seed-2021 on seed case (b): the refcount messages disappear, the DMAR fault stays', () => {
    const w = whatIf(parseLog(logOf('seed-b-fixup-then-dmar'), 'b.jsonl'), { pasid: 'merged' });
    expect(w.logged.pasid).toBe('seed-2021');
    expect(w.rerun.pasid).toBe('merged');
    expect(w.differing).toBeGreaterThan(0);
    const refs = w.totals.find((t) => t.what === 'refcount gets/puts');
    expect(refs?.logged).toBeGreaterThan(0);
    expect(refs?.rerun).toBe(0);
    const differing = w.rows.filter((r) => r.differs);
    expect(differing.every((r) => r.logged.result === r.rerun.result)).toBe(true);
    expect(differing.some((r) => r.logged.events.some((e) => e.startsWith('pasid.get')) && !r.rerun.events.some((e) => e.startsWith('pasid.get')))).toBe(true);
    expect(formatWhatIf(w).join('\n')).toMatch(/refcount gets\/puts\s+\d+ → 0/);
  });

  it('what-if under the same policy finds no difference', () => {
    const w = whatIf(log, { pasid: 'seed-2021' });
    expect(w.differing).toBe(0);
  });
});

describe('damage: actors that do not exist', () => {
  const ls = lines(logOf('seed-a-unbind-dmar'));
  it('a record addressed to an actor never created is damage, not divergence', () => {
    const bad = [...ls];
    const i = bad.findIndex((l) => l.includes('"to":"thread:A1"') && !l.includes('thread.start'));
    bad[i] = (bad[i] ?? '').replace('"to":"thread:A1"', '"to":"thread:ZZ"');
    expect(() => parseLog(join1(bad), 't.jsonl')).toThrow(new RegExp(`t\\.jsonl:${i + 1}: damaged log: seq ${i} involves thread:ZZ, an actor that does not exist at that point`));
  });
  it('a record from an mm before its creation is damage', () => {
    const bad = [...ls];
    const i = bad.findIndex((l) => l.includes('"from":"mm:1"'));
    bad[i] = (bad[i] ?? '').replace('"from":"mm:1"', '"from":"mm:9"');
    expect(() => parseLog(join1(bad), 't.jsonl')).toThrow(/damaged log: .* involves mm:9, an actor that does not exist/);
  });
});

describe('review fixes', () => {
  const ls = lines(logOf('seed-a-unbind-dmar'));

  it('seeking before a divergence works; at or past it is a DivergenceError', () => {
    const i = ls.findIndex((l) => l.includes('"type":"pasid.put"'));
    const bad = [...ls];
    bad[i] = (bad[i] ?? '').replace('"refs":1', '"refs":7');
    const seek = SeekableLog.of(parseLog(join1(bad), 't.jsonl'), 5);
    expect(seek.divergence?.seq).toBe(i);
    expect(seek.stateAt(i - 1).seq).toBe(i - 1);
    expect(() => seek.stateAt(i)).toThrow(DivergenceError);
  });

  it('what-if compares returned values too (LAM untag mask under v6.4 vs poc-2022 after enabling)', () => {
    const w = whatIf(parseLog(logOf('lam-v6.4'), 'l.jsonl'), { lam: 'poc-2022' });
    expect(w.rows.some((r) => r.differs && r.logged.result.includes('value=') && r.logged.result !== r.rerun.result)).toBe(true);
  });

  it('what-if says which kernel check refused a LAM call under each policy', () => {
    const w = whatIf(parseLog(logOf('lam-v6.4'), 'l.jsonl'), { lam: 'poc-2022' });
    // Enabling LAM in an mm that has a PASID (not forced): v6.4 says EINVAL (fca1fdd2b0a6), the 2022 PoC EBUSY.
    const pasidRow = w.rows.find((r) => r.logged.result === 'EINVAL' && r.rerun.result === 'EBUSY');
    // The same check, a different errno per policy.
    expect(pasidRow?.logged.reason).toBe('lam-pasid-not-forced');
    expect(pasidRow?.rerun.reason).toBe('lam-pasid-not-forced');
    // After a thread was created, v6.4's LOCK_LAM refuses what the PoC allows.
    const lockRow = w.rows.find((r) => r.logged.result === 'EBUSY' && r.rerun.result === 'ok');
    expect(lockRow?.logged.reason).toBe('lam-locked');
    expect(lockRow?.rerun.reason).toBeUndefined();
    expect(formatWhatIf(w).join('\n')).toContain('EBUSY (MM_CONTEXT_LOCK_LAM is set');
  });

  it('a payload naming a device the scenario does not have is damage', () => {
    const bad = [...ls];
    const i = bad.findIndex((l) => l.includes('"type":"insn.enqcmd"'));
    bad[i] = (bad[i] ?? '').replace('"device":"dsa0"', '"device":"dsa9"');
    expect(() => parseLog(join1(bad), 't.jsonl')).toThrow(`t.jsonl:${i + 1}: damaged log: seq ${i} names device "dsa9", which the scenario does not have`);
  });

  it("a syscall input whose thread is not its receiver is damage", () => {
    const bad = [...ls];
    const i = bad.findIndex((l) => l.includes('"type":"insn.enqcmd"'));
    bad[i] = (bad[i] ?? '').replace('"thread":"A1"', '"thread":"A"');
    expect(() => parseLog(join1(bad), 't.jsonl')).toThrow(/damaged log: seq \d+ is a syscall of thread "A" delivered to thread:A1/);
  });

  it('allowIncomplete accepts a log that ends mid-step', () => {
    const cut = parseLog(join1(unclosed(ls).slice(0, -1)), 't.jsonl');
    expect(() => replay(cut)).toThrow(/^t\.jsonl: incomplete log: /);
    const r = replay(cut, { allowIncomplete: true });
    expect(r).toMatchObject({ identical: true, records: ls.length - 3 });
    expect(r.identical && r.incomplete?.pending).toBeGreaterThan(0);
  });

  it('a log that ends between steps (no record of the last steps) is an incomplete log; allowIncomplete says how many are missing', () => {
    const body = unclosed(ls);
    const steps = new Set(body.slice(1).map((l) => (JSON.parse(l) as { step: number }).step));
    const lastStep = Math.max(...steps);
    // Keep only the records of the steps before the last one: the log ends at a step boundary.
    const kept = body.filter((l, i) => i === 0 || (JSON.parse(l) as { step: number }).step < lastStep);
    const cut = parseLog(join1(kept), 't.jsonl');
    expect(() => replay(cut)).toThrow(
      new LogError(`t.jsonl: incomplete log: it ends at seq ${kept.length - 1} in step 4 of 6 (step 5 has no record), with no closing record: the run ended early (it was stopped, or its log writes failed); --allow-truncated replays its ${kept.length - 1} complete records`),
    );
    const ok = replay(cut, { allowIncomplete: true });
    expect(ok).toMatchObject({ identical: true, incomplete: { pending: 0, missingSteps: 1 } });
    // In format 1 (no closing record) too, since no step leaves no record: a log cut short, not a model difference.
    const v1 = parseLog(join1([kept[0]?.replace('"version":2', '"version":1') ?? '', ...kept.slice(1)]), 't.jsonl');
    expect(() => replay(v1)).toThrow(/^t\.jsonl: incomplete log: it ends at seq \d+ in step 4 of 6 \(step 5 has no record\): the run ended early \(it was stopped, or its log writes failed\); log format 1 has no closing record, and its records stop short of the scenario's end;/);
    // A log with only its header says so.
    expect(() => replay(parseLog(join1([body[0] ?? '']), 't.jsonl'))).toThrow(
      new LogError('t.jsonl: incomplete log: header only: no records and no closing record, the run ended early (it was stopped, or its log writes failed); --allow-truncated replays it as an empty prefix'),
    );
  });

  it('a record re-serialized with other key order or line ends is the same record, not a divergence', () => {
    const swapped = ls.map((l) => l.replace(/"pasid":(\d+),"refs":(\d+)/, '"refs":$2,"pasid":$1').replace(/\}$/, '}\r'));
    expect(swapped.join('\n')).not.toBe(ls.join('\n'));
    expect(replay(parseLog(join1(swapped), 't.jsonl')).identical).toBe(true);
  });
});

describe('channel order', () => {
  it('a record that overtakes an older message on the same channel is damage, naming both', () => {
    const ls = lines(logOf('seed-a-unbind-dmar'));
    const i = ls.findIndex((l) => l.includes('"type":"msr.write"'));
    const j = ls.findIndex((l) => l.includes('"type":"gp.fixup"'));
    expect(j).toBe(i + 1);
    const bad = [...ls];
    // Swap them and renumber, so only the order is wrong.
    bad[i] = (ls[j] ?? '').replace(`"seq":${j}`, `"seq":${i}`);
    bad[j] = (ls[i] ?? '').replace(`"seq":${i}`, `"seq":${j}`);
    const log = parseLog(join1(bad), 't.jsonl');
    expect(() => replay(log)).toThrow(`t.jsonl:${i + 1}: damaged log: seq ${i} (gp.fixup) overtakes msr.write on the channel mm:1 → thread:A1`);
  });
});

describe("the header's steps against the logged inputs", () => {
  /** Log lines with the header's scenario changed by `edit`. */
  function withHeaderOf(ls: readonly string[], edit: (scenario: { steps: Record<string, unknown>[] }) => void): string[] {
    const header = JSON.parse(ls[0] ?? '') as { scenario: { steps: Record<string, unknown>[] } };
    edit(header.scenario);
    return [JSON.stringify(header), ...ls.slice(1)];
  }
  /** The log of a built-in scenario with its header's scenario changed by `edit`. */
  const withHeader = (name: string, edit: (scenario: { steps: Record<string, unknown>[] }) => void): string[] => withHeaderOf(lines(logOf(name)), edit);
  /** The line (1-based) of the input record of `step`. */
  const inputLine = (ls: readonly string[], step: number): number =>
    ls.findIndex((l, i) => i > 0 && !l.includes('"cause"') && l.includes(`"step":${step},`)) + 1;

  it('an edited step (the last enqcmd now says exit) is damage at its input, in a parsed and a streamed replay', () => {
    const ls = withHeader('seed-a-unbind-dmar', (s) => {
      s.steps[5] = { op: 'exit', thread: 'A1' };
    });
    const at = inputLine(ls, 5);
    const message = `t.jsonl:${at}: damaged log: record seq ${at - 1} is the input of step 5, which the header says is exit A1 but the record is insn.enqcmd A1 dsa0`;
    expect(() => replay(parseLog(join1(ls), 't.jsonl'))).toThrow(new LogError(message));
    const path = join(dir, 't.jsonl');
    writeFileSync(path, join1(ls));
    expect(() => replayFile(path)).toThrow(new LogError(message.replace('t.jsonl', path)));
  });

  it('a changed field of a step (another device, another arch_prctl argument) is damage', () => {
    const dev = withHeader('seed-a-unbind-dmar', (s) => {
      s.steps[3] = { ...s.steps[3], thread: 'A' };
    });
    expect(() => replay(parseLog(join1(dev), 't.jsonl'))).toThrow(/record seq \d+ is the input of step 3, which the header says is enqcmd A dsa0 but the record is insn\.enqcmd A1 dsa0 \(user → thread:A1\)$/);
    const lam = lines(logOf('lam-v6.4'));
    const k = (JSON.parse(lam[0] ?? '') as { scenario: { steps: { op: string; arg?: number }[] } }).scenario.steps.findIndex((s) => s.op === 'arch_prctl' && s.arg !== undefined);
    expect(k).toBeGreaterThan(0);
    const arg = withHeader('lam-v6.4', (s) => {
      s.steps[k] = { ...s.steps[k], arg: 5 };
    });
    expect(() => replay(parseLog(join1(arg), 't.jsonl'))).toThrow(new RegExp(`is the input of step ${k}, which the header says is arch_prctl \\S+ 0x4002 5 but the record is sys\\.arch_prctl \\S+ code=0x4002 arg=\\d$`));
  });

  it('an input for a step the header does not have is damage', () => {
    const ls = withHeader('seed-a-unbind-dmar', (s) => {
      s.steps.pop();
    });
    const at = inputLine(ls, 5);
    expect(() => replay(parseLog(join1(ls), 't.jsonl'))).toThrow(new LogError(`t.jsonl:${at}: damaged log: record seq ${at - 1} is the input of step 5, but the header's scenario has steps 0..4`));
  });

  /** A log of `spawn A; spawn B; spawn C` whose records are those of the steps in `order`, renumbered. */
  function reordered(order: readonly number[]): string {
    const scenario = parseScenario('{"scenario":1,"name":"three","steps":[{"op":"spawn","process":"A"},{"op":"spawn","process":"B"},{"op":"spawn","process":"C"}]}', 'three.json');
    const records: Delivered[] = [];
    runScenario(scenario, { onRecord: (d) => records.push(d) });
    const out: string[] = [headerLine(scenario, scenario.policy)];
    const renumber = new Map<number, number>();
    for (const step of order) {
      for (const d of records.filter((r) => r.step === step)) {
        const seq = out.length;
        renumber.set(d.seq, seq);
        out.push(recordLine({ ...d, seq, ...(d.cause === undefined ? {} : { cause: renumber.get(d.cause) ?? 0 }) }));
      }
    }
    return join1(closed(out));
  }

  it('a syscall of a thread that was never created goes to the kernel (ESRCH): still the header\'s step', () => {
    // P1 would be created by the fork of an exited thread, which fails: the next step's syscall has no thread.
    const scenario = parseScenario(
      '{"scenario":1,"name":"esrch","steps":[{"op":"spawn","process":"P0"},{"op":"exit","thread":"P0"},' +
        '{"op":"fork","thread":"P0","new":"P1","expect":{"result":"ESRCH"}},{"op":"fork","thread":"P1","new":"P2","expect":{"result":"ESRCH"}}]}',
      'esrch.json',
    );
    const path = join(dir, 'esrch.jsonl');
    expect(runScenario(scenario, { log: path }).ok).toBe(true);
    const ls = lines(readFileSync(path, 'utf8'));
    const input = ls.find((l) => l.includes('"type":"sys.fork"') && l.includes('"thread":"P1"')) ?? '';
    expect(input).toContain('"from":"user","to":"kernel"');
    expect(replay(parseLog(join1(ls), 'esrch.jsonl')).identical).toBe(true);
    expect(replayFile(path).identical).toBe(true);
    // Another thread in the header is still caught.
    const edited = withHeaderOf(ls, (s) => {
      s.steps[3] = { ...s.steps[3], new: 'P3' };
    });
    expect(() => replay(parseLog(join1(edited), 'e.jsonl'))).toThrow(/is the input of step 3, which the header says is fork P1 -> P3 but the record is sys\.fork P1 new=P2 \(user → kernel\)$/);
  });

  it('a missing input, inputs out of order and a repeated input are damage', () => {
    expect(() => replay(parseLog(reordered([0, 2]), 't.jsonl'))).toThrow(/:\d+: damaged log: record seq \d+ is the input of step 2, but step 1 \(spawn B\) has no input before it$/);
    expect(() => replay(parseLog(reordered([1, 0, 2]), 't.jsonl'))).toThrow('t.jsonl:2: damaged log: record seq 1 is the input of step 1, but step 0 (spawn A) has no input before it');
    expect(() => replay(parseLog(reordered([0, 1, 1]), 't.jsonl'))).toThrow(/is the input of step 1, which already had its input \(each step has one, in step order; the last input was of step 1\)$/);
    // The unedited order replays.
    expect(replay(parseLog(reordered([0, 1, 2]), 't.jsonl')).identical).toBe(true);
  });
});
