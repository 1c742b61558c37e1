/**
 * A log cut short — a run killed, a header write interrupted — is reported as incomplete (exit 2, what
 * is missing), by every command that reads logs, never as a divergence from the model (exit 1);
 * `--allow-truncated` works on the prefix it holds. A real run killed with SIGKILL mid-way is the case
 * that matters; hand-cut files give each message.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LogSession } from '../../src/inspect/session.ts';
import { LogError } from '../../src/log/reader.ts';
import { cli } from '../setup/cli.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(join(tmpdir(), 'svasim-cut-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** P processes of 4 threads, each bound, 20 rounds of ENQCMDs on every thread, then unbind and exit. */
function bigScenario(processes: number): string {
  const steps: Record<string, string>[] = [];
  const name = (p: number, t: number): string => `P${p}T${t}`;
  for (let p = 0; p < processes; p++) {
    steps.push({ op: 'spawn', process: name(p, 0) }, { op: 'bind', thread: name(p, 0), device: 'dsa0' });
    for (let t = 1; t < 4; t++) steps.push({ op: 'clone', thread: name(p, 0), new: name(p, t) });
  }
  for (let e = 0; e < 20; e++) for (let p = 0; p < processes; p++) for (let t = 0; t < 4; t++) steps.push({ op: 'enqcmd', thread: name(p, t), device: 'dsa0' });
  for (let p = 0; p < processes; p++) {
    steps.push({ op: 'unbind', thread: name(p, 0), device: 'dsa0' });
    for (let t = 3; t >= 0; t--) steps.push({ op: 'exit', thread: name(p, t) });
  }
  return JSON.stringify({ scenario: 1, name: 'big', devices: [{ name: 'dsa0', wqSize: 64, threshold: 64 }], steps });
}

describe('a real run killed with SIGKILL mid-run (--flush record)', () => {
  it('replay, --until and report say "incomplete" (exit 2); with --allow-truncated they work on the prefix', async () => {
    const scenario = join(dir, 'big.json');
    writeFileSync(scenario, bigScenario(300));
    const log = join(dir, 'killed.jsonl');
    const child = spawn(process.execPath, [join(ROOT, 'src/cli/svasim.mjs'), 'run', scenario, '--log', log, '--flush', 'record', '--quiet'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | number | null>((ok) => child.once('exit', (code, signal) => ok(signal ?? code)));
    // Wait until the run has written 2 MB of its ~27 MB of records, then kill it.
    const size = (): number => {
      try {
        return statSync(log).size;
      } catch {
        return 0;
      }
    };
    for (let waited = 0; size() < 2_000_000; waited += 10) {
      if (waited > 60_000 || child.exitCode !== null) throw new Error(`the run did not write 2 MB in time (exit ${child.exitCode}, ${size()} bytes)`);
      await new Promise((ok) => setTimeout(ok, 10));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const r = await cli(['replay', log]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    // Whether the kill fell between two records or inside one, the log is incomplete and says what is missing.
    expect(r.err).toMatch(
      new RegExp(`^${log}(:\\d+)?: incomplete log: it ends at seq [\\d,]+ in step [\\d,]+ of 27,000 \\(.*steps [\\d,]+\\.\\.26,999 have no record\\)(, with no closing record: the run ended early \\(it was stopped, or its log writes failed\\)|, and its last line is cut short \\(a record lost\\): the run ended while writing it \\(it was stopped, or a write failed\\)); --allow-truncated replays its [\\d,]+ complete records\\n$`),
    );
    const prefix = await cli(['replay', log, '--allow-truncated']);
    expect(prefix.code).toBe(0);
    expect(prefix.out).toMatch(/^identical: \d+ records of .* replayed/);
    expect(prefix.err).toMatch(new RegExp(`note: ${log} is incomplete, replayed as a prefix: it ends at seq`));

    for (const argv of [['replay', log, '--until', '10'], ['report', log, '--out', join(dir, 'killed.html')]]) {
      const c = await cli(argv);
      expect(c.code, argv.join(' ')).toBe(2);
      expect(c.err, argv.join(' ')).toMatch(/: incomplete log: it ends at seq/);
      expect(c.err + c.out).not.toMatch(/diverge/);
    }
    const until = await cli(['replay', log, '--until', '10', '--allow-truncated']);
    expect(until.code).toBe(0);
    expect(until.out).toContain('processes');
  }, 120_000);
});

describe('each way a log can be cut, in words', () => {
  const whole = (): string[] => readFileSync(join(ROOT, 'test/fixtures/golden/seed-a-unbind-dmar.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('a header cut short (a kill during a large header write) is an incomplete log, not "not a JSON log header"', async () => {
    const header = whole()[0] ?? '';
    const p = write('header-cut.jsonl', header.slice(0, 300));
    for (const argv of [['replay', p], ['replay', p, '--allow-truncated'], ['report', p, '--out', join(dir, 'h.html')], ['replay', p, '--until', '0']]) {
      const r = await cli(argv);
      expect(r, argv.join(' ')).toMatchObject({ code: 2, err: `${p}:1: incomplete log: its header is cut short: the run ended while writing it (it was stopped, or a write failed); there is nothing to replay\n` });
    }
  });

  it('a header and no records: "header only"', async () => {
    const p = write('header-only.jsonl', `${whole()[0] ?? ''}\n`);
    const r = await cli(['replay', p]);
    expect(r).toMatchObject({ code: 2, err: `${p}: incomplete log: header only: no records and no closing record, the run ended early (it was stopped, or its log writes failed); --allow-truncated replays it as an empty prefix\n` });
    const prefix = await cli(['replay', p, '--allow-truncated']);
    expect(prefix.code).toBe(0);
    expect(prefix.out).toMatch(/^identical: 0 records/);
    // The header without its newline: the same.
    const bare = write('header-bare.jsonl', whole()[0] ?? '');
    expect((await cli(['replay', bare])).err).toBe(`${bare}: incomplete log: header only: no records and no closing record, the run ended early (it was stopped, or its log writes failed); --allow-truncated replays it as an empty prefix\n`);
  });

  it('records but no closing record, cut at a step boundary: which steps are missing', async () => {
    const ls = whole();
    const kept = ls.slice(0, -1).filter((l, i) => i === 0 || !l.includes('"step":5'));
    const p = write('between.jsonl', `${kept.join('\n')}\n`);
    const n = kept.length - 1;
    const message = `${p}: incomplete log: it ends at seq ${n} in step 4 of 6 (step 5 has no record), with no closing record: the run ended early (it was stopped, or its log writes failed); --allow-truncated replays its ${n} complete records\n`;
    expect(await cli(['replay', p])).toMatchObject({ code: 2, out: '', err: message });
    // report and inspect read logs through the same checks (LogSession).
    expect(await cli(['report', p, '--out', join(dir, 'between.html')])).toMatchObject({ code: 2, err: message });
    expect(() => new LogSession(p)).toThrow(new LogError(message.trimEnd()));
  });

  it('inspect/report with --allow-truncated: a log cut inside its last step opens as its prefix, with a warning saying so', async () => {
    const ls = whole();
    const p = write('last-step.jsonl', `${ls.slice(0, -2).join('\n')}\n`);
    const s = new LogSession(p, { allowTruncated: true });
    expect(s.lastSeq).toBe(47);
    expect(s.warnings).toStrictEqual([
      `${p} is incomplete, opened as a prefix: it ends at seq 47 in step 5 of 6 (step 5 still had 1 message pending, not in the log), with no closing record: the run ended early (it was stopped, or its log writes failed); the states shown are those of a run cut short`,
    ]);
    const r = await cli(['report', p, '--allow-truncated', '--out', join(dir, 'last-step.html')]);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`warning: ${s.warnings[0]}\n`);
  });

  it('a closing record whose count disagrees with the records is damage, at its line', async () => {
    const ls = whole();
    ls[ls.length - 1] = '{"end":"svasim","records":24378,"steps":6}';
    const p = write('recount.jsonl', `${ls.join('\n')}\n`);
    expect(await cli(['replay', p])).toMatchObject({ code: 2, err: `${p}:${ls.length}: damaged log: the closing record counts 24,378 records, but 48 precede it\n` });
  });

  it('a complete log with a closing record replays, and an edited record in it is still a divergence (exit 1)', async () => {
    const ls = whole();
    expect((await cli(['replay', write('whole.jsonl', `${ls.join('\n')}\n`)])).code).toBe(0);
    const i = ls.findIndex((l) => l.includes('"type":"pasid.put"'));
    ls[i] = (ls[i] ?? '').replace('"refs":1', '"refs":5');
    const r = await cli(['replay', write('edited.jsonl', `${ls.join('\n')}\n`)]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^diverged at seq \d+/);
  });
});
