/**
 * The scenario file's shape (SPEC §6) as zod schemas. Objects are strict, so an unknown field is an error.
 *
 * Leaves are `leaf(check)` schemas so that every message is ours and reads as one line
 * (`unknown op "bnd" (expected one of spawn, clone, ...)`); zod supplies the structure, the paths and
 * the unknown/missing field detection. Cross-references (names, devices) are checked in `load.ts`.
 */
import { z } from 'zod';
import {
  ARCH_CODES, ERRNOS, LAM_POLICIES, MESSAGE_TYPES, PASID_MAX, PASID_POLICIES,
  type ArchCodeName, type MessageType, type SysValue,
} from '../../machines/protocol.ts';
import { didYouMean } from './suggest.ts';
import { NON_ERRNO_RESULTS, OPS, type ExpectedResult, type Step } from './types.ts';

// ---- message helpers ----

/** A value as a message shows it: strings quoted, containers by kind. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

/** `a`, `a or b`, `a, b or c`. */
export function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items.at(-1) ?? ''}`;
}

type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };
const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = <T>(message: string): Checked<T> => ({ ok: false, message });

/** A leaf schema whose validation and message are entirely `check`'s. */
function leaf<T>(check: (input: unknown) => Checked<T>) {
  return z.unknown().transform((input, ctx): T => {
    const r = check(input);
    if (r.ok) return r.value;
    ctx.issues.push({ code: 'custom', message: r.message, input });
    return z.NEVER;
  });
}

const typed = <T>(guard: (v: unknown) => v is T, expected: string) =>
  leaf((v) => (guard(v) ? ok(v) : bad<T>(`expected ${expected}, got ${describe(v)}`)));

/** A string from a fixed list: `unknown <what> "x" (expected <expected>)`. */
function oneOf<const T extends readonly string[]>(values: T, what: string, expected: string) {
  return leaf((v): Checked<T[number]> =>
    typeof v === 'string' && (values as readonly string[]).includes(v)
      ? ok(v as T[number])
      : bad(`unknown ${what} ${describe(v)} (expected ${expected})`));
}

/** Objects: strict, and "expected an object" when the value is something else. */
function object<S extends z.core.$ZodLooseShape>(shape: S) {
  return z.strictObject(shape, { error: (iss) => `expected an object, got ${describe(iss.input)}` });
}
function array<T extends z.ZodType>(item: T) {
  return z.array(item, { error: (iss) => `expected an array, got ${describe(iss.input)}` });
}
function record<T extends z.ZodType>(value: T) {
  return z.record(z.string(), value, { error: (iss) => `expected an object, got ${describe(iss.input)}` });
}

// ---- leaves ----

const isString = (v: unknown): v is string => typeof v === 'string';
const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isPositiveInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isNonNegativeInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isPasidOrNull = (v: unknown): v is number | null => v === null || isNonNegativeInt(v);
const HEX = /^0x[0-9a-f]+$/i;
const DECIMAL = /^-?\d+$/;

/** The integer a syscall value stands for (a number, a decimal or a hex string); `null` for anything else. */
export function sysValueInteger(v: SysValue): bigint | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : null;
  return HEX.test(v) || DECIMAL.test(v) ? BigInt(v.toLowerCase()) : null;
}

/**
 * An expected syscall value and a returned one are the same: equal as integers however written
 * (`6`, `"6"`, `"0x6"`, `"0X06"`), or, for a value that is not an integer, equal as text.
 */
export function sameSysValue(expected: SysValue, got: SysValue | undefined): boolean {
  if (got === undefined) return false;
  const a = sysValueInteger(expected);
  const b = sysValueInteger(got);
  return a !== null && b !== null ? a === b : expected === got;
}

export const text = typed(isString, 'a string');
export const name = typed(isNonEmptyString, 'a non-empty string');
export const bool = typed(isBoolean, 'true or false');
export const positiveInt = typed(isPositiveInt, 'a positive integer');
export const nonNegativeInt = typed(isNonNegativeInt, 'a non-negative integer');
export const pasidOrNull = typed(isPasidOrNull, 'a PASID (non-negative integer) or null');

export const version = leaf((v): Checked<1> =>
  v === 1 ? ok(1) : bad(typeof v === 'number' ? `unsupported scenario version ${v} (expected 1)` : `expected 1, got ${describe(v)}`));

export const pasidPolicy = oneOf(PASID_POLICIES, 'pasid policy', orList(PASID_POLICIES));
export const lamPolicy = oneOf(LAM_POLICIES, 'lam policy', orList(LAM_POLICIES));
/** A message type; a misspelt one names the nearest types rather than listing all of them. */
export const messageType = leaf((v): Checked<MessageType> => {
  if (typeof v === 'string' && (MESSAGE_TYPES as readonly string[]).includes(v)) return ok(v as MessageType);
  const near = typeof v === 'string' ? didYouMean(v, MESSAGE_TYPES) : '';
  return bad(`unknown message type ${describe(v)}${near !== '' ? near : ` (expected one of ${MESSAGE_TYPES.join(', ')})`}`);
});

const RESULTS: readonly ExpectedResult[] = [...NON_ERRNO_RESULTS, ...ERRNOS];
export const expectedResult = oneOf(
  RESULTS, 'result', `${NON_ERRNO_RESULTS.join(', ')} or an errno: ${ERRNOS.join(', ')}`,
);

/** A non-negative integer, or one written as a hex string (`"0x4002"`). */
function unsignedOrHex(v: unknown): number | undefined {
  if (isNonNegativeInt(v)) return v;
  if (typeof v === 'string' && HEX.test(v)) {
    const n = Number.parseInt(v.slice(2), 16);
    if (Number.isSafeInteger(n)) return n;
  }
  return undefined;
}

const ARCH_CODE_NAMES = Object.keys(ARCH_CODES) as ArchCodeName[];
const isArchCodeName = (v: string): v is ArchCodeName => Object.hasOwn(ARCH_CODES, v);

/** arch_prctl option: a name from ARCH_CODES, a number, or a hex string; normalized to a number. */
export const archCode = leaf((v): Checked<number> => {
  if (typeof v === 'string' && isArchCodeName(v)) return ok(ARCH_CODES[v]);
  const n = unsignedOrHex(v);
  if (n !== undefined) return ok(n);
  return bad(`unknown arch_prctl code ${describe(v)} (expected ${ARCH_CODE_NAMES.join(', ')}, a number or a hex string like "0x4002")`);
});

export const archArg = leaf((v): Checked<number> => {
  const n = unsignedOrHex(v);
  return n === undefined ? bad(`expected a non-negative integer or a hex string, got ${describe(v)}`) : ok(n);
});

/**
 * A syscall's value as `expect.value` gives it: an integer, or a string holding one in decimal (`"6"`)
 * or hex (`"0x6"`, lowercased) — all three match the value 6 (see `sameSysValue`). An integer beyond
 * 2^53 cannot be a JSON number here (it would be read rounded): it must be written as a string.
 */
export const sysValue = leaf((v): Checked<SysValue> => {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return ok(v);
    const why = Number.isInteger(v) || !Number.isFinite(v) ? ' (a JSON number beyond 2^53 is read rounded: write it as a string, in decimal or hex)' : '';
    return bad(`expected an integer, or a string holding one ("6" or "0x6"), got ${describe(v)}${why}`);
  }
  if (typeof v === 'string' && sysValueInteger(v) !== null) return ok(HEX.test(v) ? v.toLowerCase() : v);
  return bad(`expected an integer, or a string holding one ("6" or "0x6"), got ${describe(v)}`);
});

/** Inclusive PASID range, 1 <= min <= max <= 0xFFFFF. */
export const pasidRange = leaf((v): Checked<readonly [number, number]> => {
  if (!Array.isArray(v) || v.length !== 2 || !v.every(isNonNegativeInt)) {
    return bad(`expected [min, max], two non-negative integers, got ${Array.isArray(v) ? JSON.stringify(v) : describe(v)}`);
  }
  const [min, max] = v as [number, number];
  if (min < 1) return bad(`min ${min} is below 1 (PASID 0 is reserved)`);
  if (max > PASID_MAX) return bad(`max ${max} is above 0xFFFFF (${PASID_MAX})`);
  if (min > max) return bad(`min ${min} is greater than max ${max}`);
  return ok([min, max] as const);
});

// ---- steps ----

export const expectSchema = object({
  result: expectedResult.optional(),
  value: sysValue.optional(),
  pasid: pasidOrNull.optional(),
  events: array(messageType).optional(),
  noEvents: array(messageType).optional(),
});

const common = { expect: expectSchema.optional(), note: text.optional() };

export const stepSchema = z.discriminatedUnion('op', [
  object({ op: z.literal('spawn'), process: name, ...common }),
  object({ op: z.literal('clone'), thread: name, new: name, ...common }),
  object({ op: z.literal('fork'), thread: name, new: name, ...common }),
  object({ op: z.literal('exec'), thread: name, ...common }),
  object({ op: z.literal('exit'), thread: name, ...common }),
  object({ op: z.literal('bind'), thread: name, device: name, ...common }),
  object({ op: z.literal('unbind'), thread: name, device: name, ...common }),
  object({ op: z.literal('close'), thread: name, device: name, ...common }),
  object({ op: z.literal('enqcmd'), thread: name, device: name, ...common }),
  object({ op: z.literal('arch_prctl'), thread: name, code: archCode, arg: archArg.optional(), ...common }),
  object({ op: z.literal('complete'), device: name, count: positiveInt.optional(), ...common }),
], {
  error: (iss) => {
    const input = iss.input;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return `expected a step object, got ${describe(input)}`;
    }
    const op: unknown = (input as Record<string, unknown>)['op'];
    return `unknown op ${describe(op)} (expected one of ${OPS.join(', ')})`;
  },
});

// ---- the file ----

export const deviceSchema = object({
  name,
  wqSize: positiveInt.optional(),
  threshold: positiveInt.optional(),
  autoComplete: bool.optional(),
});

export const finalSchema = object({
  pasid: record(pasidOrNull).optional(),
  refs: record(nonNegativeInt).optional(),
  msr: record(pasidOrNull).optional(),
});

export const scenarioFileSchema = object({
  /** The JSON Schema an editor validates the file with (SPEC §6); the loader ignores its value. */
  $schema: text.optional(),
  scenario: version,
  name,
  description: text.optional(),
  policy: object({ pasid: pasidPolicy.optional(), lam: lamPolicy.optional() }).optional(),
  cpu: object({ enqcmd: bool.optional(), lam: bool.optional() }).optional(),
  iommu: object({ pasidRange: pasidRange.optional() }).optional(),
  devices: array(deviceSchema).optional(),
  steps: array(stepSchema),
  final: finalSchema.optional(),
  forbid: array(messageType).optional(),
});

/** The validated file, before defaults. */
export type ScenarioFile = z.output<typeof scenarioFileSchema>;

// Compile-time checks: the schema's steps are the normalized Step union, and its ops are OPS.
type SchemaStep = z.output<typeof stepSchema>;
const _stepsMatch: SchemaStep extends Step ? true : never = true;
const _opsMatch: [SchemaStep['op']] extends [Step['op']] ? ([Step['op']] extends [SchemaStep['op']] ? true : never) : never = true;
void _stepsMatch;
void _opsMatch;
