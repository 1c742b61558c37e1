/** The library's entry points, from the sources: what they export and `loadScenario`'s two kinds of argument. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as svasim from '../../src/index.ts';
import * as machines from '../../src/machines.ts';
import * as protocol from '../../src/protocol.ts';
import { builtinPath } from '../../src/scenarios/index.ts';

describe('svasim (the main entry point)', () => {
  it('exports the runner, the loader, replay, the system, the schedulers and the log reader and writer', () => {
    for (const name of ['runScenario', 'loadScenario', 'replay', 'replayFile', 'System', 'FifoScheduler', 'ChoiceScheduler', 'ListScheduler', 'readLog', 'streamLog', 'LogWriter', 'SeekableLog', 'ScenarioError', 'LogError', 'explore', 'minimize', 'writeCounterexample']) {
      expect(svasim, name).toHaveProperty(name);
    }
  });

  it('explore, from the entry point, finds the DMAR race and ends with its summary', async () => {
    const events = await new Promise<svasim.ExploreEvent[]>((resolve, reject) => {
      const got: svasim.ExploreEvent[] = [];
      svasim.explore(svasim.loadScenario('race-unbind-inflight')).subscribe({ next: (e) => got.push(e), error: reject, complete: () => resolve(got) });
    });
    expect(events.filter((e) => e.type === 'finding').map((e) => (e.type === 'finding' ? e.finding.what : ''))).toEqual(['fault.dmar']);
    const done = events.at(-1);
    expect(done?.type === 'done' && done.summary.boundedBy).toEqual(['first-finding']);
  });

  it('loadScenario takes a built-in name', () => {
    const s = svasim.loadScenario('seed-a-unbind-dmar');
    expect(s.name).toMatch(/seed case \(a\)/);
    expect(svasim.runScenario(s).ok).toBe(true);
  });

  it('loadScenario takes a file path, and applies a policy override', () => {
    const dir = mkdtempSync(join(tmpdir(), 'svasim-entry-'));
    const file = join(dir, 'mine.json');
    writeFileSync(file, readFileSync(builtinPath('merged-b') ?? '', 'utf8'));
    try {
      expect(svasim.loadScenario(file).policy.pasid).toBe('merged');
      expect(svasim.loadScenario(file, { lam: 'v6.4' }).policy).toStrictEqual({ pasid: 'merged', lam: 'v6.4' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loadScenario refuses a name that is neither a built-in nor a file, in one line naming the built-ins', () => {
    expect(() => svasim.loadScenario('seed-a-unbind-dmarr')).toThrow(svasim.ScenarioError);
    expect(() => svasim.loadScenario('seed-a-unbind-dmarr')).toThrow(/^"seed-a-unbind-dmarr" is neither a scenario file nor a built-in scenario \(built-ins: .*seed-a-unbind-dmar,/);
    expect(() => svasim.loadScenario('./nothing-here.json')).toThrow(/nothing-here\.json: cannot read file: no such file or directory/);
  });
});

describe('svasim/machines and svasim/protocol', () => {
  it('export every statechart, and the message vocabulary with its address helpers', () => {
    for (const m of [machines.threadMachine, machines.mmMachine, machines.iommuMachine, machines.wqMachine, machines.kernelMachine, machines.fileMachine]) expect(typeof m.transition).toBe('function');
    expect(Object.values(machines.MACHINES)).toHaveLength(6);
    expect(machines.MACHINES.file).toBe(machines.fileMachine);
    expect(protocol.threadAddr('A1')).toBe('thread:A1');
    expect(protocol.mmAddr(3)).toBe('mm:3');
    expect(protocol.fileAddr('1.1')).toBe('file:1.1');
    expect(protocol.MESSAGE_TYPES).toContain('fault.dmar');
  });
});
