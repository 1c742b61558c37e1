/** Where a chart wider than its box scrolls to show the followed state: whole, and cutting as few labels as it can. */
import { describe, expect, it } from 'vitest';
import { leastCutScroll } from '../../src/inspect/page/statecharts.ts';

const cuts = (spans: [number, number][], x: number, view: number): number =>
  spans.filter(([a, b]) => (a < x && x < b) || (a < x + view && x + view < b)).length;

describe('leastCutScroll', () => {
  it('keeps the state whole (the result lies in lo..hi) and cuts no label when some position allows it', () => {
    // A 300 px view; the state needs a scroll in 100..200; centred would be 150, which cuts "b" (140..160).
    const spans: [number, number][] = [
      [90, 130],
      [140, 160],
      [420, 470],
    ];
    const x = leastCutScroll(spans, 300, 100, 200, 150);
    expect(x).toBeGreaterThanOrEqual(100);
    expect(x).toBeLessThanOrEqual(200);
    expect(cuts(spans, x, 300)).toBe(0);
    expect(cuts(spans, 150, 300)).toBeGreaterThan(0);
  });

  it('cuts as few as it must, nearest to centred among equals; a far label (weight 0.01) only breaks ties', () => {
    const spans: [number, number, number][] = [
      [50, 250, 1],
      [330, 360, 0.01],
    ];
    // Every position in 100..200 cuts the wide span; 130..160 also cuts the far one at the right edge.
    const x = leastCutScroll(spans, 200, 100, 200, 145);
    expect(x < 130 || x > 160).toBe(true);
    expect(Math.abs(x - 145)).toBeLessThanOrEqual(20);
  });

  it('no room for the state and its margins (lo > hi): centred', () => {
    expect(leastCutScroll([[0, 10]], 100, 50, 40, 45)).toBe(45);
  });
});
