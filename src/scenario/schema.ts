/**
 * The scenario file's shape (SPEC §6) as zod schemas. Objects are strict, so an unknown field is an error.
 *
 * Leaves are `leaf(accepts, check)` schemas so that every message is ours and reads as one line
 * (`unknown op "bnd" (expected one of spawn, clone, ...)`); zod supplies the structure, the paths and
 * the unknown/missing field detection. Cross-references (names, devices) are checked in `load.ts`.
 * Each leaf also states, as JSON Schema, what its check accepts, and the main fields carry
 * descriptions: `json-schema.ts` turns these schemas into the JSON Schema editors use.
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

/**
 * What a leaf's check accepts, as JSON Schema (draft-07). zod sees a leaf as `unknown` piped into a
 * transform, which no JSON Schema can express, so the leaf states it; it becomes the leaf's metadata,
 * which `z.toJSONSchema` emits in its place. Where the check is finer than JSON Schema can say, this
 * accepts more (never less) and its `description` says what the loader adds.
 */
type Accepts = z.core.JSONSchema.BaseSchema;

/** A leaf schema whose validation and message are entirely `check`'s; `accepts` is `check` as JSON Schema. */
function leaf<T>(accepts: Accepts, check: (input: unknown) => Checked<T>) {
  const schema = z.unknown().transform((input, ctx): T => {
    const r = check(input);
    if (r.ok) return r.value;
    ctx.issues.push({ code: 'custom', message: r.message, input });
    return z.NEVER;
  });
  // Registered on the leaf itself: `.meta()` would return a copy, leaving the leaf without it as the
  // copy's parent, which the generator also visits (and would take for a leaf that says nothing).
  z.globalRegistry.add(schema, accepts);
  return schema;
}

const typed = <T>(guard: (v: unknown) => v is T, expected: string, accepts: Accepts) =>
  leaf(accepts, (v) => (guard(v) ? ok(v) : bad<T>(`expected ${expected}, got ${describe(v)}`)));

/** A string from a fixed list: `unknown <what> "x" (expected <expected>)`. */
function oneOf<const T extends readonly string[]>(values: T, what: string, expected: string) {
  return leaf({ type: 'string', enum: [...values] }, (v): Checked<T[number]> =>
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

// The same checks as JSON Schema. A JSON Schema `integer` is any whole number; the loader's are safe integers.
const SAFE_INTEGER = { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } as const;
const NON_NEGATIVE = { ...SAFE_INTEGER, minimum: 0 } as const;
const HEX_STRING = { type: 'string', pattern: '^0[xX][0-9a-fA-F]+$' } as const;

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

export const text = typed(isString, 'a string', { type: 'string' });
export const name = typed(isNonEmptyString, 'a non-empty string', { type: 'string', minLength: 1 });
export const bool = typed(isBoolean, 'true or false', { type: 'boolean' });
export const positiveInt = typed(isPositiveInt, 'a positive integer', { ...SAFE_INTEGER, minimum: 1 });
export const nonNegativeInt = typed(isNonNegativeInt, 'a non-negative integer', NON_NEGATIVE);
export const pasidOrNull = typed(isPasidOrNull, 'a PASID (non-negative integer) or null', { ...NON_NEGATIVE, type: ['integer', 'null'] });

export const version = leaf({ const: 1 }, (v): Checked<1> =>
  v === 1 ? ok(1) : bad(typeof v === 'number' ? `unsupported scenario version ${v} (expected 1)` : `expected 1, got ${describe(v)}`));

export const pasidPolicy = oneOf(PASID_POLICIES, 'pasid policy', orList(PASID_POLICIES));
export const lamPolicy = oneOf(LAM_POLICIES, 'lam policy', orList(LAM_POLICIES));
/** What a registered kind's message type looks like (dotted lowercase); load.ts checks it is registered. */
export const FOREIGN_TYPE = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
/**
 * A message type; a misspelt one names the nearest types rather than listing all of them. A dotted name
 * that is not svasim's passes here: it may be a registered kind's, which load.ts checks with the registry
 * (the JSON Schema lists svasim's types only: the format without plugins).
 */
export const messageType = leaf({ type: 'string', enum: [...MESSAGE_TYPES] }, (v): Checked<string> => {
  if (typeof v === 'string' && ((MESSAGE_TYPES as readonly string[]).includes(v) || FOREIGN_TYPE.test(v))) return ok(v);
  const near = typeof v === 'string' ? didYouMean(v, MESSAGE_TYPES) : '';
  return bad(`unknown message type ${describe(v)}${near !== '' ? near : ` (expected one of ${MESSAGE_TYPES.join(', ')})`}`);
}).meta({ id: 'messageType' }); // `id`: the JSON Schema holds the list once, under definitions

/** Linux's capability names (include/uapi/linux/capability.h, CAP_CHOWN = 0 … CAP_CHECKPOINT_RESTORE = 40). */
export const LINUX_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** A capability name: a typo is bad input (exit 2), not a capability the process lacks (EPERM). */
export const capability = leaf({ type: 'string', enum: [...LINUX_CAPABILITIES] }, (v): Checked<string> => {
  if (typeof v === 'string' && (LINUX_CAPABILITIES as readonly string[]).includes(v)) return ok(v);
  const near = typeof v === 'string' ? didYouMean(v, LINUX_CAPABILITIES) : '';
  return bad(`unknown capability ${describe(v)}${near !== '' ? near : ' (expected a Linux capability name such as "CAP_SYS_RAWIO")'}`);
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
export const archCode = leaf({
  anyOf: [{ type: 'string', enum: ARCH_CODE_NAMES }, NON_NEGATIVE, HEX_STRING],
  description: 'arch_prctl option: a name, a number or a hex string ("0x4002"); the loader refuses a hex value beyond 2^53',
}, (v): Checked<number> => {
  if (typeof v === 'string' && isArchCodeName(v)) return ok(ARCH_CODES[v]);
  const n = unsignedOrHex(v);
  if (n !== undefined) return ok(n);
  return bad(`unknown arch_prctl code ${describe(v)} (expected ${ARCH_CODE_NAMES.join(', ')}, a number or a hex string like "0x4002")`);
});

export const archArg = leaf({
  anyOf: [NON_NEGATIVE, HEX_STRING],
  description: 'arch_prctl argument: a non-negative integer or a hex string; the loader refuses a hex value beyond 2^53',
}, (v): Checked<number> => {
  const n = unsignedOrHex(v);
  return n === undefined ? bad(`expected a non-negative integer or a hex string, got ${describe(v)}`) : ok(n);
});

/**
 * A syscall's value as `expect.value` gives it: an integer, or a string holding one in decimal (`"6"`)
 * or hex (`"0x6"`, lowercased) — all three match the value 6 (see `sameSysValue`). An integer beyond
 * 2^53 cannot be a JSON number here (it would be read rounded): it must be written as a string.
 */
export const sysValue = leaf({
  anyOf: [SAFE_INTEGER, { type: 'string', pattern: '^(?:0[xX][0-9a-fA-F]+|-?[0-9]+)$' }],
  description: 'The value the syscall returns: an integer, or a string holding one ("6" or "0x6"), compared as integers; a value beyond 2^53 must be a string',
}, (v): Checked<SysValue> => {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return ok(v);
    const why = Number.isInteger(v) || !Number.isFinite(v) ? ' (a JSON number beyond 2^53 is read rounded: write it as a string, in decimal or hex)' : '';
    return bad(`expected an integer, or a string holding one ("6" or "0x6"), got ${describe(v)}${why}`);
  }
  if (typeof v === 'string' && sysValueInteger(v) !== null) return ok(HEX.test(v) ? v.toLowerCase() : v);
  return bad(`expected an integer, or a string holding one ("6" or "0x6"), got ${describe(v)}`);
});

/** Inclusive PASID range, 1 <= min <= max <= 0xFFFFF. */
const PASID_BOUND = { type: 'integer', minimum: 1, maximum: PASID_MAX } as const;
export const pasidRange = leaf({
  type: 'array', items: [PASID_BOUND, PASID_BOUND], minItems: 2, maxItems: 2,
  description: `PASIDs the IOMMU allocates from, [min, max] inclusive: 1 <= min <= max <= ${PASID_MAX} (0xFFFFF); the loader also checks min <= max`,
}, (v): Checked<readonly [number, number]> => {
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

// Descriptions (`.describe`) are what an editor shows for a field; the README's tables say the same.

export const expectSchema = object({
  result: expectedResult.optional().describe('The outcome: ok or an errno name for a syscall; accepted, retry or sigsegv for enqcmd'),
  value: sysValue.optional(),
  pasid: pasidOrNull.optional().describe("The PASID of the mm of the step's thread after the step (fork, clone: the calling thread's mm; spawn: the new process's); null for none"),
  events: array(messageType).optional().describe('Message types the step causes, in this order (others may interleave)'),
  noEvents: array(messageType).optional().describe('Message types the step must not cause'),
}).meta({ id: 'expect', description: 'What the step must do; every field optional' });

const common = {
  expect: expectSchema.optional(),
  note: text.optional().describe('A comment for readers; ignored by the simulator'),
};

/** A step's `op`, with what it does. */
const op = <const O extends Step['op']>(o: O, does: string) => z.literal(o).describe(does);
const thread = name.describe('The calling thread: created by an earlier spawn (named after its process), clone or fork');
const device = name.describe('A device declared in devices');
const child = name.describe('The new thread (clone: in the same process; fork: the first thread of a new process, named so)');

export const stepSchema = z.discriminatedUnion('op', [
  object({ op: op('spawn', 'New process with a fresh mm (no PASID, LAM off) and one thread of the same name'), process: name.describe('The new process (and its first thread)'), caps: array(capability).optional().describe('Its capabilities, e.g. ["CAP_SYS_RAWIO"] (fork inherits them)'), ...common }),
  object({ op: op('clone', 'New thread in the same mm; MSR unset, not activated (never inherited)'), thread, new: child, ...common }),
  object({ op: op('fork', 'New process with a new mm: no PASID, bindings or portals; LAM state inherited'), thread, new: child, ...common }),
  object({ op: op('exec', "Other threads exit; fresh mm; old mm's devices released; MSR reset"), thread, ...common }),
  object({ op: op('exit', 'The thread exits; the last one tears the process down'), thread, ...common }),
  object({ op: op('open', "open() the device's shared WQ file: SVA bind on the caller's mm (PASID allocated if none, PASID-table entry), descriptor installed"), thread, device, fd: name.describe('The descriptor\'s name in the process\'s fd table'), cloexec: bool.optional().describe('O_CLOEXEC: exec closes it (default false: it survives exec)'), ...common }),
  object({ op: op('mmap', "mmap() the descriptor's portal: EPERM without CAP_SYS_RAWIO on an unsafe device, or from another mm; EBADF for no such descriptor"), thread, fd: name.describe('A descriptor of the process'), ...common }),
  object({ op: op('munmap', "munmap() the device's portal in the thread's mm (the mapping's file reference goes)"), thread, device, ...common }),
  object({ op: op('bind', 'Shorthand for open (fd named after the device) + mmap'), thread, device, ...common }),
  object({ op: op('unbind', 'The driver unbinds; the portal stays mapped'), thread, device, ...common }),
  object({ op: op('close', 'close(fd); or, with device: unmap its portal and close its every descriptor (the last reference releases the file: drain, unbind)'), thread, device: device.optional(), fd: name.optional().describe('The descriptor to close (instead of device)'), ...common }),
  object({ op: op('enqcmd', 'One descriptor through the portal: accepted, retry or sigsegv'), thread, device, ...common }),
  object({ op: op('arch_prctl', 'LAM: ARCH_GET_UNTAG_MASK 0x4001, ARCH_ENABLE_TAGGED_ADDR 0x4002, ARCH_GET_MAX_TAG_BITS 0x4003, ARCH_FORCE_TAGGED_SVA/ARCH_XXX 0x4004'), thread, code: archCode, arg: archArg.optional(), ...common }),
  object({ op: op('complete', 'Execute queued descriptors (devices with autoComplete false)'), device, count: positiveInt.optional().describe('How many; absent: all queued'), ...common }),
], {
  error: (iss) => {
    const input = iss.input;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return `expected a step object, got ${describe(input)}`;
    }
    const op: unknown = (input as Record<string, unknown>)['op'];
    return `unknown op ${describe(op)} (expected one of ${OPS.join(', ')})`;
  },
}).meta({ id: 'step' });

// ---- the file ----

export const deviceSchema = object({
  name: name.describe('The name steps use (unique)'),
  wqSize: positiveInt.optional().describe('Shared work queue size (default 32)'),
  threshold: positiveInt.optional().describe('Occupancy at which ENQCMD gets retry (default wqSize; at most wqSize, which the loader checks)'),
  autoComplete: bool.optional().describe('Descriptors complete at once (default true); false: they wait for a complete step'),
  userSubmissionSafe: bool.optional().describe("idxd's user_submission_safe (default true); false: mmap needs CAP_SYS_RAWIO (INTEL-SA-01084)"),
  kind: name.optional().describe('A device model registered by a plugin or the library (default: svasim\'s work queue)'),
  options: record(z.unknown()).optional().describe('Settings for the device model of that kind (passed to it as input.options)'),
}).meta({ id: 'device' });

export const actorSchema = object({
  name: name.describe('The actor\'s name: it lives at <prefix>:<name> (the kind\'s prefix)'),
  kind: name.describe('A kind registered by a plugin or the library (not a device model)'),
  options: record(z.unknown()).optional().describe('Settings for the actor (passed to it as input.options)'),
}).meta({ id: 'actor' });

/** A decimal PASID from 1 to PASID_MAX (1048575), as `final.refs` keys it (the loader checks it in load.ts). */
const PASID_KEY = '^(?:[1-9][0-9]{0,5}|10[0-3][0-9]{4}|104[0-7][0-9]{3}|1048[0-4][0-9]{2}|10485[0-6][0-9]|104857[0-5])$';

export const finalSchema = object({
  pasid: record(pasidOrNull).optional().describe('PASID per process name (null: none)'),
  refs: record(nonNegativeInt).meta({ propertyNames: { pattern: PASID_KEY } }).optional()
    .describe('Refcount per PASID (a decimal key from 1 to 1048575); checked under pasid policy seed-2021 only'),
  msr: record(pasidOrNull).optional().describe('IA32_PASID per thread name (null: unset)'),
}).describe('What must hold at the end of the run');

export const scenarioFileSchema = object({
  /** The JSON Schema an editor validates the file with (SPEC §6); the loader ignores its value. */
  $schema: text.optional().describe('The JSON Schema an editor validates this file with; ignored by svasim'),
  scenario: version.describe('The scenario format version: 1'),
  name: name.describe('What the scenario shows (printed in the summary)'),
  description: text.optional().describe('Free text for readers; ignored by the simulator'),
  policy: object({
    pasid: pasidPolicy.optional().describe('seed-2021 (default): the 2021 RFC, refcounted, freed lazily; merged: Linux v5.18+, the PASID lives as long as the mm'),
    lam: lamPolicy.optional().describe('poc-2022 (default): the 2022 PoC; v6.4: Linux v6.4+; off: a kernel without CONFIG_ADDRESS_MASKING'),
  }).optional().describe('Which kernel design to simulate; --policy on the command line overrides it'),
  cpu: object({
    enqcmd: bool.optional().describe('The CPU has ENQCMD (default true); without it the #GP is never fixed up'),
    lam: bool.optional().describe('The CPU has LAM (default true)'),
  }).optional().describe('CPU features'),
  iommu: object({ pasidRange: pasidRange.optional() }).optional().describe('IOMMU settings'),
  devices: array(deviceSchema).optional().describe('Accelerator shared work queues (DSA/IAX) that steps name'),
  actors: array(actorSchema).optional().describe('Actors of registered kinds (a workload generator, a fault injector…) that exist from the start'),
  steps: array(stepSchema).describe('What happens, in order: syscalls and ENQCMDs of named threads'),
  final: finalSchema.optional(),
  forbid: array(messageType).optional().describe('Message types that must never occur'),
});

/** The validated file, before defaults. */
export type ScenarioFile = z.output<typeof scenarioFileSchema>;

// Compile-time checks: the schema's steps are the normalized Step union, and its ops are OPS.
type SchemaStep = z.output<typeof stepSchema>;
const _stepsMatch: SchemaStep extends Step ? true : never = true;
const _opsMatch: [SchemaStep['op']] extends [Step['op']] ? ([Step['op']] extends [SchemaStep['op']] ? true : never) : never = true;
void _stepsMatch;
void _opsMatch;

/** The fields a step of this `op` takes (none for an unknown op): what a misspelt field may have meant. */
export function stepFields(op: unknown): readonly string[] {
  const option = stepSchema.options.find((o) => o.shape.op.value === op);
  return option === undefined ? [] : Object.keys(option.shape);
}
