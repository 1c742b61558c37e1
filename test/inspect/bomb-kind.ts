/**
 * A registered kind that fails (test fixture for the inspector): its `decide` throws when it hears the
 * PASID-table entry set, which in seed case (a) is step 1, the bind. A live session of that scenario
 * with this kind stops at step 1.
 */
import { readFileSync } from 'node:fs';
import { LiveSession } from '../../src/inspect/session.ts';
import { fromDecider, type Sent } from '../../src/runtime/actor.ts';
import { Kinds, type KindDefinition } from '../../src/runtime/kinds.ts';
import { scenarioFromValue } from '../../src/scenario/load.ts';
import { builtinPath } from '../../src/scenarios/index.ts';

/** A kind whose `decide` throws when it hears the PASID-table entry set (seed-a's step 1, the bind). */
const bomb: KindDefinition<{ heard: number }> = {
  name: 'bomb',
  prefix: 'bomb',
  observes: ['pasidtable.set'],
  behavior: fromDecider<{ heard: number }, { type: string }, Sent>({
    initialState: () => ({ heard: 0 }),
    decide: (m) => {
      if (m.type === 'pasidtable.set') throw new Error('decide exploded');
      return [];
    },
    evolve: (s) => ({ heard: s.heard + 1 }),
  }),
};

/** Seed case (a) with a `bomb` actor, as a live session. */
export function bombScenario(): LiveSession {
  const path = builtinPath('seed-a-unbind-dmar');
  if (!path) throw new Error('no built-in seed-a-unbind-dmar');
  const kinds = new Kinds([bomb]);
  const value = { ...(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>), actors: [{ name: 'b', kind: 'bomb' }] };
  return new LiveSession(scenarioFromValue(value, 'bomb.json', undefined, { kinds }), undefined, kinds);
}

/** What the session says once step 1 has failed. */
export const STOPPED = 'the run stopped at step 1: kind "bomb" at bomb:b threw on pasidtable.set from iommu: decide exploded';
