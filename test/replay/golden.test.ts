/**
 * Golden logs (test/fixtures/golden, made by tools/update-golden.ts) replay identically, and today's
 * model still writes them byte for byte: a difference is a model change (regenerate the goldens and
 * bump MODEL_VERSION when it is intended). Also: a log in the older format 0 is upcast and replays.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLog } from '../../src/log/reader.ts';
import { replay } from '../../src/replay/replay.ts';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/scenario/run.ts';
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

  it.each(GOLDEN)('%s is what the model writes today, byte for byte', (name) => {
    const path = builtinPath(name);
    if (!path) throw new Error(`no built-in ${name}`);
    const out = join(dir, `${name}.jsonl`);
    runScenario(loadScenarioFile(path), { log: out });
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(GOLDEN_DIR, `${name}.jsonl`), 'utf8'));
  });
});

describe('older log formats', () => {
  it('a format-0 log (nested messages, no model) is upcast to format 1 and replays identically', () => {
    const log = readLog(join(GOLDEN_DIR, '..', 'format0-seed-b.jsonl'));
    expect(log.upcastFrom).toBe(0);
    expect(log.otherModel).toBe(true);
    expect(log.header.version).toBe(1);
    expect(log.lines[0]).toMatch(/^\{"seq":1,"type":"sys.spawn","from":"user","to":"kernel","step":0,"process":"A"\}$/);
    expect(replay(log)).toStrictEqual({ identical: true, records: log.records.length });
    // Same records as the current-format golden of the same scenario.
    expect(log.lines).toStrictEqual(readLog(join(GOLDEN_DIR, 'seed-b-fixup-then-dmar.jsonl')).lines);
  });
});
