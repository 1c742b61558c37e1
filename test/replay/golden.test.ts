/**
 * Golden logs (test/fixtures/golden, made by tools/update-golden.ts) replay identically, and today's
 * model still writes them byte for byte: a difference is a model change (regenerate the goldens and
 * bump MODEL_VERSION when it is intended). Also: a log in the older format 0 is upcast and replays.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { readLog, RecordParser } from '../../src/log/reader.ts';
import { replay, replayFile } from '../../src/replay/replay.ts';
import { loadScenarioFile, parseScenario } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/runner/run.ts';
import { builtinPath } from '../../src/scenarios/index.ts';
import { GOLDEN, GOLDEN_DIR } from '../../tools/update-golden.ts';

const dir = mkdtempSync(join(tmpdir(), 'svasim-golden-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('golden logs', () => {
  it.each(GOLDEN)('%s replays identically', (name) => {
    const log = readLog(join(GOLDEN_DIR, `${name}.jsonl`));
    expect(log.otherModel).toBe(false);
    expect(replay(log)).toStrictEqual({ identical: true, records: log.records.length });
  });

  it.each(GOLDEN)('%s replays identically as a stream (replayFile: records not kept)', (name) => {
    const path = join(GOLDEN_DIR, `${name}.jsonl`);
    expect(replayFile(path)).toStrictEqual({ identical: true, records: readLog(path).records.length, truncated: 0 });
  });

  it.each(GOLDEN)('%s is what the model writes today, byte for byte', (name) => {
    const path = builtinPath(name);
    if (!path) throw new Error(`no built-in ${name}`);
    const out = join(dir, `${name}.jsonl`);
    runScenario(loadScenarioFile(path), { log: out });
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(GOLDEN_DIR, `${name}.jsonl`), 'utf8'));
  });
});

describe('streamed replay of damaged and diverging logs', () => {
  const golden = (): string[] => readFileSync(join(GOLDEN_DIR, 'seed-a-unbind-dmar.jsonl'), 'utf8').split('\n');
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('a malformed line in the middle is a LogError naming the line', () => {
    const ls = golden();
    ls[10] = '{"seq":10,';
    expect(() => replayFile(write('mid.jsonl', ls.join('\n')))).toThrow(/mid\.jsonl:11: malformed record: not JSON/);
  });

  it('a last line cut short: an incomplete log, or with allowTruncated the complete prefix and the count lost', () => {
    // Without the closing record, the last record cut short (a run killed while writing it).
    const ls = golden().filter((l) => l !== '').slice(0, -1);
    const cut = `${ls.slice(0, -1).join('\n')}\n${(ls[ls.length - 1] ?? '').slice(0, 20)}`;
    const p = write('cut.jsonl', cut);
    expect(() => replayFile(p)).toThrow(/cut\.jsonl:\d+: incomplete log: it ends at seq \d+ in step 5 of 6, and its last line is cut short \(a record lost\)/);
    const r = replayFile(p, { allowTruncated: true });
    expect(r).toMatchObject({ identical: true, truncated: 1, records: ls.length - 2 });
    // The closing record cut short: no record lost, the log is still incomplete.
    const all = golden().filter((l) => l !== '');
    const p2 = write('cut-closing.jsonl', `${all.slice(0, -1).join('\n')}\n${(all[all.length - 1] ?? '').slice(0, 12)}`);
    expect(() => replayFile(p2)).toThrow(/cut-closing\.jsonl:\d+: incomplete log: it ends at seq 48 in step 5 of 6, and its closing record is cut short/);
    expect(replayFile(p2, { allowTruncated: true })).toMatchObject({ identical: true, truncated: 0, records: 48 });
  });

  it('a changed payload diverges at its seq, with the logged causes (the log is read again for them)', () => {
    const ls = golden();
    const i = ls.findIndex((l) => l.includes('"type":"msr.write"'));
    ls[i] = (ls[i] ?? '').replace('"pasid":1', '"pasid":2');
    const r = replayFile(write('payload.jsonl', ls.join('\n')));
    expect(r.identical).toBe(false);
    if (!r.identical) {
      expect(r.seq).toBe(i);
      expect(r.causes[0]).toContain('"type":"insn.enqcmd"');
    }
  });

  it('blank lines at the very end are not records; a blank line before a record is malformed (both readers)', () => {
    const text = golden().join('\n');
    const tail = write('tail.jsonl', `${text}\n\n`);
    expect(replayFile(tail).identical).toBe(true);
    expect(readLog(tail).records.length).toBe(readLog(join(GOLDEN_DIR, 'seed-a-unbind-dmar.jsonl')).records.length);
    const ls = golden();
    ls.splice(9, 0, '');
    const mid = write('blank-mid.jsonl', ls.join('\n'));
    expect(() => replayFile(mid)).toThrow(/blank-mid\.jsonl:10: malformed record: not JSON/);
    expect(() => readLog(mid)).toThrow(/blank-mid\.jsonl:10: malformed record: not JSON/);
  });

  it('damage in lines the model also writes (the fast path skips parsing them) is still damage, by line', () => {
    const base = golden();
    const i = base.findIndex((l) => l.includes('"type":"msr.write"'));
    const cases: [string, (ls: string[]) => void, RegExp][] = [
      ['removed', (ls) => ls.splice(i, 1), /damaged log: seq \d+ where \d+ was expected/],
      ['forward cause', (ls) => (ls[i] = (ls[i] ?? '').replace(/"cause":\d+/, '"cause":99')), /names cause 99, which is not earlier/],
      ['unknown actor', (ls) => (ls[i] = (ls[i] ?? '').replace('"to":"thread:A1"', '"to":"thread:Z9"')), /involves thread:Z9, an actor that does not exist/],
      ['wrong payload type', (ls) => (ls[i] = (ls[i] ?? '').replace('"pasid":1', '"pasid":"1"')), /malformed record: msr\.write: pasid/],
    ];
    for (const [name, edit, want] of cases) {
      const ls = [...base];
      edit(ls);
      const p = write(`fast-${name.replace(/ /g, '-')}.jsonl`, ls.join('\n'));
      expect(() => replayFile(p), name).toThrow(want);
      expect(() => replayFile(p), name).toThrow(new RegExp(`fast-${name.replace(/ /g, '-')}\\.jsonl:${i + 1}:`));
    }
  });

  it('a line that is exactly the record the model delivers next is not parsed; any other line is', () => {
    const parse = vi.spyOn(RecordParser.prototype, 'parse');
    try {
      const path = join(GOLDEN_DIR, 'seed-a-unbind-dmar.jsonl');
      expect(replayFile(path).identical).toBe(true);
      // Inputs are the scenario's steps, the rest the model's own messages: a FIFO log of today's model
      // needs no parsing at all, but for its closing record.
      expect(parse).toHaveBeenCalledTimes(1);
      // Lines written otherwise (other key order, CRLF) are parsed, checked, and compared as data.
      const ls = golden();
      const changed = ls.map((l, n) => (n > 0 && /"pasid":\d+,"refs":\d+/.test(l) ? l.replace(/"pasid":(\d+),"refs":(\d+)/, '"refs":$2,"pasid":$1') : l));
      const input = ls.findIndex((l) => l.includes('"type":"sys.bind"'));
      changed[input] = `${changed[input] ?? ''}\r`;
      const n = changed.filter((l, k) => l !== ls[k]).length;
      expect(n).toBeGreaterThan(2);
      parse.mockClear();
      expect(replayFile(write('reserialized.jsonl', changed.join('\n'))).identical).toBe(true);
      expect(parse).toHaveBeenCalledTimes(n + 1);
    } finally {
      parse.mockRestore();
    }
  });

  it('a changed input is damage: its header step says otherwise, or it names a device the scenario does not have', () => {
    const base = golden();
    const i = base.findIndex((l) => l.includes('"type":"insn.enqcmd"') && l.includes('"thread":"A1"'));
    expect(i).toBeGreaterThan(0);
    const other = [...base];
    other[i] = (other[i] ?? '').replace('"to":"thread:A1"', '"to":"thread:A"').replace('"thread":"A1"', '"thread":"A"');
    expect(() => replayFile(write('input-thread.jsonl', other.join('\n')))).toThrow(
      `input-thread.jsonl:${i + 1}: damaged log: record seq ${i} is the input of step 3, which the header says is enqcmd A1 dsa0 but the record is insn.enqcmd A dsa0 (user → thread:A)`,
    );
    const unknown = [...base];
    unknown[i] = (unknown[i] ?? '').replace('"device":"dsa0"', '"device":"dsa9"');
    expect(() => replayFile(write('input-device.jsonl', unknown.join('\n')))).toThrow(`input-device.jsonl:${i + 1}: damaged log: seq ${i} names device "dsa9"`);
  });

  it('names with line breaks (any non-empty name is valid): the log reads, and replays identically both ways', () => {
    const scenario = parseScenario(
      JSON.stringify({
        scenario: 1,
        name: 'line breaks',
        devices: [{ name: 'd\r', autoComplete: false }],
        steps: [
          { op: 'spawn', process: 'A\n' },
          { op: 'bind', thread: 'A\n', device: 'd\r' },
          { op: 'clone', thread: 'A\n', new: 'B\u2028' },
          { op: 'enqcmd', thread: 'B\u2028', device: 'd\r' },
          { op: 'complete', device: 'd\r' },
          { op: 'exit', thread: 'B\u2028' },
          { op: 'exit', thread: 'A\n' },
        ],
      }),
      'breaks.json',
    );
    const p = join(dir, 'breaks.jsonl');
    expect(runScenario(scenario, { log: p }).ok).toBe(true);
    const log = readLog(p);
    expect(log.records.some((r) => r.to === 'thread:B\u2028')).toBe(true);
    expect(replay(log)).toStrictEqual({ identical: true, records: log.records.length });
    expect(replayFile(p)).toStrictEqual({ identical: true, records: log.records.length, truncated: 0 });
  });

  it('a byte order mark before the header is dropped by both readers', () => {
    const p = write('bom.jsonl', `\ufeff${golden().join('\n')}`);
    const n = readLog(join(GOLDEN_DIR, 'seed-a-unbind-dmar.jsonl')).records.length;
    expect(readLog(p).records.length).toBe(n);
    expect(replayFile(p)).toStrictEqual({ identical: true, records: n, truncated: 0 });
  });

  it('a replay that stops early (divergence, damage) closes the log file', () => {
    const openFds = (): number => readdirSync('/proc/self/fd').length;
    const ls = golden();
    const i = ls.findIndex((l) => l.includes('"type":"msr.write"'));
    const diverging = [...ls];
    diverging[i] = (diverging[i] ?? '').replace('"pasid":1', '"pasid":2');
    const damaged = [...ls];
    damaged.splice(i, 1);
    const pd = write('fd-diverge.jsonl', diverging.join('\n'));
    const pm = write('fd-damage.jsonl', damaged.join('\n'));
    const before = openFds();
    for (let k = 0; k < 20; k++) {
      expect(replayFile(pd).identical).toBe(false);
      expect(() => replayFile(pm)).toThrow(/damaged log/);
    }
    expect(openFds()).toBe(before);
  });

  it("an invalid scenario in the header is reported by its JSON path, once", () => {
    const ls = golden();
    ls[0] = (ls[0] ?? '').replace('"thread":"A","device":"dsa0"', '"thread":"A","device":"dsa9"');
    const p = write('header.jsonl', ls.join('\n'));
    expect(() => readLog(p)).toThrow(/^.*header\.jsonl:1: the header's scenario is invalid: scenario\.steps\[\d+\]\.device: unknown device "dsa9"$/);
  });

  it('an unreadable file is a LogError', () => {
    expect(() => replayFile(join(dir, 'missing.jsonl'))).toThrow(/cannot read file: no such file/);
    expect(() => replayFile(dir)).toThrow(/cannot read file: is a directory/);
  });
});

describe('older log formats', () => {
  it('a format-0 log (nested messages, no model) is upcast to format 2 and replays identically', () => {
    const log = readLog(join(GOLDEN_DIR, '..', 'format0-seed-b.jsonl'));
    expect(log.upcastFrom).toBe(0);
    expect(log.otherModel).toBe(true);
    expect(log.header.version).toBe(2);
    // Formats before 2 have no closing record: whether it is complete is judged from its records.
    expect(log.ending).toEqual({ kind: 'unmarked' });
    expect(log.lines[0]).toMatch(/^\{"seq":1,"type":"sys.spawn","from":"user","to":"kernel","step":0,"process":"A"\}$/);
    expect(replay(log)).toStrictEqual({ identical: true, records: log.records.length });
    expect(replayFile(join(GOLDEN_DIR, '..', 'format0-seed-b.jsonl'))).toStrictEqual({ identical: true, records: log.records.length, truncated: 0 });
    // Same records as the current-format golden of the same scenario.
    expect(log.lines).toStrictEqual(readLog(join(GOLDEN_DIR, 'seed-b-fixup-then-dmar.jsonl')).lines);
  });

  it('a format-1 log (the same records, no closing record) reads and replays identically, its lines compared in place', () => {
    const ls = readFileSync(join(GOLDEN_DIR, 'seed-a-unbind-dmar.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
    const v1 = join(dir, 'format1.jsonl');
    writeFileSync(v1, `${[(ls[0] ?? '').replace('"version":2', '"version":1'), ...ls.slice(1, -1)].join('\n')}\n`);
    const log = readLog(v1);
    expect(log.upcastFrom).toBe(1);
    expect(log.ending).toEqual({ kind: 'unmarked' });
    expect(log.lines).toStrictEqual(readLog(join(GOLDEN_DIR, 'seed-a-unbind-dmar.jsonl')).lines);
    const parse = vi.spyOn(RecordParser.prototype, 'parse');
    try {
      expect(replayFile(v1)).toStrictEqual({ identical: true, records: 48, truncated: 0 });
      // Format 1's records are format 2's byte for byte: the fast path reads them in place, none is parsed.
      expect(parse).toHaveBeenCalledTimes(0);
    } finally {
      parse.mockRestore();
    }
  });
});
