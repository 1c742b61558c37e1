/**
 * `svasim explore` as a user runs it: its verdicts and exit codes, the counterexample logs it writes
 * (replayed by `svasim replay`), `--json`, Ctrl-C, and bad input (one line, exit 2).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { cli } from '../setup/cli.ts';
import { builtinPath } from '../../src/scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'svasim-explore-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('svasim explore', () => {
  it('finds the unbind racing a queued descriptor (exit 1), prints its schedule and writes a log that svasim replay reproduces', async () => {
    const out = join(dir, 'cex');
    const r = await cli(['explore', 'race-unbind-inflight', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FOUND: forbidden fault.dmar delivered');
    expect(r.out).toContain('◀ the finding');
    expect(r.out).toContain('stopped at its first finding');
    const all = await cli(['explore', 'race-unbind-inflight', '--out', out, '--continue', '--quiet']);
    expect(all.out).toMatch(/complete: every reachable state was checked/);
    const log = join(out, 'race-unbind-inflight.fault.dmar.jsonl');
    expect(existsSync(log)).toBe(true);
    const replayed = await cli(['replay', log]);
    expect(replayed.code).toBe(0);
    expect(replayed.out).toContain('identical');
  });

  it('a counterexample is followed by a minimized one when steps can go: <name>.<what>.min.jsonl, which replays', async () => {
    const race = JSON.parse(readFileSync(builtinPath('race-unbind-inflight') ?? '', 'utf8')) as { steps: unknown[] };
    race.steps.splice(2, 0, { op: 'spawn', process: 'B' });
    const file = join(dir, 'padded.json');
    writeFileSync(file, JSON.stringify(race));
    const out = join(dir, 'min');
    const r = await cli(['explore', file, '--out', out, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/minimized: 6 of 7 steps \(0, 1, 3, 4, 5, 6\), \d+ transitions: /);
    const min = join(out, 'padded.fault.dmar.min.jsonl');
    expect((await cli(['replay', min])).code).toBe(0);
    const none = await cli(['explore', file, '--out', join(dir, 'nomin'), '--quiet', '--no-minimize']);
    expect(none.out).not.toContain('minimized');
  });

  it('a plugin\'s device model is explored like svasim\'s own: the example device finds its race, and the log replays with the plugin', async () => {
    const examples = join(dirname(fileURLToPath(import.meta.url)), '../../tools/examples');
    const plugin = join(examples, 'iax-plugin.mjs');
    const out = join(dir, 'plugin');
    const r = await cli(['explore', join(examples, 'device-model.json'), '--plugin', plugin, '--out', out, '--quiet', '--no-minimize']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FOUND: forbidden signal.sigsegv delivered');
    const log = join(out, 'device-model.signal.sigsegv.jsonl');
    expect((await cli(['replay', log, '--plugin', plugin])).code).toBe(0);
    expect((await cli(['replay', log])).code).toBe(2);
    // Worker threads load the plugin themselves: they find the same race, and its log replays with the plugin.
    const outW = join(dir, 'plugin-w');
    const w = await cli(['explore', join(examples, 'device-model.json'), '--plugin', plugin, '--out', outW, '--quiet', '--no-minimize', '--workers', '2']);
    expect(w.code).toBe(1);
    expect(w.out).toContain('FOUND: forbidden signal.sigsegv delivered');
    // The summary says when the worker threads joined (this thread searched from the start), never a rate over the rest.
    expect(w.out).toMatch(/\(the worker thread\(s\) joined after \d+\.\d s; this thread searched from the start\)|\(it ended before the worker thread\(s\) had joined\)/);
    expect((await cli(['replay', join(outW, 'device-model.signal.sigsegv.jsonl'), '--plugin', plugin])).code).toBe(0);
  });

  it('--final checks the scenario\'s final in every final state: an order that ends otherwise is found, and its log replays', async () => {
    const scenario = (final: unknown): string => {
      const file = join(dir, `binds-${Object.keys(final as object).join('-')}.json`);
      writeFileSync(file, JSON.stringify({
        scenario: 1,
        name: 'two processes bind',
        policy: { pasid: 'seed-2021', lam: 'poc-2022' },
        devices: [{ name: 'dsa0', wqSize: 32, threshold: 16, autoComplete: false }],
        steps: [
          { op: 'spawn', process: 'A' },
          { op: 'spawn', process: 'B' },
          { op: 'bind', thread: 'A', device: 'dsa0' },
          { op: 'bind', thread: 'B', device: 'dsa0' },
        ],
        final,
      }));
      return file;
    };
    // Run in order, A binds first and gets PASID 1; interleaved, B may.
    const order = scenario({ pasid: { A: 1, B: 2 } });
    expect((await cli(['run', order, '--quiet', '--log', join(dir, 'binds-run.jsonl')])).code).toBe(0);
    expect((await cli(['explore', order, '--quiet', '--out', join(dir, 'final0')])).code).toBe(0);
    for (const extra of [[], ['--workers', '2']]) {
      const out = join(dir, `final${extra.length}`);
      const r = await cli(['explore', order, '--final', '--out', out, ...extra]);
      expect(r.code, extra.join(' ')).toBe(1);
      expect(r.out).toContain("FOUND: a final state unlike the scenario's final (final.pasid.A)");
      expect(r.out).toContain('final.pasid.A: expected 1, got 2');
      const rep = await cli(['replay', join(out, 'binds-pasid.final.pasid.A.jsonl')]);
      expect(rep.code).toBe(0);
      expect(rep.out).toContain('it reproduces what exploration found at seq');
      expect(rep.out).toContain('final final.pasid.A: final.pasid.A: expected 1, got 2');
    }
    // What holds in every order: each process's PASID has one reference (a bind's).
    const refs = await cli(['explore', scenario({ refs: { 1: 1, 2: 1 } }), '--final', '--quiet']);
    expect(refs.code).toBe(0);
    expect(refs.out).toContain("NOTHING FOUND: no interleaving breaks an invariant or the forbid list, and every one ends as the scenario's final says");
  });

  it('proves a safe race safe (exit 0) and says the search was complete', async () => {
    const r = await cli(['explore', 'race-lam-bind-v6.4']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('NOTHING FOUND: no interleaving breaks an invariant or the forbid list');
  });

  it('--json: the summary and the findings with their logs', async () => {
    const out = join(dir, 'json');
    const r = await cli(['explore', 'race-unbind-inflight', '--out', out, '--json', '--continue']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { complete: boolean; strategy: string; findings: { kind: string; what: string; log: string; seq: number }[] };
    expect(j.strategy).toBe('bfs');
    expect(j.complete).toBe(true);
    expect(j.findings.map((f) => [f.kind, f.what])).toStrictEqual([['forbid', 'fault.dmar']]);
    expect(existsSync(j.findings[0]?.log ?? '')).toBe(true);
  });

  it('a bounded search says it proves nothing beyond its bound', async () => {
    const r = await cli(['explore', 'race-release-enqcmd', '--max-states', '300']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('bounded by --max-states (with --workers, a few more states may be counted: they insert at once): it proves nothing beyond the states it saw');
    expect(r.out).toContain('NOTHING FOUND within the bound');
    // Memory: under a small heap limit the search lets go of waiting states (rebuilt from their paths when
    // their turn comes) and goes on, then stops, bounded, with its summary, instead of dying (V8's
    // out-of-memory abort), on one worker or two.
    const steps: unknown[] = [{ op: 'spawn', process: 'A' }, { op: 'open', thread: 'A', device: 'dsa0', fd: 'wq' }, { op: 'mmap', thread: 'A', fd: 'wq' }];
    for (const t of ['W1', 'W2']) steps.push({ op: 'clone', thread: 'A', new: t });
    for (let k = 0; k < 3; k++) for (const t of ['W1', 'W2']) steps.push({ op: 'enqcmd', thread: t, device: 'dsa0' });
    steps.push({ op: 'complete', device: 'dsa0', count: 1 }, { op: 'complete', device: 'dsa0', count: 1 }, { op: 'close', thread: 'A', device: 'dsa0' });
    const big = join(dir, 'big-release.json');
    writeFileSync(big, JSON.stringify({ scenario: 1, name: 'release race, scaled up', policy: { pasid: 'seed-2021', lam: 'poc-2022' }, devices: [{ name: 'dsa0', wqSize: 32, threshold: 16, autoComplete: false }], steps }));
    for (const extra of [[], ['--workers', '2']]) {
      const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
      const p = spawnSync(process.execPath, ['src/cli/svasim.mjs', 'explore', big, '--quiet', ...extra], { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=48' } });
      expect(p.status, `${extra.join(' ')} ${p.stderr.slice(0, 300)}`).toBe(0);
      if (extra.length === 0) expect(p.stdout).toMatch(/the heap filled: waiting states were let go [\d,]+ times, each rebuilt from its path when its turn came/);
      expect(p.stdout).toContain('stopped before running out of memory');
      expect(p.stderr).not.toContain('FATAL');
    }
    // A search stops (with its summary) when its memory passes --max-memory by more than letting go of
    // waiting states can win back (here at once: the heap alone is over 1 MB).
    const m = await cli(['explore', 'race-release-enqcmd', '--max-memory', '1']);
    expect(m.code).toBe(0);
    expect(m.out).toContain('stopped before running out of memory');
    expect(m.out).toContain('NOTHING FOUND within the bound');
    // On two lanes too, it ends with its summary.
    const m2 = await cli(['explore', 'race-release-enqcmd', '--max-memory', '1', '--workers', '2']);
    expect(m2.code).toBe(0);
    expect(m2.out).toMatch(/NOTHING FOUND(: no interleaving breaks| within the bound)/);
  });

  it('pct with a seed finds the race; random and pct say a sample proves nothing about the rest', async () => {
    const r = await cli(['explore', 'race-unbind-inflight', '--strategy', 'pct', '--seed', '7', '--schedules', '300', '--out', join(dir, 'pct')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FOUND: forbidden fault\.dmar delivered after \d+ transitions \(schedule index (\d+): the \d+(st|nd|rd|th) schedule\)/);
    const s = await cli(['explore', 'race-lam-bind-v6.4', '--strategy', 'random', '--schedules', '50']);
    expect(s.code).toBe(0);
    expect(s.out).toContain('a sample of schedules: it proves nothing about the schedules it did not run');
    // Random found nothing: it names the strategy that finds races where an actor must run late.
    expect(s.out).toContain('what --strategy pct finds');
    expect(r.out).not.toContain('what --strategy pct finds');
    // A counterexample's commands, one a line.
    expect(r.out).toMatch(/\n {2}replay it: +svasim replay \S+\.jsonl\n {2}every actor there: +svasim replay \S+ --until \d+\n {2}see it: +svasim inspect \S+\n/);
  });

  it('Ctrl-C stops the search with the summary so far', async () => {
    let out = '';
    const code = await main(['explore', 'race-release-enqcmd'], {
      stdout: { write: (s: string) => void (out += s) },
      stderr: { write: () => undefined },
      env: {},
      until: Promise.resolve(),
    });
    expect(code).toBe(0);
    expect(out).toContain('interrupted: it proves nothing beyond the states it saw');
    expect(out).toContain('NOTHING FOUND before it was interrupted');
  });

  it('4 shards of a bfs search, merged: the same states and verdicts as one search; a missing or foreign shard is bad input', async () => {
    const safe = join(dir, 'safe');
    for (const k of [0, 1, 2, 3]) {
      const r = await cli(['explore', 'race-lam-bind-poc-2022', '--shard', `${k}/4`, '--out', join(safe, `s${k}`), '--quiet']);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`shard ${k}/4 searched its part to the end`);
    }
    const whole = JSON.parse((await cli(['explore', 'race-lam-bind-poc-2022', '--json'])).out) as { stats: { distinct: number } };
    const merged = await cli(['explore', '--merge', ...[0, 1, 2, 3].map((k) => join(safe, `s${k}`)), '--json']);
    expect(merged.code).toBe(0);
    const m = JSON.parse(merged.out) as { name: string; stats: { distinct: number }; complete: boolean; findings: unknown[] };
    // The shape of a search's --json: the same fields where they mean the same.
    expect(m).toMatchObject({ name: (whole as unknown as { name: string }).name, strategy: 'bfs', shards: 4, stats: { distinct: whole.stats.distinct }, complete: true, findings: [] });
    expect(Object.keys(m)).toEqual(expect.arrayContaining(Object.keys(whole)));
    const racy = join(dir, 'racy');
    for (const k of [0, 1, 2, 3]) await cli(['explore', 'race-unbind-inflight', '--shard', `${k}/4`, '--out', racy, '--continue', '--quiet']);
    const found = await cli(['explore', '--merge', racy]);
    expect(found.code).toBe(1);
    expect(found.out).toContain('FOUND: forbidden fault.dmar delivered');
    expect(found.out).toContain('1,590 distinct states in all');
    const missing = await cli(['explore', '--merge', join(safe, 's0'), join(safe, 's1')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('shards 2/4, 3/4 missing');
    const foreign = await cli(['explore', '--merge', racy, join(safe, 's0')]);
    expect(foreign.code).toBe(2);
    expect(foreign.err.trim().split('\n')).toHaveLength(1);
    // A damaged or swapped fingerprints file is refused (it would change the count, and the verdict).
    const damaged = join(dir, 'damaged');
    cpSync(join(safe, 's0'), damaged, { recursive: true });
    const fps = readdirSync(damaged).find((f) => f.endsWith('.fps')) ?? '';
    const whole0 = readFileSync(join(damaged, fps));
    writeFileSync(join(damaged, fps), whole0.subarray(0, whole0.byteLength - 8));
    const short = await cli(['explore', '--merge', damaged, ...[1, 2, 3].map((k) => join(safe, `s${k}`))]);
    expect(short.code).toBe(2);
    expect(short.err).toMatch(/\.fps: holds \d+ fingerprints, but .* says its shard saw \d+ states \(a damaged or swapped file\)\n$/);
    const swapped = Buffer.from(whole0);
    swapped[0] = (swapped[0] as number) ^ 1;
    writeFileSync(join(damaged, fps), swapped);
    const changed = await cli(['explore', '--merge', damaged, ...[1, 2, 3].map((k) => join(safe, `s${k}`))]);
    expect(changed.code).toBe(2);
    expect(changed.err).toMatch(/\.fps: not the fingerprints .* wrote \(its SHA-256 differs/);
    // A scenario given with --merge is named as what does not apply.
    const withScenario = await cli(['explore', 'race-lam-bind-poc-2022', '--merge', join(safe, 's0')]);
    expect(withScenario.code).toBe(2);
    expect(withScenario.err).toContain('race-lam-bind-poc-2022: a scenario does not apply');
    // Shards of two scenarios: named, not told apart by a hash.
    expect(foreign.err).toMatch(/of "[^"]+" \(bfs\) is not part of the same search/);
    // A shard's --json is no verdict of the whole search: complete only as a part.
    const part = JSON.parse((await cli(['explore', 'race-lam-bind-poc-2022', '--shard', '1/4', '--out', join(dir, 'sj'), '--json'])).out) as { complete: boolean; shard: { k: number; n: number; complete: boolean } };
    expect(part).toMatchObject({ complete: false, shard: { k: 1, n: 4, complete: true } });
  });

  it('what a first user hit: a bad --out is refused before searching; replay --policy refuses a counterexample; a merge of different searches names what differs; every trace line sits under its own step', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const r = await cli(['explore', 'race-unbind-inflight', '--out', file]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`is not a directory`);
    expect(r.out).toBe('');
    const out = join(dir, 'fix');
    const found = await cli(['explore', 'race-unbind-inflight', '--out', out]);
    // Each record is printed under its own step's header: the schedule goes back and forth between steps.
    const lines = found.out.split('\n');
    let current = -1;
    for (const line of lines) {
      const h = /^step (\d+): /.exec(line);
      if (h) current = Number(h[1]);
    }
    expect(found.out).toContain('(continued)');
    expect(current).toBeGreaterThanOrEqual(0);
    const log = join(out, 'race-unbind-inflight.fault.dmar.jsonl');
    const w = await cli(['replay', log, '--policy', 'pasid=merged']);
    expect(w.code).toBe(2);
    expect(w.err).toContain("an exploration's counterexample");
    const race = JSON.parse(readFileSync(builtinPath('race-unbind-inflight') ?? '', 'utf8')) as { steps: { op: string; count?: number }[] };
    const edited = join(dir, 'race-edited.json');
    race.steps.push({ op: 'complete', device: 'dsa0' } as { op: string });
    writeFileSync(edited, JSON.stringify(race));
    const sh = join(dir, 'mixed');
    await cli(['explore', 'race-unbind-inflight', '--shard', '0/2', '--out', sh, '--quiet', '--continue']);
    await cli(['explore', edited, '--shard', '1/2', '--out', join(sh, 'b'), '--quiet', '--continue']);
    const m = await cli(['explore', '--merge', sh, join(sh, 'b')]);
    expect(m.code).toBe(2);
    expect(m.err).toContain('differs in its contents');
    expect((await cli(['explore', '--merge', sh, '--strategy', 'pct'])).err).toContain('--strategy does not apply');
  });

  it.each([
    [['explore', 'race-unbind-inflight', '--strategy', 'dfs'], '--strategy expects bfs, random, pct, got "dfs"'],
    [['explore', 'race-unbind-inflight', '--max-states', '0'], '--max-states expects an integer of at least 1, got "0"'],
    [['explore', 'race-unbind-inflight', '--seed', '3'], '--seed applies to --strategy random or pct'],
    [['explore', 'race-unbind-inflight', '--strategy', 'random', '--shard', '4/4'], '--shard expects K/N with 0 <= K < N'],
    [['explore', 'race-unbind-inflight', '--time', 'soon'], '--time expects a positive number of seconds, got "soon"'],
    [['explore', 'race-unbind-inflight', '--workers', '0'], '--workers expects an integer from 1 to 64, got "0"'],
    [['explore', 'race-unbind-inflight', '--workers', '2', '--shard', '0/2'], '--workers and --shard exclude each other'],
    [['explore', 'race-unbind-inflight', '--final'], '--final: the scenario race-unbind-inflight has no "final" to check'],
    [['explore', 'race-unbind-inflight', '--max-memory', '0'], '--max-memory expects an integer of at least 1, got "0"'],
    [['explore', 'race-unbind-inflight', '--max-memory', 'abc'], '--max-memory expects an integer of at least 1, got "abc"'],
    [['explore', 'no-such-scenario'], 'no-such-scenario'],
  ])('bad input %j: one line, exit 2', async (argv, words) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(words);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.out).toBe('');
  });
});
