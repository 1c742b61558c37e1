/**
 * `--plugin FILE` (src/cli/plugins.ts): a scenario naming a plugin's device model and actor kind runs,
 * its log names the plugin, replay/report with the plugin reproduce it, and without it (or with a bad
 * plugin) the command says so in one line, exit 2.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KINDS_SCENARIO } from '../fixtures/kinds.ts';
import { loadPlugins, PluginError } from '../../src/cli/plugins.ts';
import { readLog } from '../../src/log/reader.ts';
import { cli } from '../setup/cli.ts';

const ROOT = join(import.meta.dirname, '../..');
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

describe('a log written with another version of its plugin (M7)', () => {
  const log = join(dir, 'versions.jsonl');
  const written = (async () => {
    const r = await cli(['run', scenarioFile, '--plugin', plugin('iax.mjs'), '--log', log, '--quiet']);
    expect(r.code).toBe(0);
  })();

  it('replay, --until, --policy, report and inspect --stately warn in one line, and the replay is still identical', async () => {
    await written;
    const warning = `warning: ${log} was written with plugin iax-model 1.0.0; loaded iax-model 1.1.0: a divergence may be a plugin change`;
    const next = plugin('iax-next.mjs');
    for (const argv of [['replay', log], ['replay', log, '--until', '30'], ['replay', log, '--policy', 'pasid=seed-2021'], ['report', log, '--out', join(dir, 'versions.html')]]) {
      const r = await cli([...argv, '--plugin', next]);
      expect(r.code, argv.join(' ')).toBe(0);
      expect(oneLine(r.err), argv.join(' ')).toBe(warning);
    }
    // The same plugin version: nothing to say.
    expect((await cli(['replay', log, '--plugin', plugin('iax.mjs')])).err).toBe('');
  });

  it('the reader lists the change; kinds loaded from a plugin of another name are one too', async () => {
    await written;
    const kinds = await loadPlugins([plugin('iax-fork.mjs')]);
    expect(readLog(log, { kinds }).pluginChanges).toEqual([{ logged: { name: 'iax-model', version: '1.0.0' }, loaded: [{ name: 'iax-fork', version: '1.0.0' }], kinds: ['iax', 'workload'] }]);
    expect(readLog(log, { kinds: await loadPlugins([plugin('iax.mjs')]) }).pluginChanges).toEqual([]);
    const r = await cli(['replay', log, '--plugin', plugin('iax-fork.mjs')]);
    expect(r.code).toBe(0);
    expect(oneLine(r.err)).toBe(`warning: ${log} was written with plugin iax-model 1.0.0; its kinds iax, workload are loaded from plugin iax-fork 1.0.0: a divergence may be a plugin change`);
  });

  it('a plugin version that behaves differently: the warning, and the divergence names the plugin', async () => {
    await written;
    const r = await cli(['replay', log, '--plugin', plugin('iax-changed.mjs')]);
    expect(r.code).toBe(1);
    expect(oneLine(r.err)).toBe(`warning: ${log} was written with plugin iax-model 1.0.0; loaded iax-model 2.0.0: a divergence may be a plugin change`);
    expect(r.out).toMatch(/^diverged at seq \d+ \(the log is from plugin iax-model 1\.0\.0: this may be a plugin change\)$/m);
  });
});

describe('svasim diagram --plugin (M8)', () => {
  it('draws a log that names a plugin, which without it is refused', async () => {
    const log = join(dir, 'diagram.jsonl');
    expect((await cli(['run', scenarioFile, '--plugin', plugin('iax.mjs'), '--log', log, '--quiet'])).code).toBe(0);
    const without = await cli(['diagram', '--log', log]);
    expect(without.code).toBe(2);
    expect(oneLine(without.err)).toMatch(/the log needs plugin iax-model 1\.0\.0 .*pass --plugin FILE/);
    const r = await cli(['diagram', '--log', log, '--from', '1', '--to', '40', '--plugin', plugin('iax.mjs')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^sequenceDiagram/);
    expect(r.out).toMatch(/gen:g/);
  });

  it("draws a plugin's machine kind by name and with all; a decider kind or an unknown name is one line", async () => {
    const wd = await cli(['diagram', 'watchdog', '--plugin', plugin('watchdog.mjs')]);
    expect(wd.err).toBe('');
    expect(wd.code).toBe(0);
    expect(wd.out).toMatch(/^stateDiagram-v2/);
    expect(wd.out).toMatch(/watchdog_quiet --> watchdog_alarmed: fault\.dmar/);
    const all = await cli(['diagram', 'all', '--plugin', plugin('watchdog.mjs')]);
    expect(all.code).toBe(0);
    expect(all.out).toMatch(/^%% kernel$/m);
    expect(all.out).toMatch(/^%% watchdog$/m);
    expect(all.out).not.toMatch(/^%% workload$/m);
    const decider = await cli(['diagram', 'workload', '--plugin', plugin('watchdog.mjs')]);
    expect(decider.code).toBe(2);
    expect(oneLine(decider.err)).toBe('svasim diagram: kind "workload" is not an xstate machine (a decider): it has no statechart to draw');
    const unknown = await cli(['diagram', 'watchdog']);
    expect(unknown.code).toBe(2);
    expect(oneLine(unknown.err)).toBe('svasim diagram: unknown machine "watchdog" (expected thread, mm, iommu, wq, kernel, file or all; a plugin\'s kind needs --plugin FILE)');
  });
});

describe('plugin mistakes are one line naming the plugin (L2, L6, L7, L8)', () => {
  /** A plugin module in the temp dir (one that needs no import). */
  const temp = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const refused = async (file: string): Promise<string> => {
    const r = await cli(['run', scenarioFile, '--no-log', '--plugin', file]);
    expect(r.code, file).toBe(2);
    return oneLine(r.err);
  };

  it('a name that is not a package name, a version that is not one, a kind name over 64 characters', async () => {
    const nl = temp('name-nl.mjs', `export default { name: 'nice\\nsvasim: everything is fine, exit 0', version: '1.0.0', kinds: [] };\n`);
    expect(await refused(nl)).toBe(`plugin ${nl}: its name "nice\\nsvasim: everything is fine, exit 0" is not a package name (at most 214 of A-Z a-z 0-9 . _ ~ -, optionally @scope/)`);
    const long = temp('name-long.mjs', `export default { name: 'n'.repeat(215), version: '1.0.0', kinds: [] };\n`);
    expect(await refused(long)).toMatch(new RegExp(`^plugin ${long}: its name "n{40}"… \\(215 characters\\) is not a package name`));
    expect(await refused(temp('name-space.mjs', `export default { name: 'my plugin', version: '1.0.0', kinds: [] };\n`))).toMatch(/its name "my plugin" is not a package name/);
    const ver = temp('version-nl.mjs', `export default { name: '@me/ok', version: '1\\n2', kinds: [] };\n`);
    expect(await refused(ver)).toBe(`plugin ${ver} (@me/ok): its version "1\\n2" is not 1 to 64 printable characters without blanks`);
    expect(await refused(temp('version-long.mjs', `export default { name: 'ok', version: '1'.repeat(65), kinds: [] };\n`))).toMatch(/\(ok\): its version "1{40}"… \(65 characters\) is not 1 to 64/);
    const kind = temp('kind-long.mjs', `export default { name: 'ok', version: '1.0.0', kinds: [{ name: 'k'.repeat(100000), prefix: 'k' }] };\n`);
    expect(await refused(kind)).toBe(`plugin ${kind}: kind name "${'k'.repeat(40)}"… (100000 characters) is not [a-z][a-z0-9_-]* of at most 64 characters`);
  });

  it('default and plugin exports that differ are refused; the same object both ways is fine', async () => {
    expect(await refused(plugin('both-exports.mjs'))).toBe(`plugin ${plugin('both-exports.mjs')}: exports both default and plugin: export one`);
    const r = await cli(['run', scenarioFile, '--no-log', '--plugin', plugin('same-exports.mjs')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  it('the same plugin file twice: "loaded twice"', async () => {
    const twice = await cli(['run', scenarioFile, '--no-log', '--plugin', plugin('iax.mjs'), '--plugin', plugin('iax.mjs')]);
    expect(twice.code).toBe(2);
    expect(oneLine(twice.err)).toBe(`plugin ${plugin('iax.mjs')}: loaded twice (named twice)`);
    // Under another name (a relative path), or into a registry that already has it (a program calling twice).
    const rel = join('test/fixtures/plugins', 'iax.mjs');
    await expect(loadPlugins([plugin('iax.mjs'), rel])).rejects.toThrow(new PluginError(`plugin ${rel}: loaded twice (it is ${plugin('iax.mjs')})`));
    const kinds = await loadPlugins([plugin('iax.mjs')]);
    await expect(loadPlugins([plugin('iax.mjs')], kinds)).rejects.toThrow(new PluginError(`plugin ${plugin('iax.mjs')}: loaded twice (plugin iax-model 1.0.0 is already loaded)`));
    // Another file with the same plugin name (a copy, another version of it).
    await expect(loadPlugins([plugin('iax.mjs'), plugin('iax-next.mjs')])).rejects.toThrow(new PluginError(`plugin ${plugin('iax-next.mjs')}: loaded twice (plugin iax-model 1.0.0 is already loaded from ${plugin('iax.mjs')})`));
  });

  it('loadPlugins given one path as a string loads that file (not its characters); other values are a TypeError', async () => {
    const kinds = await loadPlugins(plugin('iax.mjs'));
    expect(kinds.get('iax')?.definition?.origin).toEqual({ name: 'iax-model', version: '1.0.0' });
    await expect(loadPlugins(42 as unknown as string)).rejects.toThrow(new TypeError('loadPlugins: expected a plugin file or an array of them, got 42'));
  });

  it('a syntax error says where: file:line:column (Node loads the plugin: the real svasim process)', () => {
    // In-process, vitest's own module loader would parse the plugin; the command runs on plain Node.
    const refusedByNode = (file: string): string => {
      const p = spawnSync(process.execPath, ['src/cli/svasim.mjs', 'run', scenarioFile, '--no-log', '--plugin', file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      expect(p.error).toBeUndefined();
      expect(p.status, p.stderr).toBe(2);
      return oneLine(p.stderr);
    };
    const syntax = temp('syntax.mjs', `export default {\n  name: 'x',\n  version: 1 2,\n};\n`);
    expect(refusedByNode(syntax)).toBe(`plugin ${syntax}: failed to load: ${syntax}:3:14: Unexpected number`);
    const eof = temp('eof.mjs', `export default {\n  name: 'x',\n`);
    expect(refusedByNode(eof)).toMatch(new RegExp(`^plugin ${eof}: failed to load: ${eof}:\\d+(:\\d+)?: Unexpected end of input$`));
    const missing = temp('missing-import.mjs', `import { nope } from 'node:fs';\nexport default nope;\n`);
    expect(refusedByNode(missing)).toBe(`plugin ${missing}: failed to load: ${missing}:1:10: The requested module 'node:fs' does not provide an export named 'nope'`);
  });
});
