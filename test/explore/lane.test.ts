/**
 * The lanes' end of search (src/explore/lane.ts): "nothing left" must hold at one instant — no lane busy
 * and no handed-over part on its way — or a part taken between two looks is lost with the search
 * reported complete (found by a review: idle and in-flight were two counts read one after the other).
 * The searches here are stand-ins that only say how much frontier they have.
 */
import { describe, expect, it } from 'vitest';
import { Lane, type LaneMessage } from '../../src/explore/lane.ts';
import type { Search, WorkPart } from '../../src/explore/search.ts';
import { Control, controlBuffer } from '../../src/explore/shared.ts';

/** A search that is out of work (`out`) or has `frontier` nodes to hand over. */
function standIn() {
  const s = {
    frontier: 0,
    out: false,
    advance: () => s.out,
    findings: () => [],
    stop: () => undefined,
    stopped: false,
    sharing: true,
    get frontierSize() {
      return s.frontier;
    },
    giveAway: (): WorkPart => {
      s.frontier = Math.floor(s.frontier / 2);
      return { names: [], parent: new Int32Array(0), via: new Int32Array(0), nodes: new Int32Array(6) };
    },
    receive: () => {
      s.frontier = 200;
      s.out = false;
    },
    stats: () => ({ transitions: 0, distinct: 0, slept: 0, depth: 0, frontier: 0, finals: 0, schedules: 0, tableBytes: 0, shed: 0 }),
    outOfMemory: () => false,
    boundedBy: () => [],
  };
  return s;
}

describe('lanes end the search only when no lane is busy and no part is on its way', () => {
  it('a part handed to an idle lane keeps the search alive until that lane runs dry too; no part goes to a lane that ended', () => {
    const n = 2;
    const control = controlBuffer(n);
    const ctl = new Int32Array(control);
    const parts: { to: number; part: WorkPart | null }[] = [];
    const ended: number[] = [];
    const post = (k: number) => (m: LaneMessage) => {
      if (m.type === 'work') parts.push({ to: m.to, part: m.part });
      if (m.type === 'done') ended.push(k);
    };
    const s0 = standIn();
    const s1 = standIn();
    const lane0 = new Lane(s0 as unknown as Search, control, undefined, 0, n, 1e9, undefined, post(0));
    const lane1 = new Lane(s1 as unknown as Search, control, undefined, 1, n, 1e9, undefined, post(1));
    // Both lanes count as busy until they first go idle.
    expect(ctl[Control.active]).toBe(2);
    // Lane 0 runs dry and says so.
    s0.out = true;
    expect(lane0.slice(10)).toBe('idle');
    lane0.goIdle();
    expect(lane0.over()).toBe(false);
    // Lane 1, busy, sees it and hands half of its frontier over.
    s1.frontier = 200;
    expect(lane1.slice(10)).toBe('more');
    expect(parts.map((p) => p.to)).toEqual([0]);
    // Lane 1 runs dry before lane 0 takes the part: the part on its way keeps the search alive.
    s1.out = true;
    expect(lane1.slice(10)).toBe('idle');
    lane1.goIdle();
    expect(lane1.over()).toBe(false);
    expect(lane0.over()).toBe(false);
    // Lane 0 takes it and searches; still not over, for either.
    expect(lane0.take((parts.shift() as { part: WorkPart | null }).part)).toBe(true);
    expect(lane1.over()).toBe(false);
    // Lane 0 hands half back to lane 1, which still wants work (it has not ended).
    s0.frontier = 200;
    s0.out = false;
    expect(lane0.slice(10)).toBe('more');
    expect(parts.map((p) => p.to)).toEqual([1]);
    expect(lane1.take((parts.shift() as { part: WorkPart | null }).part)).toBe(true);
    // Both run dry: the last to go idle ends the search.
    s0.out = true;
    s1.out = true;
    expect(lane0.slice(10)).toBe('idle');
    lane0.goIdle();
    expect(lane0.over()).toBe(false);
    expect(lane1.slice(10)).toBe('idle');
    lane1.goIdle();
    expect(lane0.over()).toBe(true);
    expect(lane1.over()).toBe(true);
    expect(ctl[Control.active]).toBe(0);
    lane0.finish();
    lane1.finish();
    expect(ended).toEqual([0, 1]);
    // A lane that ended wants nothing.
    expect(ctl[Control.want + 0]).toBe(0);
    expect(ctl[Control.want + 1]).toBe(0);
  });

  it('a lane taking a part at any moment while another looks whether the search is over: it is not over', () => {
    // The look is a few loads of shared words; the take is run after each one in turn (another thread could).
    for (let at = 0; at < 4; at++) {
      const control = controlBuffer(2);
      const parts: (WorkPart | null)[] = [];
      const s0 = standIn();
      const s1 = standIn();
      const lane0 = new Lane(s0 as unknown as Search, control, undefined, 0, 2, 1e9, undefined, (m) => {
        if (m.type === 'work') parts.push(m.part);
      });
      const lane1 = new Lane(s1 as unknown as Search, control, undefined, 1, 2, 1e9, undefined, (m) => {
        if (m.type === 'work') parts.push(m.part);
      });
      s0.out = true;
      lane0.slice(10);
      lane0.goIdle();
      s1.frontier = 200;
      lane1.slice(10);
      s1.out = true;
      lane1.slice(10);
      lane1.goIdle();
      const load = Atomics.load;
      let loads = 0;
      let took = false;
      const patched = (a: Int32Array, i: number): number => {
        const v = load(a, i);
        if (a.buffer === control && loads++ === at && !took) took = lane0.take(parts.shift() ?? null);
        return v;
      };
      (Atomics as { load: unknown }).load = patched;
      let over: boolean;
      try {
        over = lane1.over();
      } finally {
        (Atomics as { load: unknown }).load = load;
      }
      if (took) expect(over).toBe(false);
      expect(lane0.over()).toBe(false);
    }
  });

  it('a part given back empty (too little to share) returns its count: the search can still end', () => {
    const control = controlBuffer(2);
    const s0 = standIn();
    const s1 = standIn();
    const lane0 = new Lane(s0 as unknown as Search, control, undefined, 0, 2, 1e9, undefined, () => undefined);
    const lane1 = new Lane(s1 as unknown as Search, control, undefined, 1, 2, 1e9, undefined, () => undefined);
    s0.out = true;
    lane0.slice(10);
    lane0.goIdle();
    // What a sender does for a part (it counts before it posts), and the empty part taken.
    Atomics.add(new Int32Array(control), Control.active, 1);
    expect(lane0.take(null)).toBe(false);
    expect(lane0.over()).toBe(false);
    s1.out = true;
    lane1.slice(10);
    lane1.goIdle();
    expect(lane0.over()).toBe(true);
  });
});
