/**
 * A cut log is said one way by every command (reader.ts `incompleteWhy`, with what replay knows), a
 * format-1 log cut short is incomplete like a format-2 one, and numbers are echoed as written (review
 * of issue 11's log work).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogSession } from '../../src/inspect/session.ts';
import { cli } from '../setup/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'svasim-cutw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** seed-a-unbind-dmar's log (header, 6 steps, 48 records, then the closing record): its lines. */
let lines: string[] = [];
const log = join(dir, 'a.jsonl');
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
beforeAll(async () => {
  expect((await cli(['run', 'seed-a-unbind-dmar', '--log', log, '--quiet'])).code).toBe(0);
  lines = readFileSync(log, 'utf8').split('\n').slice(0, -1);
  expect(lines).toHaveLength(50);
});

const ENDED = 'the run ended early (it was stopped, or its log writes failed)';

describe('a format-1 log cut short is incomplete, never a divergence at seq N+1', () => {
  it('cut at seq 30 inside step 3, steps 4 and 5 with no record: replay, report and inspect say "incomplete" (exit 2); --allow-truncated opens the prefix', async () => {
    const v1 = write('v1.jsonl', `${[(lines[0] ?? '').replace('"version":2', '"version":1'), ...lines.slice(1, 31)].join('\n')}\n`);
    const why = `it ends at seq 30 in step 3 of 6 (step 3 still had 1 message pending, not in the log; steps 4..5 have no record): ${ENDED}; log format 1 has no closing record, and its records stop short of the scenario's end`;
    const line = `${v1}: incomplete log: ${why}; --allow-truncated replays its 30 complete records\n`;
    const note = `note: ${v1} is in log format 1; converted to format 2\n`;
    expect(await cli(['replay', v1])).toMatchObject({ code: 2, out: '', err: `${note}${line}` });
    expect(await cli(['replay', v1, '--until', '10'])).toMatchObject({ code: 2, out: '', err: line });
    expect(await cli(['report', v1, '--out', join(dir, 'v1.html')])).toMatchObject({ code: 2, out: '', err: line });
    const r = await cli(['replay', v1, '--allow-truncated']);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`${note}note: ${v1} is incomplete, replayed as a prefix: ${why}\n`);
    const warning = `${v1} is incomplete, opened as a prefix: ${why}; the states shown are those of a run cut short`;
    expect(new LogSession(v1, { allowTruncated: true }).warnings).toStrictEqual([warning]);
    const rep = await cli(['report', v1, '--allow-truncated', '--out', join(dir, 'v1.html')]);
    expect(rep).toMatchObject({ code: 0, err: `warning: ${warning}\n` });
    // The report's page says it in the same words (no "ends after step", no divergence).
    const html = readFileSync(join(dir, 'v1.html'), 'utf8');
    expect(html).toContain(JSON.stringify(warning).slice(1, -1));
    expect(html).not.toMatch(/ends after step|diverges from this model/);
    // The index the report wrote next to the log keeps replay's verdict: without the flag, still refused.
    expect(readFileSync(`${v1}.idx`, 'utf8')).toContain('"incomplete":');
    expect(await cli(['replay', v1, '--until', '10'])).toMatchObject({ code: 2, out: '', err: line });
    expect(await cli(['report', v1, '--out', join(dir, 'v1.html')])).toMatchObject({ code: 2, out: '', err: line });
    expect(new LogSession(v1, { allowTruncated: true }).warnings).toStrictEqual([warning]);
  });
});

describe('one wording for a cut log in inspect and report', () => {
  it('header only: "header only", never "ends after step -1"', async () => {
    const hdr = write('hdr.jsonl', `${lines[0]}\n`);
    const warning = `${hdr} is incomplete, opened as a prefix: header only: no records and no closing record, ${ENDED}; the states shown are those of a run cut short`;
    expect(new LogSession(hdr, { allowTruncated: true }).warnings).toStrictEqual([warning]);
    expect(await cli(['report', hdr, '--allow-truncated', '--out', join(dir, 'hdr.html')])).toMatchObject({ code: 0, err: `warning: ${warning}\n` });
  });

  it('cut inside step 3: "ends at seq 19 in step 3 … still had N messages pending", not "ends after step 3"', () => {
    const mid = write('mid-step.jsonl', `${lines.slice(0, 20).join('\n')}\n`);
    const [w, ...rest] = new LogSession(mid, { allowTruncated: true }).warnings;
    expect(rest).toStrictEqual([]);
    expect(w).toMatch(/ is incomplete, opened as a prefix: it ends at seq 19 in step 3 of 6 \(step 3 still had \d+ messages? pending, not in the log; steps 4\.\.5 have no record\), with no closing record: /);
  });

  it('--allow-truncated help names every way a log can be incomplete (replay, inspect, report, diagram)', async () => {
    for (const cmd of ['replay', 'inspect', 'report', 'diagram']) {
      const { out } = await cli([cmd, '--help']);
      expect(out, cmd).toContain('--allow-truncated');
      expect(out, cmd).not.toContain('whose last line was cut short');
      if (cmd !== 'diagram') expect(out.replace(/\s+/g, ' '), cmd).toContain('no closing record, its last line or header cut short, records that stop between or inside steps, header only');
    }
  });
});

describe('diagram and a cut log', () => {
  it('says it in replay\'s words (what was pending included), accepts the --allow-truncated it suggests, draws a header-only prefix empty', async () => {
    const mid = write('mid.jsonl', `${lines.slice(0, 20).join('\n')}\n${(lines[20] ?? '').slice(0, 15)}`);
    const replayed = await cli(['replay', mid]);
    expect(replayed.code).toBe(2);
    const why = /incomplete log: (.*); --allow-truncated replays its 19 complete records\n$/.exec(replayed.err)?.[1];
    expect(why).toMatch(/^it ends at seq 19 in step 3 of 6 \(/);
    const refused = await cli(['diagram', '--log', mid]);
    expect(refused).toMatchObject({ code: 2, out: '' });
    expect(refused.err).toMatch(new RegExp(`^${mid}(:21)?: incomplete log: `));
    // (replay's reader stops at the cut line before re-executing; diagram replays the prefix, so it also
    // names what step 3 still had pending)
    expect(refused.err).toMatch(/incomplete log: it ends at seq 19 in step 3 of 6 \(.*, and its last line is cut short .*; --allow-truncated draws its 19 complete records\n$/);
    const drawn = await cli(['diagram', '--log', mid, '--allow-truncated']);
    expect(drawn.code).toBe(0);
    expect(drawn.out).toMatch(/^sequenceDiagram\n/);
    expect(drawn.out).toContain('[19] ');
    expect(drawn.out).not.toContain('[20] ');
    expect(drawn.err).toMatch(new RegExp(`^note: ${mid} is incomplete, drawn as a prefix: it ends at seq 19 in step 3 of 6 `));
    // Cut between two records inside step 3: replay knows what was still pending, and diagram says so too.
    const between = write('between.jsonl', `${lines.slice(0, 20).join('\n')}\n`);
    const whyBetween = /incomplete log: (.*); --allow-truncated replays/.exec((await cli(['replay', between])).err)?.[1] ?? '';
    expect(whyBetween).toMatch(/still had \d+ messages? pending, not in the log/);
    expect((await cli(['diagram', '--log', between])).err).toBe(`${between}: incomplete log: ${whyBetween}; --allow-truncated draws its 19 complete records\n`);
    const one = write('one.jsonl', `${lines.slice(0, 2).join('\n')}\n`);
    expect((await cli(['diagram', '--log', one])).err).toMatch(/; --allow-truncated draws its 1 complete record\n$/);
    const hdr = write('hdr2.jsonl', `${lines[0]}\n`);
    expect(await cli(['diagram', '--log', hdr])).toMatchObject({
      code: 2,
      err: `${hdr}: incomplete log: header only: no records and no closing record, ${ENDED}; --allow-truncated draws it as an empty prefix\n`,
    });
    const empty = await cli(['diagram', '--log', hdr, '--allow-truncated']);
    expect(empty).toMatchObject({ code: 0, out: expect.stringMatching(/^sequenceDiagram\n/) as unknown as string });
    expect(empty.err).toBe(`note: ${hdr} is incomplete, drawn as a prefix: header only: no records and no closing record, ${ENDED}\n`);
    expect((await cli(['diagram', '--log', hdr, '--allow-truncated', '--from', '1'])).err).toContain('--from 1 is past the end');
    expect((await cli(['diagram', '--allow-truncated'])).code).toBe(2);
  });
});

describe('numbers are echoed as written', () => {
  it('command-line seqs: as typed, and one line for one past the exact integers', async () => {
    expect(await cli(['replay', log, '--until', '9007199254740993'])).toMatchObject({
      code: 2,
      err: 'svasim replay: --until 9007199254740993 is too large (a seq is at most 9007199254740991)\n',
    });
    expect(await cli(['replay', log, '--until', '18446744073709551617'])).toMatchObject({
      code: 2,
      err: 'svasim replay: --until 18446744073709551617 is too large (a seq is at most 9007199254740991)\n',
    });
    expect(await cli(['diagram', '--log', log, '--from', '9007199254740993'])).toMatchObject({
      code: 2,
      err: 'svasim diagram: --from 9007199254740993 is too large (a seq is at most 9007199254740991)\n',
    });
    expect(await cli(['replay', log, '--until', '0049'])).toMatchObject({ code: 2, err: `svasim replay: --until 0049 is past the end of ${log} (48 records)\n` });
    expect((await cli(['replay', log, '--until', '1.5'])).err).toBe('svasim replay: --until expects a seq (0 for the state before the first record), got "1.5"\n');
  });

  it('a number in a log record: its text as written, with the field and the line', async () => {
    const at = lines.findIndex((l) => l.includes('"type":"pasid.alloc"'));
    expect(at).toBeGreaterThan(0);
    const edit = (name: string, from: RegExp, to: string, i = at): string => {
      const ls = [...lines];
      ls[i] = (ls[i] ?? '').replace(from, to);
      expect(ls[i]).toContain(to);
      return write(name, `${ls.join('\n')}\n`);
    };
    const range = 'is out of range (integers in a log go up to 9007199254740991 in magnitude)';
    const inf = edit('inf.jsonl', /"pasid":1(?=[,}])/, '"pasid":1e400');
    expect(await cli(['replay', inf])).toMatchObject({ code: 2, err: `${inf}:${at + 1}: malformed record: pasid.alloc: pasid: 1e400 ${range}\n` });
    const big = edit('big.jsonl', /"pasid":1(?=[,}])/, '"pasid":9007199254740993');
    expect(await cli(['replay', big])).toMatchObject({ code: 2, err: `${big}:${at + 1}: malformed record: pasid.alloc: pasid: 9007199254740993 ${range}\n` });
    const seq = edit('seq.jsonl', /"seq":\d+/, '"seq":-1E+400');
    expect(await cli(['replay', seq])).toMatchObject({ code: 2, err: `${seq}:${at + 1}: malformed record: seq: -1E+400 ${range}\n` });
    const closing = edit('closing.jsonl', /"records":48/, '"records":48.0e999', lines.length - 1);
    expect(await cli(['replay', closing])).toMatchObject({ code: 2, err: `${closing}:${lines.length}: malformed closing record: records: 48.0e999 ${range}\n` });
    // Not a count: the value as it reads, not the schema library's wording.
    for (const [name, value, field] of [['neg', '"steps":-1', 'steps'], ['frac', '"steps":1.5', 'steps'], ['str', '"records":"48"', 'records']] as const) {
      const bad = edit(`${name}.jsonl`, field === 'steps' ? /"steps":6/ : /"records":48/, value, lines.length - 1);
      expect(await cli(['replay', bad])).toMatchObject({
        code: 2,
        err: `${bad}:${lines.length}: malformed closing record: ${field}: expected a count (a non-negative integer), got ${value.slice(value.indexOf(':') + 1)}\n`,
      });
    }
  });
});
