/**
 * The system state as `replay --until`, reports and the inspector show it: each process's fd table and
 * portal mappings (on its mm), the device files with their references, and which process a file is
 * shown with (its opener's).
 */
import { describe, expect, it } from 'vitest';
import { ScenarioRun } from '../../src/runner/run.ts';
import { actorStates, formatState, systemState, type SystemState } from '../../src/runtime/state.ts';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { builtinPath } from '../../src/scenarios/index.ts';

/** The state after each step of a built-in scenario (index = step), and the run. */
function statesOf(name: string): { states: SystemState[]; run: ScenarioRun } {
  const path = builtinPath(name);
  if (path === undefined) throw new Error(`no built-in ${name}`);
  const run = new ScenarioRun(loadScenarioFile(path));
  const states: SystemState[] = [];
  while (!run.done) {
    run.step();
    states.push(systemState(run.sys));
  }
  return { states, run };
}

describe('systemState and formatState: fd tables, mappings and files', () => {
  // fork-keeps-file: 1 bind A, 2 fork A -> C, 4 exit A, 6 bind B, 7 close C fd dsa0.
  const { states, run } = statesOf('fork-keeps-file');
  const at = (i: number): SystemState => {
    const s = states[i];
    if (s === undefined) throw new Error(`no state after step ${i}`);
    return s;
  };

  it('after bind, the mm holds the descriptor and the mapping, the file both references and the bond', () => {
    const s = at(1);
    expect(s.mms.find((m) => m.id === 1)).toMatchObject({
      fds: { dsa0: { file: 'file:1.1', device: 'dsa0', cloexec: false } },
      maps: [{ device: 'dsa0', file: 'file:1.1' }],
      grabs: 1,
      caps: [],
    });
    expect(s.files).toStrictEqual([{ address: 'file:1.1', device: 'dsa0', state: 'open', mm: 1, pasid: 1, sva: true, holders: ['fd:A/dsa0', 'map:mm:1'] }]);
  });

  it('after fork, the child shares the file through its own descriptor, without a mapping', () => {
    const s = at(2);
    expect(s.mms.find((m) => m.id === 2)).toMatchObject({ process: 'C', fds: { dsa0: { file: 'file:1.1' } }, maps: [], grabs: 0 });
    expect(s.files[0]?.holders).toStrictEqual(['fd:A/dsa0', 'map:mm:1', 'fd:C/dsa0']);
  });

  it('after the parent exits, its mm is held by the bond (PASID 1 kept) and the child is the file\'s only holder', () => {
    const s = at(4);
    const a = s.mms.find((m) => m.id === 1);
    expect(a).toMatchObject({ pasid: 1, users: [], fds: {}, maps: [], grabs: 1 });
    expect(a?.state).not.toBe('dead');
    expect(s.files[0]).toMatchObject({ state: 'open', sva: true, holders: ['fd:C/dsa0'] });
    const text = formatState(s).join('\n');
    expect(text).toContain('\n  mm:1 (A) exiting.dropped: PASID 1;');
    expect(text).toContain('\n    fds none; mappings none; held by 1 SVA bond (mm_count)\n');
    expect(text).toContain('\n    fds dsa0→file:1.1 (dsa0); mappings none\n');
    expect(text).toContain('\nfiles:\n  file:1.1 (dsa0) open: ctx->mm mm:1, PASID 1, SVA bound; holders fd:C/dsa0\n');
  });

  it('after the child closes the last reference, the file is released and unbound, and the held mm is gone', () => {
    const s = at(7);
    expect(s.files[0]).toMatchObject({ state: 'released', sva: false, holders: [] });
    expect(s.mms.find((m) => m.id === 1)).toMatchObject({ state: 'dead', pasid: null, grabs: 0 });
    expect(formatState(s).join('\n')).toContain('  file:1.1 (dsa0) released: ctx->mm mm:1, PASID 1, SVA unbound; holders none');
  });

  it('a state with no file says so, and an O_CLOEXEC descriptor is marked', () => {
    expect(formatState(at(0)).join('\n')).toContain('\nfiles:\n  none opened\n');
    const { states: ec } = statesOf('exec-cloexec');
    expect(formatState(ec[1] as SystemState).join('\n')).toContain('    fds wq→file:1.1 (dsa0, O_CLOEXEC); mappings none');
    expect(formatState(ec[2] as SystemState).join('\n')).toContain('    fds wq→file:1.1 (dsa0, O_CLOEXEC); mappings dsa0 (file:1.1)');
  });

  it('actorStates shows a file with the process that opened it, also after that process exited', () => {
    const file = actorStates(run.sys).find((a) => a.address === 'file:1.1');
    expect(file).toMatchObject({ kind: 'file', process: 'A', device: null });
  });
});
