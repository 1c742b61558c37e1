/**
 * The command line (SPEC §8), driven in-process through `main(argv, io)` with fake streams; one smoke
 * test spawns the real bin.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/runner/run.ts';
import { builtinNames, builtinPath } from '../../src/scenarios/index.ts';
import { checkOutput } from '../setup/stack-guard.ts';
import { cli, type Ran } from '../setup/cli.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(join(tmpdir(), 'svasim-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ANSI = /\x1b\[/;

let fileCount = 0;
/** Writes a scenario file into the temp dir and returns its path. */
function scenarioFile(text: string, name = `s${fileCount++}`): string {
  const p = join(dir, `${name}.json`);
  writeFileSync(p, text);
  return p;
}

/** A one-line scenario with device dsa0 and process A, then `steps`. */
const withSteps = (steps: string, extra = ''): string =>
  `{"scenario":1,"name":"t","devices":[{"name":"dsa0"}],"steps":[{"op":"spawn","process":"A"},${steps}]${extra}}`;
const BIND = '{"op":"bind","thread":"A","device":"dsa0"}';

/** Column (1-based) of `needle` in a one-line text. */
const col = (text: string, needle: string): number => {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`${needle} not in ${text}`);
  return at + 1;
};

/** Asserts a bad-input outcome: exit 2, nothing on stdout, exactly one line on stderr; returns that line. */
function badInput(r: Ran): string {
  expect(r.code, r.err + r.out).toBe(2);
  expect(r.out).toBe('');
  expect(r.err.endsWith('\n')).toBe(true);
  const lines = r.err.split('\n');
  expect(lines, r.err).toHaveLength(2);
  expect(lines[1]).toBe('');
  const line = lines[0] ?? '';
  expect(line).not.toMatch(/\bat .*\(|Error:|node:internal/); // no stack trace
  return line;
}

const EXAMPLE = JSON.stringify({
  scenario: 1,
  name: 'cli example',
  policy: { pasid: 'seed-2021', lam: 'poc-2022' },
  devices: [{ name: 'dsa0', wqSize: 4, threshold: 2 }],
  steps: [
    { op: 'spawn', process: 'A' },
    { op: 'bind', thread: 'A', device: 'dsa0', expect: { result: 'ok', pasid: 1 } },
    { op: 'clone', thread: 'A', new: 'A1' },
    { op: 'enqcmd', thread: 'A1', device: 'dsa0', expect: { result: 'accepted', events: ['trap.gp', 'msr.write', 'wq.accept'] } },
    { op: 'unbind', thread: 'A', device: 'dsa0', expect: { result: 'ok' } },
    { op: 'enqcmd', thread: 'A1', device: 'dsa0', expect: { result: 'accepted', events: ['fault.dmar'] } },
    { op: 'exit', thread: 'A1' },
    { op: 'exit', thread: 'A' },
  ],
});

// ---------------------------------------------------------------------------------------------------

describe('built-in scenarios', () => {
  it('there is at least one', () => {
    expect(builtinNames().length).toBeGreaterThan(0);
  });

  it.each(builtinNames())('%s passes (runScenario)', (name) => {
    const path = builtinPath(name);
    expect(path, name).toBeDefined();
    const r = runScenario(loadScenarioFile(path ?? ''));
    const detail = r.failures.map((f) => `step ${f.step ?? 'final'}: ${f.what}: expected ${f.expected}, got ${f.got}`).join('\n');
    expect(r.ok, `${name} failed:\n${detail}`).toBe(true);
    expect(r.violations).toStrictEqual([]);
  });

  it('run --all exits 0 with a PASS line per scenario and no FAIL line', async () => {
    const r = await cli(['run', '--all']);
    expect(r.code, r.out).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).not.toMatch(/^\s*FAIL\b/m);
    const verdicts = new Map(r.out.split('\n').filter((l) => /^(PASS|FAIL) /.test(l)).map((l) => [l.split(/\s+/)[1], l.split(' ')[0]]));
    for (const name of builtinNames()) expect(verdicts.get(name), name).toBe('PASS');
    expect(r.out).toContain(`${builtinNames().length} passed, 0 failed`);
  });

  it('list prints every built-in scenario', async () => {
    const r = await cli(['list']);
    expect(r.code).toBe(0);
    for (const name of builtinNames()) expect(r.out).toContain(name);
    const json = await cli(['list', '--json']);
    const rows = JSON.parse(json.out) as { name: string }[];
    expect(rows.map((x) => x.name)).toStrictEqual(builtinNames());
  });

  it('a built-in can be run by name', async () => {
    const name = builtinNames()[0] ?? '';
    const r = await cli(['run', name, '--log', join(dir, 'builtin.jsonl')]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('PASS');
  });
});

describe('smoke: the bin', () => {
  it('node src/cli/svasim.mjs list exits 0', () => {
    const p = spawnSync(process.execPath, ['src/cli/svasim.mjs', 'list'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(p.error).toBeUndefined();
    expect(p.status, checkOutput(p.stderr, 'svasim list (stderr)')).toBe(0);
    for (const name of builtinNames()) expect(p.stdout).toContain(name);
  });
});

describe('event log', () => {
  it('the same scenario run twice gives byte-identical logs', async () => {
    const file = scenarioFile(EXAMPLE, 'example');
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl');
    expect((await cli(['run', file, '--log', a])).code).toBe(0);
    expect((await cli(['run', file, '--log', b])).code).toBe(0);
    const la = readFileSync(a);
    const lb = readFileSync(b);
    expect(la.length).toBeGreaterThan(100);
    expect(la.equals(lb)).toBe(true);
    // …and for another policy too.
    const c = join(dir, 'c.jsonl');
    const d = join(dir, 'd.jsonl');
    await cli(['run', file, '--policy', 'pasid=merged,lam=v6.4', '--log', c]);
    await cli(['run', file, '--policy', 'pasid=merged,lam=v6.4', '--log', d]);
    expect(readFileSync(c).equals(readFileSync(d))).toBe(true);
    expect(readFileSync(c).equals(la)).toBe(false);
  });

  it('--json gives each refused step the kernel check that refused it', async () => {
    const r = await cli(['run', 'lam-v6.4', '--no-log', '--json']);
    expect(r.code, r.err).toBe(0);
    const steps = (JSON.parse(r.out) as { steps: { index: number; result: string; reason?: string }[] }).steps;
    const refused = steps.filter((s) => s.result !== 'ok');
    expect(refused.length).toBeGreaterThan(0);
    for (const s of refused) expect(s.reason, `step ${s.index}`).toMatch(/^[a-z][a-z0-9-]+$/);
    expect(steps.find((s) => s.index === 7)).toMatchObject({ result: 'EBUSY', reason: 'lam-locked' });
    expect(steps.filter((s) => s.result === 'ok').every((s) => s.reason === undefined)).toBe(true);
  });

  it('line 1 is the header with the scenario and the policy; records have contiguous seq from 1', async () => {
    const file = scenarioFile(EXAMPLE);
    const log = join(dir, 'header.jsonl');
    const r = await cli(['run', file, '--log', log, '--json']);
    expect(r.code, r.out).toBe(0);
    const text = readFileSync(log, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    const first = lines[0] ?? '';
    expect(first.startsWith('{"log":"svasim","version":2,')).toBe(true);
    const header = JSON.parse(first) as { log: string; version: number; policy: unknown; scenario: { name: string; steps: unknown[] } };
    expect(header.policy).toStrictEqual({ pasid: 'seed-2021', lam: 'poc-2022' });
    expect(header.scenario.name).toBe('cli example');
    expect(header.scenario.steps).toHaveLength(8);
    const records = lines.slice(1, -1).map((l) => JSON.parse(l) as { seq: number; type: string; from: string; to: string; step: number; cause?: number });
    expect(records.length).toBe((JSON.parse(r.out) as { messages: number }).messages);
    // The last line closes the log: the run ended, with this many records and steps.
    expect(lines[lines.length - 1]).toBe(`{"end":"svasim","records":${records.length},"steps":8}`);
    records.forEach((rec, i) => {
      expect(rec.seq).toBe(i + 1);
      expect(Object.keys(rec).slice(0, 4)).toStrictEqual(['seq', 'type', 'from', 'to']);
      expect(rec.step).toBeTypeOf('number');
      if (rec.cause !== undefined) expect(rec.cause).toBeLessThan(rec.seq);
    });
    expect(records[0]).toMatchObject({ seq: 1, type: 'sys.spawn', from: 'user', step: 0 });
    expect(records.map((x) => x.type)).toContain('fault.dmar');
  });

  it('the header holds the effective policy after --policy, and the scenario with its own policy', async () => {
    const file = scenarioFile(EXAMPLE);
    const log = join(dir, 'policy.jsonl');
    await cli(['run', file, '--policy', 'pasid=merged', '--log', log]);
    const header = JSON.parse(readFileSync(log, 'utf8').split('\n')[0] ?? '') as { policy: unknown; scenario: { policy: unknown } };
    expect(header.policy).toStrictEqual({ pasid: 'merged', lam: 'poc-2022' });
    expect(header.scenario.policy).toStrictEqual({ pasid: 'seed-2021', lam: 'poc-2022' });
  });

  it('an unwritable --log is bad input: one line, exit 2, nothing run', async () => {
    const file = scenarioFile(EXAMPLE);
    const r = await cli(['run', file, '--log', join(dir, 'no-such-dir', 'x.jsonl')]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toBe(`svasim: cannot write log ${join(dir, 'no-such-dir', 'x.jsonl')}: no such file or directory (ENOENT)\n`);
    const r2 = await cli(['run', file, '--log', dir]);
    expect(r2.code).toBe(2);
    expect(r2.err).toContain('is a directory');
  });
});

describe('bad input: exit 2, one line on stderr', () => {
  it('malformed JSON reports line and column', async () => {
    const file = scenarioFile('{\n  "scenario": 1,\n  "name": }\n');
    const line = badInput(await cli(['run', file]));
    expect(line).toBe(`${file}:3:11: invalid JSON: unexpected character "}"`);
  });

  it('malformed JSON: trailing comma, on another line', async () => {
    const file = scenarioFile('{\n  "scenario": 1,\n  "steps": [],\n}');
    expect(badInput(await cli(['run', file]))).toBe(`${file}:3:14: invalid JSON: trailing comma is not allowed`);
  });

  it('unknown op', async () => {
    const text = withSteps('{"op":"bnd","thread":"A","device":"dsa0"}');
    const file = scenarioFile(text);
    const line = badInput(await cli(['run', file]));
    expect(line).toBe(`${file}:1:${col(text, '"bnd"')}: steps[1].op: unknown op "bnd" (expected one of spawn, clone, fork, exec, exit, open, mmap, munmap, bind, unbind, close, enqcmd, arch_prctl, complete)`);
  });

  it('unknown device', async () => {
    const text = withSteps('{"op":"bind","thread":"A","device":"dsa9"}');
    const file = scenarioFile(text);
    expect(badInput(await cli(['run', file]))).toBe(`${file}:1:${col(text, '"dsa9"')}: steps[1].device: unknown device "dsa9"`);
  });

  it('unknown thread', async () => {
    const text = withSteps('{"op":"enqcmd","thread":"X","device":"dsa0"}');
    const file = scenarioFile(text);
    expect(badInput(await cli(['run', file]))).toBe(`${file}:1:${col(text, '"X"')}: steps[1].thread: unknown thread "X"`);
  });

  it('unknown policy in the file', async () => {
    const text = withSteps(BIND, ',"policy":{"pasid":"newest"}');
    const file = scenarioFile(text);
    expect(badInput(await cli(['run', file]))).toBe(
      `${file}:1:${col(text, '"newest"')}: policy.pasid: unknown pasid policy "newest" (expected seed-2021 or merged)`,
    );
    const lam = withSteps(BIND, ',"policy":{"lam":"v9"}');
    expect(badInput(await cli(['run', scenarioFile(lam)]))).toContain('policy.lam: unknown lam policy "v9" (expected poc-2022, v6.4 or off)');
  });

  it('unknown policy in --policy', async () => {
    const file = scenarioFile(withSteps(BIND));
    expect(badInput(await cli(['run', file, '--policy', 'pasid=newest']))).toBe(
      '--policy: unknown pasid policy "newest" (expected seed-2021 or merged)',
    );
    expect(badInput(await cli(['run', file, '--policy', 'lam=v9']))).toBe('--policy: unknown lam policy "v9" (expected poc-2022, v6.4 or off)');
    expect(badInput(await cli(['run', file, '--policy', 'mode=fast']))).toBe('--policy: unknown policy key "mode" (expected pasid or lam)');
    expect(badInput(await cli(['run', '--all', '--policy', 'pasid=x']))).toContain('--policy: unknown pasid policy "x"');
  });

  it('invalid pasidRange', async () => {
    const text = withSteps(BIND, ',"iommu":{"pasidRange":[0,5]}');
    const file = scenarioFile(text);
    expect(badInput(await cli(['run', file]))).toBe(
      `${file}:1:${col(text, '[0,5]')}: iommu.pasidRange: min 0 is below 1 (PASID 0 is reserved)`,
    );
    const big = withSteps(BIND, ',"iommu":{"pasidRange":[1,1048576]}');
    expect(badInput(await cli(['run', scenarioFile(big)]))).toContain('iommu.pasidRange: max 1048576 is above 0xFFFFF');
    const inverted = withSteps(BIND, ',"iommu":{"pasidRange":[9,3]}');
    expect(badInput(await cli(['run', scenarioFile(inverted)]))).toContain('iommu.pasidRange: min 9 is greater than max 3');
  });

  it('duplicate names', async () => {
    const text = withSteps('{"op":"clone","thread":"A","new":"A"}');
    const file = scenarioFile(text);
    expect(badInput(await cli(['run', file]))).toBe(
      `${file}:1:${col(text, '"A"}]')}: steps[1].new: duplicate name "A" (already created by steps[0])`,
    );
    const devices = '{"scenario":1,"name":"t","devices":[{"name":"d"},{"name":"d"}],"steps":[]}';
    expect(badInput(await cli(['run', scenarioFile(devices)]))).toContain('devices[1].name: duplicate device "d" (already declared at devices[0])');
  });

  it('unknown errno in expect', async () => {
    const text = withSteps('{"op":"bind","thread":"A","device":"dsa0","expect":{"result":"EFOO"}}');
    const file = scenarioFile(text);
    const line = badInput(await cli(['run', file]));
    expect(line).toContain(`${file}:1:${col(text, '"EFOO"')}: steps[1].expect.result: unknown result "EFOO"`);
    expect(line).toContain('EBUSY');
  });

  it('nonexistent file', async () => {
    const file = join(dir, 'does-not-exist.json');
    expect(badInput(await cli(['run', file]))).toBe(`${file}: cannot read file: no such file or directory`);
  });

  it('neither a file nor a built-in', async () => {
    expect(badInput(await cli(['run', 'no-such-builtin']))).toContain('"no-such-builtin" is neither a scenario file nor a built-in scenario');
  });

  it('unknown command', async () => {
    expect(badInput(await cli(['frobnicate']))).toBe('svasim: unknown command "frobnicate" (expected run, list, replay, inspect, report or diagram; see svasim --help)');
  });

  it('an option value that looks like an option, a negative number given as a value, and a reversed diagram range', async () => {
    const log = join(dir, 'opt.jsonl');
    expect((await cli(['run', 'seed-a-unbind-dmar', '--log', log, '--quiet'])).code).toBe(0);
    expect(badInput(await cli(['replay', log, '--until', '--quiet']))).toBe('svasim replay: --until got "--quiet", which looks like an option (write --until=VALUE if you mean it)');
    // A negative number is the option's value: its own check says what is wrong with it.
    for (const until of [['--until', '-1'], ['--until=-1']]) {
      expect(badInput(await cli(['replay', log, ...until]))).toBe('svasim replay: --until expects a seq (0 for the state before the first record), got "-1"');
    }
    expect(badInput(await cli(['explore', 'race-unbind-inflight', '--workers', '-1']))).toBe('svasim explore: --workers expects an integer from 1 to 64, got "-1"');
    expect(badInput(await cli(['diagram', '--log', log, '--from', '30', '--to', '10']))).toBe('svasim diagram: --to 10 is before --from 30');
  });

  it('unknown flag', async () => {
    const line = badInput(await cli(['run', '--frob', 'x.json']));
    expect(line).toMatch(/^svasim run: .*--frob/);
    expect(badInput(await cli(['list', '--verbose']))).toMatch(/^svasim list: .*--verbose/);
  });

  it('wrong argument counts', async () => {
    expect(badInput(await cli(['run']))).toContain('svasim run: expected one scenario file or built-in name');
    expect(badInput(await cli(['run', 'a.json', 'b.json']))).toContain('svasim run: expected one scenario file');
    expect(badInput(await cli(['run', '--all', '--log', join(dir, 'all.jsonl')]))).toContain('--all writes no logs; --log needs one scenario');
    expect(badInput(await cli(['run', '--all', '--flush', 'record']))).toContain('--all writes no logs; --flush needs one scenario');
    expect(badInput(await cli(['run', '--all', 'a.json']))).toContain('--all takes no scenario argument');
    expect(badInput(await cli(['run', 'a.json', '--log', 'x', '--no-log']))).toContain('--log and --no-log exclude each other');
    expect(badInput(await cli(['run', 'a.json', '--flush', 'often']))).toBe('svasim run: --flush expects step or record, got "often"');
    expect(badInput(await cli(['run', 'a.json', '--flush', 'record', '--no-log']))).toBe('svasim run: --flush needs a log (it excludes --no-log)');
  });

  it('--flush record writes the same log as the default (a record per write instead of a step per write)', async () => {
    const a = join(dir, 'flush-step.jsonl');
    const b = join(dir, 'flush-record.jsonl');
    expect((await cli(['run', 'seed-a-unbind-dmar', '--log', a, '--quiet'])).code).toBe(0);
    expect((await cli(['run', 'seed-a-unbind-dmar', '--log', b, '--quiet', '--flush', 'record'])).code).toBe(0);
    expect(readFileSync(b, 'utf8')).toBe(readFileSync(a, 'utf8'));
  });

  it('--engine xstate runs and replays through xstate\'s interpreter with the same log; bad values exit 2', async () => {
    const a = join(dir, 'engine-compiled.jsonl');
    const b = join(dir, 'engine-xstate.jsonl');
    expect((await cli(['run', 'seed-b-fixup-then-dmar', '--log', a, '--quiet'])).code).toBe(0);
    expect((await cli(['run', 'seed-b-fixup-then-dmar', '--log', b, '--quiet', '--engine', 'xstate'])).code).toBe(0);
    expect(readFileSync(b, 'utf8')).toBe(readFileSync(a, 'utf8'));
    const replayed = await cli(['replay', a, '--engine', 'xstate']);
    expect(replayed.code).toBe(0);
    expect(replayed.out).toMatch(/^identical: /m);
    expect((await cli(['run', '--all', '--engine', 'xstate'])).out).toContain(`${builtinNames().length} passed, 0 failed`);
    expect(badInput(await cli(['run', 'a.json', '--engine', 'fast']))).toBe('svasim run: --engine expects compiled or xstate, got "fast"');
    expect(badInput(await cli(['replay', a, '--engine', 'v4']))).toBe('svasim replay: --engine expects compiled or xstate, got "v4"');
    expect(badInput(await cli(['replay', a, '--engine', 'xstate', '--until', '3']))).toBe('svasim replay: --engine applies to a whole-log replay (not with --until or --policy)');
  });

  it('nothing is run and no log is written on bad input', async () => {
    const text = withSteps('{"op":"bind","thread":"A","device":"dsa9"}');
    const log = join(dir, 'never.jsonl');
    badInput(await cli(['run', scenarioFile(text), '--log', log]));
    expect(() => readFileSync(log)).toThrow();
  });
});

describe('expectations', () => {
  const failing = withSteps('{"op":"bind","thread":"A","device":"dsa0","expect":{"result":"EBUSY","pasid":7}}', ',"final":{"pasid":{"A":null}}');

  it('a failing expectation exits 1 and prints expected-vs-got', async () => {
    const r = await cli(['run', scenarioFile(failing), '--no-log']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('');
    expect(r.out).toContain('FAILED: 3 expectation(s)');
    expect(r.out).toContain('step 1 (bind A dsa0): result: expected EBUSY, got ok');
    expect(r.out).toContain('step 1 (bind A dsa0): pasid: expected 7, got 1');
    expect(r.out).toContain('final: final.pasid.A: expected null, got 1');
    expect(r.out).not.toContain('PASS');
  });

  it('a forbidden message type exits 1', async () => {
    const text = withSteps(
      '{"op":"clone","thread":"A","new":"A1"},{"op":"bind","thread":"A","device":"dsa0"},{"op":"enqcmd","thread":"A1","device":"dsa0"},{"op":"unbind","thread":"A","device":"dsa0"},{"op":"enqcmd","thread":"A1","device":"dsa0"}',
      ',"forbid":["fault.dmar"]',
    );
    const r = await cli(['run', scenarioFile(text), '--no-log', '--quiet']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/forbid: fault\.dmar: expected never, got seq \d+/);
  });

  it('a passing scenario exits 0 and says so', async () => {
    const r = await cli(['run', scenarioFile(EXAMPLE), '--no-log']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('PASS: every expectation holds');
    expect(r.out).toContain('log: not written');
    expect(r.out).toContain('step 5: enqcmd A1 dsa0');
  });
});

describe('--json', () => {
  it('prints one JSON document with ok, steps and failures (passing)', async () => {
    const r = await cli(['run', scenarioFile(EXAMPLE), '--json', '--no-log']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { ok: boolean; steps: { index: number; op: string; result: string; pasid: number | null }[]; failures: unknown[]; log: unknown };
    expect(j.ok).toBe(true);
    expect(j.failures).toStrictEqual([]);
    expect(j.log).toBeNull();
    expect(j.steps).toHaveLength(8);
    expect(j.steps[1]).toMatchObject({ index: 1, op: 'bind', result: 'ok', pasid: 1 });
    expect(j.steps[5]).toMatchObject({ index: 5, op: 'enqcmd', result: 'accepted' });
  });

  it('failing: ok false and the failures with expected and got', async () => {
    const text = withSteps('{"op":"bind","thread":"A","device":"dsa0","expect":{"result":"EBUSY"}}');
    const r = await cli(['run', scenarioFile(text), '--json', '--no-log']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { ok: boolean; failures: unknown[] };
    expect(j.ok).toBe(false);
    expect(j.failures).toStrictEqual([{ step: 1, what: 'result', expected: 'EBUSY', got: 'ok' }]);
  });
});

describe('colour', () => {
  const file = scenarioFile(EXAMPLE);

  it('a TTY without NO_COLOR gets ANSI colours (so the next tests can fail)', async () => {
    const r = await cli(['run', file, '--no-log'], { tty: true, env: {} });
    expect(r.out).toMatch(ANSI);
  });

  it('NO_COLOR on a TTY: no ANSI escapes', async () => {
    const r = await cli(['run', file, '--no-log'], { tty: true, env: { NO_COLOR: '1' } });
    expect(r.code).toBe(0);
    expect(r.out.length).toBeGreaterThan(200);
    expect(r.out).not.toMatch(ANSI);
    expect((await cli(['run', '--all'], { tty: true, env: { NO_COLOR: '1' } })).out).not.toMatch(ANSI);
  });

  it('non-TTY output: no ANSI escapes', async () => {
    for (const argv of [['run', file, '--no-log'], ['run', '--all'], ['list'], ['--help']]) {
      const r = await cli(argv, { tty: false, env: {} });
      expect(r.out.length).toBeGreaterThan(0);
      expect(r.out, argv.join(' ')).not.toMatch(ANSI);
    }
  });
});

describe('--help', () => {
  it.each([
    [['--help'], 'usage: svasim <command>'],
    [['-h'], 'usage: svasim <command>'],
    [['help'], 'usage: svasim <command>'],
    [['run', '--help'], 'usage: svasim run'],
    [['run', '-h'], 'usage: svasim run'],
    [['list', '--help'], 'usage: svasim list'],
  ])('%j exits 0 and prints its usage', async (argv, usage) => {
    const r = await cli(argv);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toContain(usage);
  });

  it('run --help documents the exit codes and options', async () => {
    const r = await cli(['run', '--help']);
    for (const opt of ['--policy', '--log', '--json', '--all']) expect(r.out).toContain(opt);
    expect(r.out).toMatch(/0 all expectations hold, 1 .*, 2 bad input/);
  });
});

describe('issue 11: what a user hit', () => {
  it('run --all --json prints one JSON document holding every scenario\'s result, and exits as without --json', async () => {
    const r = await cli(['run', '--all', '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { ok: boolean; passed: number; failed: number; scenarios: { builtin: string; name: string; ok: boolean; steps: unknown[] }[] };
    expect(j).toMatchObject({ ok: true, passed: builtinNames().length, failed: 0 });
    expect(j.scenarios.map((s) => s.builtin)).toStrictEqual(builtinNames());
    for (const s of j.scenarios) {
      expect(s.ok, s.builtin).toBe(true);
      expect(s.steps.length, s.builtin).toBeGreaterThan(0);
      expect(s.name).toBe(loadScenarioFile(builtinPath(s.builtin) ?? '').name);
    }
  });

  it('run --all --json exits 1 when a scenario fails (here: under a policy the scenarios were not written for)', async () => {
    const r = await cli(['run', '--all', '--json', '--policy', 'pasid=merged']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { ok: boolean; failed: number; scenarios: { ok: boolean; failures: unknown[] }[] };
    expect(j.ok).toBe(false);
    expect(j.failed).toBe(j.scenarios.filter((s) => !s.ok).length);
    expect(j.failed).toBeGreaterThan(0);
    expect(j.scenarios.filter((s) => !s.ok).every((s) => s.failures.length > 0)).toBe(true);
  });

  it('RunResult carries the scenario name, as run --json does', () => {
    const path = builtinPath('seed-a-unbind-dmar') ?? '';
    const s = loadScenarioFile(path);
    expect(runScenario(s).name).toBe(s.name);
  });

  it('explore --help names the README section that explains it, which exists; explore without a scenario is bad input', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const help = await cli(['explore', '--help']);
    expect(help.code).toBe(0);
    const section = /README's "([^"]+)"/.exec(help.out)?.[1] ?? '';
    expect(readme).toContain(`\n## ${section}\n`);
    const refused = await cli(['explore']);
    expect(refused.code).toBe(2);
    expect(refused.err.trim().split('\n')).toHaveLength(1);
  });

  it('report without --out writes where its help says: run.jsonl -> run.html', async () => {
    const help = await cli(['report', '--help']);
    expect(help.out).toContain('run.jsonl -> run.html');
    const log = join(dir, 'rep.jsonl');
    expect((await cli(['run', 'seed-a-unbind-dmar', '--log', log, '--quiet'])).code).toBe(0);
    const r = await cli(['report', log]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`wrote ${join(dir, 'rep.html')} `);
    expect(readFileSync(join(dir, 'rep.html'), 'utf8')).toMatch(/^<!doctype html>/i);
  });
});

describe('issue 11: replay output', () => {
  it('--until shows a queue\'s occupancy against its size, and the threshold apart', async () => {
    const log = join(dir, 'occ.jsonl');
    expect((await cli(['run', scenarioFile(EXAMPLE), '--log', log, '--quiet'])).code).toBe(0);
    const r = await cli(['replay', log, '--until', '3']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^ {2}dsa0: occupancy 0 of 4 \(threshold 2\), in flight 0;/m);
    const j = JSON.parse((await cli(['replay', log, '--until', '3', '--json'])).out) as { wqs: { device: string; occupancy: number; wqSize: number; threshold: number }[] };
    expect(j.wqs[0]).toMatchObject({ device: 'dsa0', occupancy: 0, wqSize: 4, threshold: 2 });
  });
});

describe('issue 11: replay --json', () => {
  it('a divergence gives the logged and the replayed record, and the causes, as objects', async () => {
    const log = join(dir, 'div.jsonl');
    expect((await cli(['run', 'seed-a-unbind-dmar', '--log', log, '--quiet'])).code).toBe(0);
    const text = readFileSync(log, 'utf8');
    const tampered = join(dir, 'div-t.jsonl');
    writeFileSync(tampered, text.replace('"refs":1', '"refs":7'));
    const r = await cli(['replay', tampered, '--json']);
    expect(r.code, r.err).toBe(1);
    const j = JSON.parse(r.out) as { identical: boolean; seq: number; expected: { seq: number; refs: number }; actual: { seq: number; refs: number }; actualIs: string; causes: { type: string }[] };
    expect(j.identical).toBe(false);
    expect(j.expected).toMatchObject({ seq: j.seq, refs: 7 });
    expect(j.actual).toMatchObject({ seq: j.seq, refs: 1 });
    expect(j.actualIs).toBe('delivered');
    expect(j.causes[0]?.type).toBe('sys.unbind');
    expect(typeof j.causes[0]).toBe('object');
  });
});

describe('issue 11: a scenario with several mistakes', () => {
  it('reports each on its own line (file:line:col: path: message), exit 2, nothing run', async () => {
    const text = [
      '{',
      '  "scenario": 1, "name": "two mistakes", "devices": [{ "name": "dsa0" }],',
      '  "steps": [',
      '    { "op": "spawn", "process": "A" },',
      '    { "op": "bind", "thread": "A", "device": "dsa1" },',
      '    { "op": "enqcmd", "thread": "A", "device": "dsa0", "expect": { "result": "acepted" } },',
      '    { "op": "complete", "device": "dsa0", "count": 9007199254740993 }',
      '  ]',
      '}',
    ].join('\n');
    const file = scenarioFile(text, 'mistakes');
    /** `line:col` of `needle` on line `n` (1-based). */
    const at = (n: number, needle: string): string => `${n}:${(text.split('\n')[n - 1] ?? '').indexOf(needle) + 1}`;
    const log = join(dir, 'mistakes.jsonl');
    const r = await cli(['run', file, '--log', log]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.split('\n')).toStrictEqual([
      `${file}:${at(5, '"dsa1"')}: steps[1].device: unknown device "dsa1"`,
      `${file}:${at(6, '"acepted"')}: steps[2].expect.result: unknown result "acepted" (expected ok, accepted, retry, sigsegv, sigill or an errno: ${r.err.split('errno: ')[1]?.split(')')[0] ?? ''})`,
      `${file}:${at(7, '9007')}: steps[3].count: expected a positive integer, got 9007199254740993`,
      '',
    ]);
    expect(() => readFileSync(log)).toThrow(/ENOENT/);
  });
});
