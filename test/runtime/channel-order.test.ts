/**
 * The scheduler contract (src/runtime/scheduler.ts): messages between the same two actors are delivered
 * in the order they became pending. A custom scheduler that breaks it is refused at the delivery that
 * breaks it, with an error naming the two actors; one that keeps it is never refused, deferral,
 * re-pending and snapshot restores included; the built-in schedulers are trusted.
 */
import { describe, expect, it } from 'vitest';
import { ChoiceScheduler, FifoScheduler, type Envelope, type Scheduler } from '../../src/runtime/scheduler.ts';
import { System } from '../../src/runtime/system.ts';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { runScenario, stepInput, systemConfig } from '../../src/runner/run.ts';
import { builtinNames, builtinPath } from '../../src/scenarios/index.ts';

/** A list scheduler of the user's own, picking with `pick` among everything pending (no channel rule). */
class Custom implements Scheduler {
  private items: Envelope[] = [];
  constructor(private readonly pick: (items: readonly Envelope[]) => number) {}
  enqueue(env: Envelope): void {
    this.items.push(env);
  }
  next(): Envelope | undefined {
    if (this.items.length === 0) return undefined;
    const [env] = this.items.splice(this.pick(this.items), 1);
    return env;
  }
  get size(): number {
    return this.items.length;
  }
  pending(): readonly Envelope[] {
    return [...this.items];
  }
  reset(pending: readonly Envelope[]): void {
    this.items = [...pending];
  }
}

/** Seeded choice among the oldest pending message of each channel: any interleaving the contract allows. */
function channelHeads(seed: number): (items: readonly Envelope[]) => number {
  let x = seed >>> 0 || 1;
  return (items) => {
    const heads: number[] = [];
    const seen = new Set<string>();
    items.forEach((e, i) => {
      const key = `${e.from}\u0000${e.to}`;
      if (!seen.has(key)) heads.push(i);
      seen.add(key);
    });
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return heads[x % heads.length] ?? 0;
  };
}

const builtin = (name: string) => {
  const path = builtinPath(name);
  if (path === undefined) throw new Error(`no built-in ${name}`);
  return loadScenarioFile(path);
};
const seedA = () => builtin('seed-a-unbind-dmar');

describe('per-channel FIFO, checked for schedulers svasim does not know', () => {
  it('a scheduler that delivers newest first is refused at the first overtaking, naming the two actors', () => {
    expect(() => runScenario(seedA(), { scheduler: new Custom((items) => items.length - 1) })).toThrow(
      /^the scheduler broke per-channel FIFO: it picked (\S+) from (\S+) to (\S+) while an older message on that channel, (\S+), was still pending/,
    );
  });

  it('one that keeps channel order is never refused (every built-in, several interleavings each; deferral re-pends messages)', () => {
    for (const name of builtinNames()) {
      for (const seed of [1, 2, 3]) {
        expect(() => runScenario(builtin(name), { scheduler: new Custom(channelHeads(seed)) }), `${name} seed ${seed}`).not.toThrow();
      }
    }
  });

  it('the check follows a snapshot restored mid-step, pending messages included', () => {
    const scenario = seedA();
    const sys = new System(systemConfig(scenario), new Custom(channelHeads(7)));
    let restored: System | null = null;
    for (const [i, step] of scenario.steps.entries()) {
      const target = restored ?? sys;
      const { msg, to } = stepInput(step);
      target.input(msg, to, i);
      // Two deliveries in, with messages still pending: continue from a snapshot under a new scheduler.
      target.step();
      target.step();
      if (restored === null && target.scheduler.size > 1) restored = new System(systemConfig(scenario), new Custom(channelHeads(8)), sys.snapshot());
      expect(() => (restored ?? sys).runToQuiescence()).not.toThrow();
    }
    expect(restored).not.toBeNull();
  });

  it('the built-in schedulers keep channel order by construction and are not checked', () => {
    expect(new FifoScheduler().keepsChannelOrder).toBe(true);
    expect(new ChoiceScheduler(() => 0).keepsChannelOrder).toBe(true);
    const custom: Scheduler = new Custom(() => 0);
    expect(custom.keepsChannelOrder).toBeUndefined();
  });
});
