/**
 * The library's observation and injection surface: typed stream operators, subscriber errors that fail
 * the delivery that caused them, messages injected with a cause (and replayed), the seeded random
 * scheduler (its seed in the log header, its logs replayable).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { closingLine, headerLine } from '../../src/log/format.ts';
import { parseLog, readLog } from '../../src/log/reader.ts';
import { replay, replayFile } from '../../src/replay/replay.ts';
import { RandomScheduler } from '../../src/runtime/scheduler.ts';
import { fromAddress, ofType, toAddress } from '../../src/runtime/streams.ts';
import { SubscriberError, System, type Delivered } from '../../src/runtime/system.ts';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { runScenario, ScenarioRun, systemConfig } from '../../src/runner/run.ts';
import { builtinPath } from '../../src/scenarios/index.ts';
import { recordLine } from '../../src/log/format.ts';
import { cli } from '../setup/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'svasim-streams-'));
const scenario = (name: string) => loadScenarioFile(builtinPath(name) ?? name);

describe('typed streams', () => {
  it('ofType narrows to the message type; toAddress / fromAddress take an address or a prefix', () => {
    const run = new ScenarioRun(scenario('seed-a-unbind-dmar'));
    const faults: number[] = [];
    const toThreads: string[] = [];
    const fromWq: string[] = [];
    const all: Delivered[] = [];
    run.sys.delivered$.subscribe((d) => all.push(d));
    run.sys.delivered$.pipe(ofType('fault.dmar')).subscribe((d) => faults.push(d.msg.reason));
    run.sys.delivered$.pipe(toAddress('thread:')).subscribe((d) => toThreads.push(d.to));
    run.sys.delivered$.pipe(fromAddress('wq:dsa0')).subscribe((d) => fromWq.push(d.msg.type));
    while (run.nextStep < run.scenario.steps.length) run.step();
    expect(faults.length).toBe(all.filter((d) => d.msg.type === 'fault.dmar').length);
    expect(faults.length).toBeGreaterThan(0);
    expect(faults.every((r) => r === 0x59)).toBe(true);
    expect(toThreads.length).toBe(all.filter((d) => d.to.startsWith('thread:')).length);
    expect(toThreads.length).toBeGreaterThan(0);
    expect(fromWq).toEqual(all.filter((d) => d.from === 'wq:dsa0').map((d) => d.msg.type));
  });
});

describe('subscriber errors', () => {
  it('a subscriber that throws fails the delivery that reached it, synchronously, after every subscriber had it', () => {
    const s = scenario('seed-a-unbind-dmar');
    const sys = new System(systemConfig(s));
    const seen: number[] = [];
    sys.delivered$.pipe(ofType('sys.spawn')).subscribe(() => {
      throw new Error('my observer is broken');
    });
    sys.delivered$.subscribe((d) => seen.push(d.seq));
    sys.input({ type: 'sys.spawn', process: 'A' }, 'kernel', 0);
    let caught: unknown;
    try {
      sys.step();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SubscriberError);
    expect((caught as Error).message).toBe('a subscriber to delivered$ threw on seq 1 (sys.spawn user -> kernel): my observer is broken');
    expect(((caught as Error).cause as Error).message).toBe('my observer is broken');
    expect(seen).toEqual([1]);
  });

  it('in a run with a log, the run stops at that step and the log is a valid prefix', async () => {
    const log = join(tmp, 'sub.jsonl');
    const run = new ScenarioRun(scenario('seed-a-unbind-dmar'), { log });
    run.sys.delivered$.pipe(ofType('fault.dmar')).subscribe(() => {
      throw new Error('boom');
    });
    expect(() => {
      while (run.nextStep < run.scenario.steps.length) run.step();
    }).toThrow(SubscriberError);
    const r = await cli(['replay', log, '--allow-truncated']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/incomplete/);
    // No uncaught exception later: give timers a turn (rxjs would have thrown from one).
    await new Promise((resolve) => setTimeout(resolve, 20));
  });
});

describe('inject', () => {
  it('a message injected with a cause is logged from user with that cause, and replay feeds it back', () => {
    const s = scenario('idxd-clean-lifecycle');
    const lines: string[] = [];
    const run = new ScenarioRun(s, { onRecord: (d) => lines.push(recordLine(d)) });
    // Answer the first accepted submission with one more ENQCMD from the same thread.
    let injected = false;
    run.sys.delivered$.pipe(ofType('wq.accept')).subscribe((d) => {
      if (injected) return;
      injected = true;
      run.sys.inject({ type: 'insn.enqcmd', thread: d.msg.thread, device: 'dsa0' }, `thread:${d.msg.thread}`, d.seq);
    });
    while (run.nextStep < run.scenario.steps.length) run.step();
    const rec = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r['from'] === 'user' && r['cause'] !== undefined);
    expect(rec).toMatchObject({ type: 'insn.enqcmd', from: 'user', device: 'dsa0' });
    const text = [headerLine(s, s.policy), ...lines, closingLine(lines.length, s.steps.length)].join('\n') + '\n';
    expect(replay(parseLog(text, 'inject.jsonl')).identical).toBe(true);
    // Without the injected record the log is not what the model does (it is not an actor's message).
    const without = lines.filter((l) => l !== JSON.stringify(rec) && !(l.includes('"from":"user"') && l.includes('"cause"')));
    expect(without.length).toBe(lines.length - 1);
  });

  it('refuses a cause that was not delivered and a message its schema refuses', () => {
    const sys = new System(systemConfig(scenario('seed-a-unbind-dmar')));
    expect(() => sys.inject({ type: 'sys.spawn', process: 'A' }, 'kernel', 1)).toThrow(/cause 1 is not a delivered seq \(1\.\.0\)/);
    sys.input({ type: 'sys.spawn', process: 'A' }, 'kernel', 0);
    sys.runToQuiescence();
    expect(() => sys.inject({ type: 'insn.enqcmd', thread: 'A' } as never, 'thread:A', 1)).toThrow(/inject insn\.enqcmd to thread:A: device: /);
  });
});

describe('seeded random scheduler', () => {
  it('same seed, same log; another seed, another order; the seed is in the header and the log replays', () => {
    const s = scenario('seed-a-unbind-dmar');
    const lines = (seed: number): string[] => {
      const out: string[] = [];
      runScenario(s, { scheduler: new RandomScheduler(seed), onRecord: (d) => out.push(recordLine(d)) });
      return out;
    };
    expect(lines(7)).toEqual(lines(7));
    const seeds = [1, 2, 3, 4, 5, 6].map(lines);
    expect(new Set(seeds.map((l) => l.join('\n'))).size).toBeGreaterThan(1);
    const log = join(tmp, 'random.jsonl');
    runScenario(s, { scheduler: new RandomScheduler(42), log });
    const header = JSON.parse(readFileSync(log, 'utf8').split('\n')[0] ?? '') as { scheduler?: unknown };
    expect(header.scheduler).toEqual({ name: 'random', seed: 42 });
    expect(replayFile(log).identical).toBe(true);
    expect(readLog(log).header.scheduler).toEqual({ name: 'random', seed: 42 });
  });

  it('svasim run --scheduler random --seed N writes the seed; bad values are one line, exit 2', async () => {
    const log = join(tmp, 'cli-random.jsonl');
    const r = await cli(['run', 'seed-a-unbind-dmar', '--scheduler', 'random', '--seed', '9', '--log', log, '--quiet']);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(log, 'utf8').split('\n')[0] ?? '').scheduler).toEqual({ name: 'random', seed: 9 });
    expect((await cli(['replay', log])).code).toBe(0);
    for (const [args, msg] of [
      [['--scheduler', 'lifo'], 'svasim run: --scheduler expects fifo or random, got "lifo"\n'],
      [['--scheduler', 'random', '--seed', '-1'], 'svasim run: --seed expects an integer from 0 to 4294967295, got "-1"\n'],
      [['--scheduler', 'random', '--seed', '4294967296'], 'svasim run: --seed expects an integer from 0 to 4294967295, got "4294967296"\n'],
      [['--seed', '3'], 'svasim run: --seed applies to --scheduler random\n'],
    ] as const) {
      const bad = await cli(['run', 'seed-a-unbind-dmar', '--no-log', ...args]);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.err).toBe(msg);
    }
  });
});
