/**
 * The bfs frontier's parallel arrays (src/explore/frontier.ts): the paths kept as a tree of trace
 * entries, and a level's nodes as words beside their states. Every word must come back as it went in,
 * through growth, the index of waiting states, and the cuts and joins of handing work over.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Level, SHED_STATE, SPENT_STATE, Trace } from '../../src/explore/frontier.ts';
import type { ModelState, TransitionRef } from '../../src/explore/model.ts';

const state = (a: number, b: number): ModelState => ({ ...SPENT_STATE, a, b });
const step = (program: number): TransitionRef => ({ kind: 'step', program });

describe('Trace', () => {
  it('gives back every path from the initial state, in order, through growth (a random tree)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.nat({ max: 5 })), { minLength: 1, maxLength: 6000 }), (shape) => {
        const trace = new Trace();
        const refs = Array.from({ length: 6 }, (_, p) => step(p));
        const paths: TransitionRef[][] = [];
        for (const [pick, r] of shape) {
          // Each new entry hangs under an earlier one (or the initial state).
          const up = paths.length === 0 ? -1 : (pick % (paths.length + 1)) - 1;
          const ref = refs[r] as TransitionRef;
          const e = trace.add(up, ref);
          expect(e).toBe(paths.length);
          paths.push([...(up < 0 ? [] : (paths[up] as TransitionRef[])), ref]);
        }
        paths.forEach((p, e) => {
          expect(trace.path(e)).toEqual(p);
          // Same objects: a path names the model's transitions, not copies.
          expect(trace.path(e).at(-1)).toBe(p.at(-1));
        });
        expect(trace.path(-1)).toEqual([]);
        expect(trace.path(-1, step(9))).toEqual([step(9)]);
        expect(trace.path(0, step(9))).toEqual([...(paths[0] as TransitionRef[]), step(9)]);
      }),
      { numRuns: 30 },
    );
  });
});

describe('Level', () => {
  it('keeps each node\'s words through growth; take marks a node expanded', () => {
    const level = new Level(false);
    for (let i = 0; i < 3000; i++) expect(level.push(state(i, -i), i - 1, i % 97, i % 3 === 0 ? -1 : i, i * 7)).toBe(i);
    expect(level.length).toBe(3000);
    for (let i = 0; i < 3000; i++) {
      expect(level.trace(i)).toBe(i - 1);
      expect(level.depth(i)).toBe(i % 97);
      expect(level.only(i)).toBe(i % 3 === 0 ? -1 : i);
      expect(level.sleep(i)).toBe(i * 7);
    }
    expect(level.take()).toBe(0);
    expect(level.only(0)).toBe(-2);
    expect(level.left).toBe(2999);
  });

  it('finds a waiting state by its fingerprint (first words that collide included), not once it is expanded or revisited-only', () => {
    const level = new Level(true);
    level.push(state(5, 1), -1, 1, -1, 0b111);
    level.push(state(5, 2), -1, 1, -1, 0b111);
    level.push(state(6, 1), -1, 1, 0b10, 0b111);
    level.push(state(5, 3), -1, 1, -1, 0b111);
    expect(level.waiting(5, 1)).toBe(0);
    expect(level.waiting(5, 2)).toBe(1);
    expect(level.waiting(5, 3)).toBe(3);
    // A revisit node (only a few transitions) is not a waiting state.
    expect(level.waiting(6, 1)).toBe(-1);
    expect(level.waiting(7, 1)).toBe(-1);
    level.narrowSleep(1, 0b101);
    level.narrowSleep(1, 0b110);
    expect(level.sleep(1)).toBe(0b100);
    expect(level.sleep(0)).toBe(0b111);
    level.take();
    expect(level.waiting(5, 1)).toBe(-1);
    expect(level.waiting(5, 2)).toBe(1);
    level.clear();
    expect(level.waiting(5, 2)).toBe(-1);
    expect(level.length).toBe(0);
  });

  it('cut, then and filter hand nodes over with their words; an indexed level is never cut', () => {
    const level = new Level(false);
    for (let i = 0; i < 10; i++) level.push(state(i, i), 100 + i, 3, -1, i);
    level.take();
    level.take();
    const tail = level.cut(6);
    expect(level.length).toBe(6);
    expect(level.states.length).toBe(6);
    expect(level.left).toBe(4);
    expect([...Array(tail.length).keys()].map((i) => [tail.states[i]?.a, tail.trace(i), tail.sleep(i)])).toEqual([6, 7, 8, 9].map((i) => [i, 100 + i, i]));
    const joined = level.then(tail);
    expect([...Array(joined.length).keys()].map((i) => joined.states[i]?.a)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    const even = joined.filter((a) => a % 2 === 0);
    expect([...Array(even.length).keys()].map((i) => [even.states[i]?.a, even.trace(i)])).toEqual([2, 4, 6, 8].map((i) => [i, 100 + i]));
    expect(() => new Level(true).cut(0)).toThrow(/indexed level/);
  });

  it('shed lets go of waiting states from a place on, keeping every word (the fingerprint too) and the index', () => {
    const level = new Level(true);
    for (let i = 0; i < 8; i++) level.push(state(10 + i, 20 + i), i, 4, -1, i);
    level.take();
    expect(level.shed(5)).toBe(3);
    expect(level.shed(5)).toBe(0);
    // Not the expanded node, nor twice.
    expect(level.shed(0)).toBe(4);
    expect(level.states.slice(1).every((s) => s === SHED_STATE)).toBe(true);
    for (let i = 0; i < 8; i++) expect([level.a(i), level.b(i), level.trace(i), level.sleep(i)]).toEqual([10 + i, 20 + i, i, i]);
    // A let-go state is still found waiting by its fingerprint.
    expect(level.waiting(16, 26)).toBe(6);
    expect(level.waiting(10, 20)).toBe(-1);
  });
});
