/**
 * "Did you mean …?" for names a user (or an editor of a log) mistyped: the known names nearest to an
 * unknown one, so an error can name the likely fix instead of listing every name there is.
 */
import { MESSAGE_TYPES } from '../../machines/protocol.ts';

/** Levenshtein distance with adjacent transpositions (optimal string alignment), in UTF-16 units. */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  // Three rows: the one before the previous (for transpositions), the previous and the current.
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  let cur = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a.charCodeAt(i - 1) === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === b.charCodeAt(j - 1)) {
        d = Math.min(d, (prev2[j - 2] ?? 0) + 1);
      }
      cur[j] = d;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[n] ?? 0;
}

/**
 * The known names nearest to `word` (at most `max`, nearest first, ties in the order given): those
 * within a third of the word's length in edits (at least one, at most four), compared case-blind, so
 * a typo is found and an unrelated word gets no suggestion.
 */
export function nearestNames(word: string, known: readonly string[], max = 3): string[] {
  const w = word.toLowerCase();
  const limit = Math.min(4, Math.max(1, Math.floor(w.length / 3)));
  return known
    .map((name, i) => ({ name, i, d: editDistance(w, name.toLowerCase()) }))
    .filter((c) => c.d <= limit)
    .sort((x, y) => x.d - y.d || x.i - y.i)
    .slice(0, max)
    .map((c) => c.name);
}

/** ` (did you mean "a"?)`, ` (did you mean "a" or "b"?)`, or `''` when nothing is near. */
export function didYouMean(word: string, known: readonly string[]): string {
  const near = nearestNames(word, known).map((n) => JSON.stringify(n));
  if (near.length === 0) return '';
  const list = near.length === 1 ? near[0] : `${near.slice(0, -1).join(', ')} or ${near.at(-1) ?? ''}`;
  return ` (did you mean ${list}?)`;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(MESSAGE_TYPES);

/**
 * What is wrong with a log record's `type`, as one short phrase (`unknown message type "msr.wrote"
 * (did you mean "msr.write"?)`), or `null` when it is a known message type.
 */
export function messageTypeIssue(type: unknown): string | null {
  if (typeof type === 'string') return KNOWN_TYPES.has(type) ? null : `unknown message type ${JSON.stringify(type)}${didYouMean(type, MESSAGE_TYPES)}`;
  if (type === undefined) return 'missing required field "type"';
  return `type: expected a message type (a string), got ${type === null ? 'null' : Array.isArray(type) ? 'an array' : typeof type === 'object' ? 'an object' : JSON.stringify(type)}`;
}
