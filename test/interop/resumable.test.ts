/**
 * The resumable run behind the svasim actor (src/interop/resumable.ts): the same result as `runScenario`
 * on every built-in scenario whether it goes step by step or one delivery at a time, and persisted at
 * any delivery (as JSON), restored and continued, the same deliveries and result as without the stop.
 */
import { describe, expect, it } from 'vitest';
import { ResumableRun, type ResumableState } from '../../src/interop/resumable.ts';
import { recordLine } from '../../src/log/format.ts';
import { Kinds, type KindDefinition } from '../../src/runtime/kinds.ts';
import { ChoiceScheduler, type Envelope } from '../../src/runtime/scheduler.ts';
import type { Delivered } from '../../src/runtime/system.ts';
import { runScenario, type RunResult } from '../../src/runner/run.ts';
import { scenarioFromValue } from '../../src/scenario/load.ts';
import type { Scenario } from '../../src/scenario/types.ts';
import { builtinNames } from '../../src/scenarios/index.ts';
import { loadScenario } from '../../src/index.ts';
import { genKind, iaxKind, KINDS_SCENARIO } from '../fixtures/kinds.ts';

/**
 * A kind whose monitors report every accepted ENQCMD and, at each step's end, the actors the step
 * changed: violations to deliver within steps, failures, and a report that needs the changed set.
 */
const reporting: KindDefinition = genKind({
  monitors: [
    { invariant: 'ACC1', check: (view) => view.messages.filter((d) => d.msg.type === 'wq.accept').map((d) => `accepted at seq ${d.seq}`) },
    { invariant: 'CHG1', check: (view) => (view.changed.size > 0 ? [`changed ${[...view.changed].sort().join(' ')}`] : []) },
  ],
});
const kinds = new Kinds([iaxKind, reporting]);
const kindsScenario = (): Scenario => scenarioFromValue(KINDS_SCENARIO, 'kinds.json', undefined, { kinds });

/** Every delivery of a run driven by `drive`, and its result. */
function drive(run: ResumableRun, go: (r: ResumableRun) => void): { lines: string[]; result: RunResult } {
  const lines: string[] = [];
  run.onDelivered = (d: Delivered) => lines.push(recordLine(d));
  while (!run.allStepsRun) go(run);
  return { lines, result: run.finish() };
}

function reference(s: Scenario, k?: Kinds): { lines: string[]; result: RunResult } {
  const lines: string[] = [];
  const result = runScenario(s, { kinds: k, onRecord: (d) => lines.push(recordLine(d)) });
  return { lines, result };
}

describe('a resumable run', () => {
  it.each(builtinNames())('%s: the same records and result as runScenario, by steps and by deliveries', (name) => {
    const s = loadScenario(name);
    const want = reference(s);
    expect(drive(ResumableRun.start(s), (r) => r.step())).toStrictEqual(want);
    expect(drive(ResumableRun.start(s), (r) => r.deliver())).toStrictEqual(want);
  });

  it('registered kinds, an observer and a monitor that reports: the same records, violations and failures', () => {
    const want = reference(kindsScenario(), kinds);
    expect(want.result.violations.length).toBeGreaterThan(0);
    expect(want.result.failures.some((f) => f.what === 'invariant ACC1')).toBe(true);
    expect(drive(ResumableRun.start(kindsScenario(), { kinds }), (r) => r.step())).toStrictEqual(want);
    expect(drive(ResumableRun.start(kindsScenario(), { kinds }), (r) => r.deliver())).toStrictEqual(want);
  });

  /** Persist after every `k`-th delivery (through JSON), restore, and go on: identical to the reference. */
  const viaJson = (state: ResumableState): ResumableState => JSON.parse(JSON.stringify(state)) as ResumableState;
  function resumedEverywhere(s: Scenario, k: Kinds | undefined): { lines: string[]; result: RunResult } {
    let run = ResumableRun.start(s, { kinds: k });
    const lines: string[] = [];
    let restores = 0;
    for (;;) {
      run.onDelivered = (d) => lines.push(recordLine(d));
      if (run.allStepsRun) break;
      run.deliver();
      const state = viaJson(run.persist());
      run.sys.stop();
      run = ResumableRun.restore(state, { kinds: k });
      restores++;
    }
    expect(restores).toBeGreaterThan(s.steps.length);
    return { lines, result: run.finish() };
  }

  it.each(['seed-a-unbind-dmar', 'fork-exec-clone', 'exit-teardown-silent', 'lam-v6.4'])(
    '%s: persisted after every delivery and restored, the same records and result',
    (name) => {
      const s = loadScenario(name);
      expect(resumedEverywhere(s, undefined)).toStrictEqual(reference(s));
    },
  );

  it('under xstate\'s own interpreter (engine xstate): restored after every delivery, the same as the compiled run', () => {
    const s = loadScenario('seed-b-fixup-then-dmar');
    let run = ResumableRun.start(s, { engine: 'xstate' });
    const lines: string[] = [];
    for (;;) {
      run.onDelivered = (d) => lines.push(recordLine(d));
      if (run.allStepsRun) break;
      run.deliver();
      run = ResumableRun.restore(viaJson(run.persist()), { engine: 'xstate' });
    }
    expect({ lines, result: run.finish() }).toStrictEqual(reference(s));
  });

  it('with kinds and a reporting monitor: restored between the monitors\' report and its delivery, the same', () => {
    expect(resumedEverywhere(kindsScenario(), kinds)).toStrictEqual(reference(kindsScenario(), kinds));
  });

  it('a step in progress restored: the actors it changed are still checked by the monitors at its end', () => {
    // Persist in the middle of the step whose wq.accept the monitor reports: the report needs the
    // actors changed before the stop (kept in the persisted run).
    const s = kindsScenario();
    const want = reference(s, kinds).result.violations.map((d) => recordLine(d));
    let run = ResumableRun.start(s, { kinds });
    while (!run.allStepsRun) {
      run.deliver();
      if (run.inStep) run = ResumableRun.restore(viaJson(run.persist()), { kinds });
    }
    expect(run.finish().violations.map((d) => recordLine(d))).toStrictEqual(want);
  });

  it('a custom scheduler is rebuilt for the restored run: the same interleaving as without the stop', () => {
    const picker = (): ((eligible: readonly Envelope[]) => number) => (eligible) => eligible.length - 1;
    const s = loadScenario('fork-exec-clone');
    const want = drive(ResumableRun.start(s, { scheduler: () => new ChoiceScheduler(picker()) }), (r) => r.step());
    let run = ResumableRun.start(s, { scheduler: () => new ChoiceScheduler(picker()) });
    const lines: string[] = [];
    for (;;) {
      run.onDelivered = (d) => lines.push(recordLine(d));
      if (run.allStepsRun) break;
      run.deliver();
      run = ResumableRun.restore(viaJson(run.persist()), { scheduler: () => new ChoiceScheduler(picker()) });
    }
    expect({ lines, result: run.finish() }).toStrictEqual(want);
  });

  it('an injected input runs to quiescence between steps; within a step it joins it', () => {
    const s = loadScenario('seed-a-unbind-dmar');
    const run = ResumableRun.start(s);
    for (let i = 0; i < 4; i++) run.step();
    const extra = run.input({ type: 'insn.enqcmd', thread: 'A1', device: 'dsa0' }, 'thread:A1');
    expect(extra.map((d) => d.msg.type)).toStrictEqual(['insn.enqcmd', 'portal.store', 'file.store', 'wq.submit', 'wq.accept', 'iommu.translate', 'iommu.translated', 'wq.complete']);
    expect(extra.map((d) => d.step)).toStrictEqual(extra.map(() => 3));
    expect(extra[0]?.cause).toBeUndefined();
    expect(run.nextStep).toBe(4);
    // Within a step: the input is pending with that step's messages, delivered as the step goes on.
    expect(run.deliver()?.msg.type).toBe('sys.unbind');
    expect(run.input({ type: 'insn.enqcmd', thread: 'A1', device: 'dsa0' }, 'thread:A1')).toStrictEqual([]);
    const rest = run.step();
    expect(rest.filter((d) => d.msg.type === 'insn.enqcmd')).toHaveLength(1);
    expect(rest.every((d) => d.step === 4)).toBe(true);
  });

  it('an input its schema refuses is a programming error naming it', () => {
    const run = ResumableRun.start(loadScenario('seed-a-unbind-dmar'));
    expect(() => run.input({ type: 'insn.enqcmd', thread: 7 }, 'thread:A')).toThrow('svasim input insn.enqcmd to thread:A: thread: ');
    expect(() => run.input({ type: 'no.such' }, 'thread:A')).toThrow('unknown message type "no.such"');
  });

  it('refuses a persisted run of another format', () => {
    const state = { ...ResumableRun.start(loadScenario('lam-off')).persist(), format: 2 } as unknown as ResumableState;
    expect(() => ResumableRun.restore(state)).toThrow('a persisted svasim run of format 2: this version reads format 1');
  });
});
