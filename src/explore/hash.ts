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
  return h | 0;
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

/** An object's hash and the parts it is made of (so a changed copy is hashed from it). */
interface ObjectHash extends Hash64 {
  /** The sums of its fields' hashes and how many fields (objects; arrays: -1). */
  readonly sa: number;
  readonly sb: number;
  readonly n: number;
}

// One field's hash (`fieldHash` sets them).
let FA = 0;
let FB = 0;

function fieldHash(k: string, x: unknown): void {
  const sa = A;
  const sb = B;
  const kh = hashString(k);
  A = kh.a;
  B = kh.b;
  feed(x);
  FA = fmix(A);
  FB = fmix(B ^ 0x9e3779b9);
  A = sa;
  B = sb;
}

function objectResult(sumA: number, sumB: number, n: number): ObjectHash {
  return { a: fmix(mix2(T_OBJ ^ n, sumA)), b: fmix(mix2(T_OBJ + n, sumB) ^ 0xbb67ae85), sa: sumA, sb: sumB, n };
}

/**
 * The hash of an object or array (cached by identity: model objects are never mutated). An array's
 * elements are hashed in order; an object's fields as an unordered set (the sum of each field's hash),
 * so two objects with the same fields in another key order hash alike, without sorting — and a copy
 * with a few fields changed is hashed from the original's sums ({@link hashObjectFrom}).
 */
export function hashObject(o: object): Hash64 {
  const known = objectHashes.get(o);
  if (known !== undefined) return known;
  const sa = A;
  const sb = B;
  let h: ObjectHash;
  if (Array.isArray(o)) {
    let ea = T_ARR;
    let eb = T_ARR ^ o.length;
    for (let i = 0; i < o.length; i++) {
      A = 0x3c6ef372;
      B = 0x1f83d9ab;
      feed(o[i]);
      ea = mix2(ea, A);
      eb = mix2(eb ^ 0x6a09e667, B);
    }
    h = { a: fmix(ea ^ o.length), b: fmix(eb + 0x6a09e667), sa: 0, sb: 0, n: -1 };
  } else {
    let sumA = 0;
    let sumB = 0;
    let n = 0;
    for (const k in o) {
      const x = (o as Record<string, unknown>)[k];
      if (x === undefined) continue;
      n++;
      fieldHash(k, x);
      sumA = (sumA + FA) | 0;
      sumB = (sumB + FB) | 0;
    }
    h = objectResult(sumA, sumB, n);
  }
  A = sa;
  B = sb;
  objectHashes.set(o, h);
  return h;
}

/**
 * The hash of `o`, an object made from `prev` by changing some fields (an actor's next context): only
 * the fields that differ from `prev`'s are hashed. The same hash as {@link hashObject} gives.
 */
export function hashObjectFrom(o: object, prev: object): Hash64 {
  const known = objectHashes.get(o);
  if (known !== undefined) return known;
  if (Array.isArray(o) || Array.isArray(prev)) return hashObject(o);
  const base = hashObject(prev) as ObjectHash;
  const rec = o as Record<string, unknown>;
  const old = prev as Record<string, unknown>;
  let sumA = base.sa;
  let sumB = base.sb;
  let n = base.n;
  for (const k in rec) {
    const x = rec[k];
    const y = old[k];
    if (x === y) continue;
    if (y !== undefined) {
      fieldHash(k, y);
      sumA = (sumA - FA) | 0;
      sumB = (sumB - FB) | 0;
      n--;
    }
    if (x !== undefined) {
      fieldHash(k, x);
      sumA = (sumA + FA) | 0;
      sumB = (sumB + FB) | 0;
      n++;
    }
  }
  // Fields `prev` has and `o` has not.
  for (const k in old) {
    if (k in rec) continue;
    const y = old[k];
    if (y === undefined) continue;
    fieldHash(k, y);
    sumA = (sumA - FA) | 0;
    sumB = (sumB - FB) | 0;
    n--;
  }
  const h = objectResult(sumA, sumB, n);
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
