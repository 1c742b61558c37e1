/**
 * Mermaid exports (src/inspect/mermaid.ts): machine diagrams read from the definitions, and sequence
 * diagrams of log records.
 */
import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { fileMachine } from '../../machines/file.ts';
import { mmMachine } from '../../machines/mm.ts';
import { threadMachine } from '../../machines/thread.ts';
import { machineDiagram, sequenceDiagram } from '../../src/inspect/mermaid.ts';
import type { Delivered } from '../../src/runtime/system.ts';

describe('machineDiagram', () => {
  it('draws the thread machine: initial state, state-changing transitions, in-place handlers', () => {
    const d = machineDiagram(threadMachine);
    expect(d.startsWith('stateDiagram-v2\n')).toBe(true);
    expect(d).toContain('[*] --> thread_running');
    expect(d).toContain('thread_running --> thread_trapping: insn.enqcmd [guard]');
    expect(d).toContain('thread_trapping --> thread_enqueuing: gp.fixup');
    expect(d).toContain('thread_enqueuing --> thread_running: wq.accept, wq.retry, signal.sigsegv');
    expect(d).toContain('thread_trapping : msr.write');
  });

  it('nests compound states of the mm machine', () => {
    const d = machineDiagram(mmMachine);
    expect(d).toContain('state "alive" as mm_alive {');
    expect(d).toContain('    [*] --> mm_alive_idle');
    expect(d).toContain('mm_alive_idle --> mm_alive_binding: mm.open, mm.bind');
    expect(d).toContain('mm_alive_idle --> mm_exiting: mm.thread_exit [guard]');
    expect(d).toContain('mm_exiting_dropping --> mm_dead: pasid.free, always [guard]');
    // Every opened block is closed.
    expect(d.split('{').length).toBe(d.split('}').length);
  });

  it('draws the file machine: the release inside its compound state', () => {
    const d = machineDiagram(fileMachine);
    expect(d).toContain('[*] --> file_open');
    expect(d).toContain('file_open --> file_releasing: file.put [guard]');
    expect(d).toContain('state "releasing" as file_releasing {');
    expect(d).toContain('file_releasing_draining --> file_releasing_unbinding: wq.drained [guard]');
    expect(d.split('{').length).toBe(d.split('}').length);
  });

  it('marks final states', () => {
    const m = createMachine({ id: 'job', initial: 'work', states: { work: { initial: 'a', states: { a: { on: { go: 'b' } }, b: { type: 'final' } } } } });
    expect(machineDiagram(m)).toContain('job_work_b --> [*]');
  });
});

describe('sequenceDiagram', () => {
  const rec = (seq: number, from: string, to: string, msg: object, cause?: number): Delivered =>
    ({ seq, from, to, cause, step: 0, msg }) as unknown as Delivered;
  const records = [
    rec(1, 'user', 'thread:A1', { type: 'insn.enqcmd', thread: 'A1', device: 'dsa0' }),
    rec(2, 'thread:A1', 'mm:1', { type: 'trap.gp', thread: 'A1', activated: false, to: 'mm:1' }, 1),
    rec(3, 'iommu', 'wq:dsa0', { type: 'fault.dmar', device: 'dsa0', pasid: 1, reason: 0x59, thread: 'A1', to: 'wq:dsa0' }, 2),
  ];

  it('one lane per actor in order of appearance; faults and traps drawn as lost messages', () => {
    const d = sequenceDiagram(records);
    expect(d.split('\n').filter((l) => l.includes('participant'))).toStrictEqual([
      '  participant user as user',
      '  participant thread_A1 as thread:A1',
      '  participant mm_1 as mm:1',
      '  participant iommu as iommu',
      '  participant wq_dsa0 as wq:dsa0',
    ]);
    expect(d).toContain('user->>thread_A1: [1] insn.enqcmd thread=A1 device=dsa0');
    expect(d).toContain('thread_A1-xmm_1: [2] trap.gp thread=A1 activated=false');
    expect(d).toContain('iommu-xwq_dsa0: [3] fault.dmar device=dsa0 pasid=1 reason=0x59 thread=A1');
  });

  it('--from/--to select a seq range', () => {
    const d = sequenceDiagram(records, 2, 2);
    expect(d).toContain('[2] trap.gp');
    expect(d).not.toContain('[1]');
    expect(d).not.toContain('[3]');
  });
});
