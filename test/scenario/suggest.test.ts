/**
 * "Did you mean" suggestions (src/scenario/suggest.ts): typos find their name, unrelated words none.
 */
import { describe, expect, it } from 'vitest';
import { MESSAGE_TYPES } from '../../machines/protocol.ts';
import { didYouMean, editDistance, messageTypeIssue, nearestNames } from '../../src/scenario/suggest.ts';

describe('suggestions', () => {
  it('edit distance counts substitutions, insertions, deletions and adjacent swaps as one edit each', () => {
    expect(editDistance('msr.wrote', 'msr.write')).toBe(1);
    expect(editDistance('pasid.gte', 'pasid.get')).toBe(1);
    expect(editDistance('trap.g', 'trap.gp')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('typos of message types find the type; an unrelated word finds nothing', () => {
    expect(nearestNames('msr.wrote', MESSAGE_TYPES)).toStrictEqual(['msr.write']);
    expect(nearestNames('FAULT.DMAR', MESSAGE_TYPES)).toStrictEqual(['fault.dmar']);
    expect(nearestNames('bogus.type', MESSAGE_TYPES)).toStrictEqual([]);
    expect(didYouMean('bogus.type', MESSAGE_TYPES)).toBe('');
    expect(didYouMean('pasid.gut', MESSAGE_TYPES)).toBe(' (did you mean "pasid.get" or "pasid.put"?)');
  });

  it('messageTypeIssue: null for a known type, one phrase otherwise', () => {
    expect(messageTypeIssue('msr.write')).toBeNull();
    expect(messageTypeIssue('msr.wrote')).toBe('unknown message type "msr.wrote" (did you mean "msr.write"?)');
    expect(messageTypeIssue(undefined)).toBe('missing required field "type"');
    expect(messageTypeIssue(null)).toBe('type: expected a message type (a string), got null');
  });
});
