/**
 * 64-bit hashes of model data for exploration's state fingerprints: two independent 32-bit lanes
 * (a MurmurHash3-style lane and a multiply-xorshift lane) over a canonical walk of the value — object
 * keys in sorted order, `undefined` fields skipped (as JSON drops them), numbers by value. Objects are
 * immutable in the model (actor contexts, messages), so each object's hash is computed once and cached
 * by identity: hashing a new actor state costs only its new parts.
 */

/** A 64-bit hash as two 32-bit halves. */
export interface Hash64 {
  readonly a: number;
  readonly b: number;
}

const objectHashes = new WeakMap<object, Hash64>();
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

// The lanes' running values; `word` feeds one 32-bit word to both.
let A = 0;
let B = 0;

function word(k: number): void {
  let x = Math.imul(k, 0xcc9e2d51);
  x = (x << 15) | (x >>> 17);
  x = Math.imul(x, 0x1b873593);
  A ^= x;
  A = (A << 13) | (A >>> 19);
  A = (Math.imul(A, 5) + 0xe6546b64) | 0;
  B = Math.imul(B ^ k, 0x5bd1e995);
  B ^= B >>> 15;
  B = (B + 0x7f4a7c15) | 0;
}

/** MurmurHash3's finalizer: every input bit reaches every output bit. */
export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const T_UNDEF = 0x9e3779b1;
const T_NULL = 0x85ebca77;
const T_TRUE = 0xc2b2ae3d;
const T_FALSE = 0x27d4eb2f;
const T_INT = 0x165667b1;
const T_NUM = 0xd3a2646c;
const T_STR = 0xfd7046c5;
const T_ARR = 0xb55a4f09;
const T_OBJ = 0x2545f491;

function feedString(s: string): void {
  word(T_STR ^ s.length);
  const n = s.length;
  let i = 0;
  for (; i + 1 < n; i += 2) word(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
  if (i < n) word(s.charCodeAt(i));
}

function feed(v: unknown): void {
  switch (typeof v) {
    case 'string':
      feedString(v);
      return;
    case 'number':
      if ((v | 0) === v && !Object.is(v, -0)) {
        word(T_INT);
        word(v);
      } else {
        f64[0] = v;
        word(T_NUM);
        word(u32[0] as number);
        word(u32[1] as number);
      }
      return;
    case 'boolean':
      word(v ? T_TRUE : T_FALSE);
      return;
    case 'undefined':
      word(T_UNDEF);
      return;
    case 'object': {
      if (v === null) {
        word(T_NULL);
        return;
      }
      const h = hashObject(v);
      word(h.a);
      word(h.b);
      return;
    }
    default:
      throw new TypeError(`cannot fingerprint a ${typeof v}: model state must be JSON data`);
  }
}

/** The hash of an object or array (cached by identity: model objects are never mutated). */
export function hashObject(o: object): Hash64 {
  const known = objectHashes.get(o);
  if (known !== undefined) return known;
  // Hash the parts first (each may recurse and use the lanes), then this object from their hashes.
  let h: Hash64;
  if (Array.isArray(o)) {
    const parts: number[] = [];
    for (const x of o) {
      const sa = A;
      const sb = B;
      A = 0x3c6ef372;
      B = 0x1f83d9ab;
      feed(x);
      parts.push(A, B);
      A = sa;
      B = sb;
    }
    const sa = A;
    const sb = B;
    A = T_ARR;
    B = T_ARR ^ o.length;
    word(o.length);
    for (const p of parts) word(p);
    h = { a: fmix(A), b: fmix(B ^ 0x6a09e667) };
    A = sa;
    B = sb;
  } else {
    const rec = o as Record<string, unknown>;
    const keys = Object.keys(rec).sort();
    const parts: number[] = [];
    for (const k of keys) {
      const x = rec[k];
      if (x === undefined) continue;
      const sa = A;
      const sb = B;
      A = 0x3c6ef372;
      B = 0x1f83d9ab;
      feedString(k);
      feed(x);
      parts.push(A, B);
      A = sa;
      B = sb;
    }
    const sa = A;
    const sb = B;
    A = T_OBJ;
    B = T_OBJ ^ parts.length;
    for (const p of parts) word(p);
    h = { a: fmix(A), b: fmix(B ^ 0xbb67ae85) };
    A = sa;
    B = sb;
  }
  objectHashes.set(o, h);
  return h;
}

/** The hash of any JSON value. */
export function hashValue(v: unknown): Hash64 {
  if (typeof v === 'object' && v !== null) return hashObject(v);
  const sa = A;
  const sb = B;
  A = 0x510e527f;
  B = 0x9b05688c;
  feed(v);
  const h = { a: fmix(A), b: fmix(B) };
  A = sa;
  B = sb;
  return h;
}

const stringHashes = new Map<string, Hash64>();

/** The hash of a string (addresses, channel names: cached, there are few of them). */
export function hashString(s: string): Hash64 {
  let h = stringHashes.get(s);
  if (h === undefined) {
    h = hashValue(s);
    if (stringHashes.size < 100_000) stringHashes.set(s, h);
  }
  return h;
}

/** Mix two 32-bit words into one (for combining hashes of parts). */
export function mix2(x: number, y: number): number {
  return fmix((Math.imul(x ^ 0x9e3779b9, 0x85ebca6b) + y) | 0);
}
