/**
 * Checkpoints and seeking (src/replay/checkpoints.ts): the state restored at any seq equals the live
 * state of the original run there; the sidecar index is reused, and rebuilt when missing or stale.
 */
import fc from 'fast-check';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLog } from '../../src/log/reader.ts';
import { indexPathOf, SeekableLog } from '../../src/replay/checkpoints.ts';
import { systemState, type SystemState } from '../../src/runtime/state.ts';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/runner/run.ts';
import type { Scenario } from '../../src/scenario/types.ts';
import { builtinNames, builtinPath } from '../../src/scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'svasim-seek-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run with a log; return the log path and the live state at every step's quiescence, by seq. */
function runLive(s: Scenario, name: string): { path: string; live: Map<number, SystemState> } {
  const path = join(dir, `${name}.jsonl`);
  const live = new Map<number, SystemState>();
  runScenario(s, { log: path, onSettled: (sys) => live.set(sys.lastSeq, systemState(sys)) });
  return { path, live };
}

const scenarioOf = (name: string): Scenario => {
  const p = builtinPath(name);
  if (!p) throw new Error(name);
  return loadScenarioFile(p);
};

describe('seeking', () => {
  it.each(builtinNames())('%s: the state at every step end, sought from checkpoints, equals the live state', (name) => {
    const { path, live } = runLive(scenarioOf(name), name);
    const seek = SeekableLog.open(path, { every: 10 });
    expect(seek.checkpoints.length).toBeGreaterThan(0);
    for (const [seq, state] of live) expect(seek.stateAt(seq), `seq ${seq}`).toStrictEqual(state);
  });

  it('every checkpoint restores to the live state at its seq', () => {
    const { path, live } = runLive(scenarioOf('fork-exec-clone'), 'cp-live');
    const seek = SeekableLog.open(path, { every: 1 });
    for (const cp of seek.checkpoints) {
      const want = live.get(cp.seq);
      expect(want, `live state at ${cp.seq}`).toBeDefined();
      expect(seek.stateAt(cp.seq)).toStrictEqual(want);
    }
  });

  it('a seq between checkpoints replays from the nearest one', () => {
    const { path } = runLive(scenarioOf('seed-a-unbind-dmar'), 'between');
    const seek = SeekableLog.open(path, { every: 10 });
    const cp = seek.checkpoints[0];
    if (!cp) throw new Error('no checkpoint');
    expect(seek.nearest(cp.seq + 1)).toBe(cp);
    expect(seek.nearest(cp.seq - 1)).not.toBe(cp);
    // Mid-step seqs are states too (after the record at that seq).
    const full = SeekableLog.of(readLog(path), 1_000_000);
    for (let seq = 0; seq <= full.log.records.length; seq += 7) expect(seek.stateAt(seq)).toStrictEqual(full.stateAt(seq));
  });

  it('the sidecar index is written, reused, and rebuilt when the log changes', () => {
    const { path } = runLive(scenarioOf('wq-retry'), 'sidecar');
    const first = SeekableLog.open(path, { every: 10 });
    expect(first.rebuilt).toBe(true);
    expect(existsSync(indexPathOf(path))).toBe(true);
    expect(SeekableLog.open(path, { every: 10 }).rebuilt).toBe(false);
    // Another checkpoint spacing, a changed log, or a damaged index each force a rebuild.
    expect(SeekableLog.open(path, { every: 20 }).rebuilt).toBe(true);
    runLive(scenarioOf('seed-a-unbind-dmar'), 'sidecar');
    const again = SeekableLog.open(path, { every: 20 });
    expect(again.rebuilt).toBe(true);
    expect(again.log.scenario.name).toBe(scenarioOf('seed-a-unbind-dmar').name);
    writeFileSync(indexPathOf(path), '{"index":"svasim-checkpoints"');
    expect(SeekableLog.open(path, { every: 20 }).rebuilt).toBe(true);
    expect(readFileSync(indexPathOf(path), 'utf8').startsWith('{"index":"svasim-checkpoints","version":8')).toBe(true);
  });

  it('a checkpoint edited in the index (same log) is not trusted: the index is rebuilt and seeks stay right', () => {
    const { path } = runLive(scenarioOf('seed-refcount-lazy-free'), 'tampered-index');
    const honest = SeekableLog.open(path, { every: 5 });
    const seq = honest.log.records.length;
    const want = honest.stateAt(seq);
    const text = readFileSync(indexPathOf(path), 'utf8');
    // Change a PASID inside a stored checkpoint, keep the header (log size and SHA-1 still match).
    const tampered = text.replace(/"pasid":1([,}])/, '"pasid":7$1');
    expect(tampered).not.toBe(text);
    writeFileSync(indexPathOf(path), tampered);
    const reopened = SeekableLog.open(path, { every: 5 });
    expect(reopened.rebuilt).toBe(true);
    expect(reopened.stateAt(seq)).toStrictEqual(want);
  });

  it('seekFile reads only the checkpoint and the records after it, and gives the same state as a full open', () => {
    for (const name of ['seed-a-unbind-dmar', 'fork-exec-clone', 'lam-v6.4', 'pasid-exhaustion']) {
      const { path } = runLive(scenarioOf(name), `seekfile-${name}`);
      const full = SeekableLog.open(path, { every: 7 });
      const n = full.log.records.length;
      for (let seq = 0; seq <= n; seq++) {
        const fast = SeekableLog.seekFile(path, seq, systemState);
        expect(fast, `${name} seq ${seq}`).not.toBeNull();
        expect(fast?.value).toStrictEqual(full.stateAt(seq));
      }
      expect(() => SeekableLog.seekFile(path, n + 1, systemState)).toThrow(RangeError);
    }
  });

  it('seekFile declines (null) when the log changed, or a checkpoint line in the index was edited', () => {
    const { path } = runLive(scenarioOf('seed-refcount-lazy-free'), 'seekfile-stale');
    const full = SeekableLog.open(path, { every: 5 });
    const seq = full.log.records.length;
    expect(SeekableLog.seekFile(path, seq, systemState)).not.toBeNull();
    const idx = readFileSync(indexPathOf(path), 'utf8');
    writeFileSync(indexPathOf(path), idx.replace(/"pasid":1([,}])/, '"pasid":7$1'));
    expect(SeekableLog.seekFile(path, seq, systemState)).toBeNull();
    writeFileSync(indexPathOf(path), idx);
    writeFileSync(path, `${readFileSync(path, 'utf8')}\n`);
    expect(SeekableLog.seekFile(path, seq, systemState)).toBeNull();
  });

  it('seq outside the log is a RangeError', () => {
    const { path } = runLive(scenarioOf('seed-a-unbind-dmar'), 'range');
    const seek = SeekableLog.open(path);
    expect(() => seek.stateAt(-1)).toThrow(RangeError);
    expect(() => seek.stateAt(seek.log.records.length + 1)).toThrow(RangeError);
  });

  it('property: for random built-in and policy choices, states at random seqs match a full replay', () => {
    const names = builtinNames();
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.constantFrom('seed-2021' as const, 'merged' as const), fc.integer({ min: 1, max: 15 }), (name, pasid, every) => {
        const s = scenarioOf(name);
        const { path, live } = runLive({ ...s, policy: { ...s.policy, pasid } }, `prop-${name}-${pasid}`);
        const seek = SeekableLog.open(path, { every, writeIndex: false });
        for (const cp of seek.checkpoints) expect(seek.stateAt(cp.seq)).toStrictEqual(live.get(cp.seq));
      }),
      { numRuns: 40 },
    );
  });
});

describe('incremental checkpoints', () => {
  it('key frames hold every actor, deltas only the changed ones, and a composed delta equals a full checkpoint', () => {
    const p = builtinPath('fork-exec-clone');
    if (!p) throw new Error('no built-in');
    const path = join(dir, 'incremental.jsonl');
    runScenario(loadScenarioFile(p), { log: path });
    const seek = SeekableLog.open(path, { every: 1, writeIndex: false });
    const full = seek.checkpoints.filter((c) => c.full);
    const deltas = seek.checkpoints.filter((c) => !c.full);
    expect(full.length).toBeGreaterThan(0);
    expect(deltas.length).toBeGreaterThan(0);
    const sizes = deltas.map((d) => [d.system.actors.length, seek.composed(d.seq)?.system.actors.length ?? 0] as const);
    expect(sizes.every(([delta, whole]) => delta <= whole)).toBe(true);
    expect(sizes.some(([delta, whole]) => delta < whole)).toBe(true);
    for (const d of deltas) {
      const composed = seek.composed(d.seq);
      expect(composed?.full).toBe(true);
      // The same actors as a full snapshot would list at that point: every actor created so far.
      const created = new Set(seek.log.records.filter((r) => r.seq <= d.seq && (r.msg.type === 'mm.create' || r.msg.type === 'thread.start')).map((r) => r.to));
      for (const a of created) expect(composed?.system.actors.some((x) => x.address === a), `${a} at ${d.seq}`).toBe(true);
    }
  });
});
