/**
 * The payload of every message type as a zod schema: every field of the `Message` member in
 * machines/protocol.ts except `type` and the routing `to`, strict (an unknown field is an error), with
 * integers where the model counts (PASIDs, mm ids, refcounts, occupancies) and enums from protocol.ts.
 *
 * The reader checks each record's payload with `payloadIssue`: an O(1) lookup by type, then the
 * schema's ahead-of-time compiled validator (`z.compile`, assert-only: no output is built); only a
 * record that fails is parsed again by the runtime parser, for the first issue's path and message.
 */
import { z } from 'zod';
import { ERRNOS, PASID_MAX, type MessageOf, type MessageType } from '../../machines/protocol.ts';
import { REFUSAL_CODES } from '../../machines/refusals.ts';

const name = z.string().min(1);
/** A PASID as a message carries it: 0 is "none" (an IA32_PASID never written), VT-d PASIDs are 20 bits. */
const pasid = z.int().min(0).max(PASID_MAX);
/** mm ids are handed out from 1. */
const mm = z.int().min(1);
const count = z.int().min(0);
const errno = z.enum(ERRNOS);
/** Why a syscall was refused: a code of machines/refusals.ts (absent in logs of models before 0.2.0). */
const reason = z.enum(REFUSAL_CODES).optional();
/** A process's fd table as messages carry it (fork, exec). */
const fds = z.record(z.string().min(1), z.strictObject({ file: z.string().min(1), device: z.string().min(1), cloexec: z.boolean(), bound: z.boolean() }));
/** A syscall's returned value: an integer, or a 64-bit quantity as a lowercase hex string. */
const sysValue = z.union([z.int(), z.string().regex(/^0x[0-9a-f]+$/)]);
const lam = z.strictObject({ enabled: z.boolean(), lockLam: z.boolean(), force: z.boolean() });

const thread = { thread: name };
const threadNew = { thread: name, new: name };
const threadDevice = { thread: name, device: name };
const archPrctl = { thread: name, code: count, arg: count.optional() };

/** One strict payload schema per message type (the keys are exactly MESSAGE_TYPES; checked below). */
export const PAYLOAD_SCHEMAS = {
  'sys.spawn': z.strictObject({ process: name, caps: z.array(name).optional() }),
  'sys.clone': z.strictObject(threadNew),
  'sys.fork': z.strictObject(threadNew),
  'sys.exec': z.strictObject(thread),
  'sys.exit': z.strictObject(thread),
  'sys.bind': z.strictObject(threadDevice),
  'sys.unbind': z.strictObject(threadDevice),
  'sys.close': z.strictObject({ thread: name, device: name.optional(), fd: name.optional() }),
  'sys.open': z.strictObject({ thread: name, device: name, fd: name, cloexec: z.boolean().optional() }),
  'sys.mmap': z.strictObject({ thread: name, fd: name }),
  'sys.munmap': z.strictObject(threadDevice),
  'sys.arch_prctl': z.strictObject(archPrctl),
  'insn.enqcmd': z.strictObject(threadDevice),
  'wq.execute': z.strictObject({ device: name, count: z.int().min(1).optional() }),
  'mm.clone': z.strictObject(threadNew),
  'mm.fork': z.strictObject(threadNew),
  'mm.exec': z.strictObject({ thread: name, fixedUp: z.boolean() }),
  'mm.thread_exit': z.strictObject({ thread: name, fixedUp: z.boolean() }),
  'mm.bind': z.strictObject(threadDevice),
  'mm.unbind': z.strictObject(threadDevice),
  'mm.close': z.strictObject({ thread: name, device: name.optional(), fd: name.optional() }),
  'mm.open': z.strictObject({ thread: name, device: name, fd: name, cloexec: z.boolean() }),
  'mm.mmap': z.strictObject({ thread: name, fd: name }),
  'mm.munmap': z.strictObject(threadDevice),
  'mm.close_on_exec': z.strictObject({ thread: name }),
  'mm.arch_prctl': z.strictObject(archPrctl),
  'trap.gp': z.strictObject({ thread: name, activated: z.boolean() }),
  'portal.store': z.strictObject({ thread: name, device: name, pasid }),
  'kernel.fork': z.strictObject({ thread: name, process: name, lam, caps: z.array(name).optional(), fds: fds.optional() }),
  'kernel.exec': z.strictObject({ thread: name, process: name, caps: z.array(name).optional(), fds: fds.optional() }),
  'mm.create': z.strictObject({ process: name, threads: z.array(name), lam, caps: z.array(name).optional(), fds: fds.optional() }),
  'thread.start': z.strictObject({ process: name, mm }),
  'thread.exec': z.strictObject({ mm }),
  'thread.kill': z.strictObject(thread),
  'msr.write': z.strictObject({ thread: name, pasid }),
  'gp.fixup': z.strictObject(thread),
  'signal.sigsegv': z.strictObject({ thread: name, reason: z.enum(['gp', 'portal']) }),
  'trap.ud': z.strictObject({ thread: name }),
  'signal.sigill': z.strictObject({ thread: name }),
  'sys.return': z.strictObject({ thread: name, errno: errno.optional(), value: sysValue.optional(), reason }),
  'iommu.bind': z.strictObject({ mm, device: name, pasid: pasid.nullable() }),
  'iommu.unbind': z.strictObject({ mm, device: name, pasid, count, file: name.optional() }),
  'iommu.get': z.strictObject({ mm, pasid, thread: name }),
  'iommu.put': z.strictObject({ mm, pasid, thread: name }),
  'iommu.teardown': z.strictObject({ mm, pasid }),
  'iommu.free': z.strictObject({ mm, pasid }),
  'pasid.alloc': z.strictObject({ pasid, mm }),
  'pasid.get': z.strictObject({ pasid, refs: count, thread: name.optional() }),
  'pasid.put': z.strictObject({ pasid, refs: count }),
  'pasid.free': z.strictObject({ pasid }),
  'pasidtable.set': z.strictObject({ device: name, pasid }),
  'pasidtable.clear': z.strictObject({ device: name, pasid, silent: z.boolean().optional() }),
  'iommu.bound': z.strictObject({ device: name, pasid }),
  'iommu.bind_failed': z.strictObject({ device: name, errno, reason }),
  'iommu.get_failed': z.strictObject({ pasid, thread: name }),
  'iommu.unbound': z.strictObject({ device: name, pasid }),
  'iommu.torndown': z.strictObject({ pasid }),
  'wq.submit': z.strictObject({ thread: name, pasid, mm: mm.optional() }),
  'wq.drain': z.strictObject({ pasid, mm, file: name.optional() }),
  'file.open': z.strictObject({ device: name, mm, pasid, holder: name, safe: z.boolean() }),
  'file.store': z.strictObject({ thread: name, device: name, pasid, mm }),
  'file.mmap': z.strictObject({ thread: name, mm, caps: z.array(name), holder: name, reply: name }),
  'file.mapped': z.strictObject({ thread: name, device: name, file: name, holder: name, errno: errno.optional(), reason }),
  'file.get': z.strictObject({ holder: name, reply: name }),
  'file.got': z.strictObject({ holder: name, file: name }),
  'file.put': z.strictObject({ holder: name, reply: name }),
  'file.dropped': z.strictObject({ holder: name, file: name, released: z.boolean() }),
  'file.unbind': z.strictObject({ thread: name, reply: name }),
  'file.unbound': z.strictObject({ thread: name, file: name }),
  'mm.drop': z.strictObject({ device: name, file: name }),
  'wq.drained': z.strictObject({ device: name, pasid }),
  'wq.accept': z.strictObject({ thread: name, pasid, occupancy: count }),
  'wq.retry': z.strictObject({ thread: name, occupancy: count }),
  'wq.complete': z.strictObject({ thread: name, pasid }),
  'iommu.translate': z.strictObject({ device: name, pasid, thread: name, mm: mm.optional() }),
  'iommu.translated': z.strictObject({ device: name, pasid, thread: name, mm: mm.optional(), space: mm.optional() }),
  'fault.dmar': z.strictObject({ device: name, pasid, reason: count, suppressed: z.boolean().optional(), thread: name }),
  'invariant.violation': z.strictObject({ invariant: name, detail: z.string() }),
} as const satisfies { readonly [T in MessageType]: z.ZodType };

// ---- compile-time check: the schemas and the Message union agree, in both directions ----

/** A type with `readonly` dropped at every level (readonly-ness is not part of the log's format). */
type Plain<T> = T extends readonly (infer U)[] ? Plain<U>[] : T extends object ? { -readonly [K in keyof T]: Plain<T[K]> } : T;
/** Exact type equality (not mutual assignability: an optional field or a wider type is a difference). */
type Equals<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
type Schemas = typeof PAYLOAD_SCHEMAS;
/** A message's payload: all its fields but `type` (a Message member has no `to`; Outgoing adds it). */
type PayloadOf<T extends MessageType> = Plain<Omit<MessageOf<T>, 'type'>>;
/** Message types whose schema's output is not exactly their payload (a field missing, extra or typed otherwise). */
type Differs = { [T in MessageType]: Equals<Plain<z.output<Schemas[T]>>, PayloadOf<T>> extends true ? never : T }[MessageType];
/** Schemas for types the union does not have (`satisfies` already rejects a literal's excess keys; this keeps it so). */
type Extra = Exclude<keyof Schemas, MessageType>;
const _schemasAgree: [Differs] extends [never] ? true : { differs: Differs } = true;
const _noExtraSchemas: [Extra] extends [never] ? true : { extra: Extra } = true;
void _schemasAgree;
void _noExtraSchemas;

// ---- validation ----

interface PayloadCheck {
  /** The compiled, assert-only validator: true when the payload is valid. */
  readonly valid: (payload: unknown) => boolean;
  /** The same for a whole message (its payload plus `type`, which must be this type). */
  readonly validMessage: (msg: unknown) => boolean;
  /** The runtime parser, run only on a payload `valid` rejected, for the issue. */
  readonly schema: z.ZodType;
}

const CHECKS = new Map<string, PayloadCheck>();
for (const [type, schema] of Object.entries(PAYLOAD_SCHEMAS) as [MessageType, z.ZodType][]) {
  const compiled = z.compile(schema);
  const whole = z.compile((schema as z.ZodObject).extend({ type: z.literal(type) }));
  CHECKS.set(type, { valid: (payload) => compiled.validate(payload), validMessage: (msg) => whole.validate(msg), schema });
}

/** `path: message` of a zod issue; an unknown field's path is the field. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.join('.') : issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '';
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}

/**
 * What is wrong with a record's payload (its fields but the envelope's), as `path: message`, or `null`
 * when it is valid for `type`. A type that is not a message type is an issue too.
 */
/**
 * `payloadIssue` for a whole message (`type` plus payload, as the reader builds it): the same answer,
 * without first copying the payload out of the message.
 */
export function messageIssue(msg: { readonly type: string }): string | null {
  const check = CHECKS.get(msg.type);
  if (check === undefined) return NOT_A_TYPE;
  if (check.validMessage(msg)) return null;
  const { type, ...payload } = msg;
  return payloadIssue(type, payload);
}

/** {@link messageIssue}'s answer for a type that is not svasim's (a registered kind's, or none). */
export const NOT_A_TYPE = 'type: not a message type';

export function payloadIssue(type: string, payload: Record<string, unknown>): string | null {
  const check = CHECKS.get(type);
  if (check === undefined) return `type: not a message type`;
  if (check.valid(payload)) return null;
  const r = check.schema.safeParse(payload);
  if (r.success) return null; // the compiled validator is never stricter than the runtime; trust the runtime
  const issue = r.error.issues[0];
  return issue === undefined ? 'invalid' : describeIssue(issue);
}
