/**
 * `--plugin FILE` (src/cli/plugins.ts): a scenario naming a plugin's device model and actor kind runs,
 * its log names the plugin, replay/report with the plugin reproduce it, and without it (or with a bad
 * plugin) the command says so in one line, exit 2.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KINDS_SCENARIO } from '../fixtures/kinds.ts';
import { cli } from '../setup/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'svasim-plugin-'));
const plugin = (name: string): string => join(import.meta.dirname, '../fixtures/plugins', name);
const scenarioFile = join(dir, 'kinds.json');
writeFileSync(scenarioFile, `${JSON.stringify(KINDS_SCENARIO, null, 2)}\n`);

/** The whole stderr is one line. */
const oneLine = (err: string): string => {
  expect(err.endsWith('\n')).toBe(true);
  expect(err.trimEnd().split('\n')).toHaveLength(1);
  return err.trimEnd();
};

describe('svasim --plugin', () => {
  it('run with the plugin passes and names it in the log; replay and report with it reproduce the run', async () => {
    const log = join(dir, 'run.jsonl');
    const r = await cli(['run', scenarioFile, '--plugin', plugin('iax.mjs'), '--log', log]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/gen:g/);
    expect(r.out).toMatch(/PASS: every expectation holds/);
    const header = JSON.parse(readFileSync(log, 'utf8').split('\n')[0] ?? '') as { plugins?: unknown };
    expect(header.plugins).toEqual([{ name: 'iax-model', version: '1.0.0', kinds: ['iax', 'workload'] }]);

    const rep = await cli(['replay', log, '--plugin', plugin('iax.mjs')]);
    expect(rep.err).toBe('');
    expect(rep.code).toBe(0);
    const until = await cli(['replay', log, '--plugin', plugin('iax.mjs'), '--until', '30', '--json']);
    expect(until.code).toBe(0);
    expect(until.out).toMatch(/"threads"/);
    const what = await cli(['replay', log, '--plugin', plugin('iax.mjs'), '--policy', 'pasid=seed-2021']);
    expect(what.code).toBe(0);
    const report = await cli(['report', log, '--plugin', plugin('iax.mjs'), '--out', join(dir, 'run.html')]);
    expect(report.err).toBe('');
    expect(report.code).toBe(0);
  });

  it('a log whose plugin is not loaded is refused in one line by replay, report and inspect', async () => {
    const log = join(dir, 'needs.jsonl');
    expect((await cli(['run', scenarioFile, '--plugin', plugin('iax.mjs'), '--log', log, '--quiet'])).code).toBe(0);
    for (const argv of [['replay', log], ['replay', log, '--until', '3'], ['report', log, '--out', join(dir, 'x.html')], ['inspect', log, '--port', '0']]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(oneLine(r.err)).toBe(`${log}:1: the log needs plugin iax-model 1.0.0 (kinds iax, workload), which are not loaded: pass --plugin FILE (or the library's kinds option)`);
    }
  });

  it('a scenario naming a kind without its plugin is refused at the kind, exit 2', async () => {
    const r = await cli(['run', scenarioFile, '--no-log']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/kinds\.json:\d+:\d+: devices\[1\]\.kind: unknown device model "iax" \(none is registered; a plugin registers kinds \(--plugin FILE\)\)/);
    expect(r.err).toMatch(/actors\[0\]\.kind: unknown actor kind "workload"/);
  });

  it('bad plugins are one line naming the plugin, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--plugin', join(dir, 'nope.mjs')], /^--plugin .*nope\.mjs: no such file$/],
      [['--plugin', plugin('throws.mjs')], /^plugin .*throws\.mjs: failed to load: boom while loading$/],
      [['--plugin', plugin('no-export.mjs')], /^plugin .*no-export\.mjs: exports no plugin \(a default export \{ name, version, kinds \}; see definePlugin\)$/],
      [['--plugin', plugin('iax.mjs'), '--plugin', plugin('again.mjs')], /^plugin .*again\.mjs: kind "iax" is already registered \(by plugin iax-model\)$/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(['run', scenarioFile, '--no-log', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneLine(r.err)).toMatch(re);
    }
  });

  it('a plugin actor sending a message its schema refuses stops the run in one line naming the plugin; the log stays a valid prefix', async () => {
    const s = { ...KINDS_SCENARIO, actors: [{ name: 'x', kind: 'liar' }] };
    const file = join(dir, 'liar.json');
    writeFileSync(file, JSON.stringify(s));
    const log = join(dir, 'liar.jsonl');
    const r = await cli(['run', file, '--plugin', plugin('iax.mjs'), '--plugin', plugin('liar.mjs'), '--log', log]);
    expect(r.code).toBe(2);
    expect(oneLine(r.err)).toMatch(/^plugin liar: kind "liar" at liar:x sent liar\.said to user, which its schema refuses: liar\.said\.count: /);
    const rep = await cli(['replay', log, '--plugin', plugin('iax.mjs'), '--plugin', plugin('liar.mjs'), '--allow-truncated']);
    expect(rep.code).toBe(0);
    expect(rep.err).toMatch(/incomplete/);
  });
});
