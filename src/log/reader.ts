/**
 * Reads an event log (SPEC §7): validates the header and every record (its envelope here, its payload
 * by its type's schema in schema.ts), and reports a malformed or truncated line, or damage (a seq gap,
 * a cause that points forward), by file and line number.
 *
 * It also says how the log ends (`LogEnding`). A format-2 log ends with its closing record, written
 * when the run ended; one without it, or whose last line has no newline, or whose header is cut, is
 * incomplete — a run killed or stopped by a write error — and the reader knows it without guessing.
 * Format 1 had no closing record: for those logs replay still judges from the records (steps with no
 * record, messages left pending).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { z } from 'zod';
import { MESSAGE_TYPES, type Address, type Message } from '../../machines/protocol.ts';

const BUILTIN_TYPES: ReadonlySet<string> = new Set<string>(MESSAGE_TYPES);
import { FINDING_KINDS } from '../runtime/scheduler.ts';
import type { Delivered } from '../runtime/system.ts';
import { scenarioFromValue, ScenarioError } from '../scenario/load.ts';
import { messageTypeIssue } from '../scenario/suggest.ts';
import type { Scenario } from '../scenario/types.ts';
import { LOG_FORMAT_VERSION, MODEL_VERSION } from '../version.ts';
import { LogError } from './errors.ts';
import { recordLine, type ClosingRecord, type LogHeader } from './format.ts';
import { RecordEncoder, type RecordFields } from './writer.ts';
import { messageIssue, NOT_A_TYPE } from '../runtime/message-schema.ts';
import { BUILTIN_KINDS_REGISTRY, type Kinds } from '../runtime/kinds.ts';
import { chainFrom, type Upcaster } from './upcast.ts';

/** A log that cannot be used: the message is the one line to print (file:line: what). */
export { LogError };

/**
 * How a log ends. `closed`: its closing record (format 2), consistent with the records before it.
 * `unmarked`: format 1, which has no closing record (completeness is judged by replay). `cut`: the log
 * is incomplete — `end`: a format-2 log whose lines are whole but with no closing record; `record`: its
 * last line is cut short (a record lost); `closing`: its closing record is cut short; `newline`: its
 * closing record is whole but has no newline (the write stopped just before it).
 */
export type LogEnding =
  | { readonly kind: 'closed'; readonly steps: number }
  | { readonly kind: 'unmarked' }
  | { readonly kind: 'cut'; readonly what: 'end' | 'record' | 'closing' | 'newline' };

/** A log read and checked: its header, scenario, records and lines, how it ends, its kinds. */
export interface ParsedLog {
  readonly source: string;
  readonly header: LogHeader;
  /** The scenario with the effective policy of the logged run. */
  readonly scenario: Scenario;
  readonly records: readonly Delivered[];
  /** The record lines exactly as written (records[i] is lines[i]). */
  readonly lines: readonly string[];
  /** Records lost at the end: a last line cut short (only with `allowTruncated`). */
  readonly truncated: number;
  /** The format version the log was converted from, or `null` when it was written in the current one. */
  readonly upcastFrom: number | null;
  /** The model that wrote the log differs from this one: divergences may be model changes. */
  readonly otherModel: boolean;
  /** Plugins the header names whose kinds are loaded from another plugin or version (see {@link PluginChange}). */
  readonly pluginChanges: readonly PluginChange[];
  /** How the log ends: complete (closed), format 1 (unmarked), or cut short. */
  readonly ending: LogEnding;
  /** The kinds it was read with (svasim's and the plugins' its header names): replay steps them. */
  readonly kinds: Kinds;
}

const policySchema = z.object({ pasid: z.enum(['seed-2021', 'merged']), lam: z.enum(['poc-2022', 'v6.4', 'off']) }).strict();
const pluginRefSchema = z.object({ name: z.string().optional(), version: z.string().optional(), kinds: z.array(z.string()) }).strict();
const headerSchema = z
  .object({
    log: z.literal('svasim'),
    version: z.number().int(),
    model: z.string(),
    policy: policySchema,
    scenario: z.record(z.string(), z.unknown()),
    plugins: z.array(pluginRefSchema).optional(),
    scheduler: z
      .object({
        name: z.string(),
        seed: z.number().int().optional(),
        strategy: z.string().optional(),
        schedule: z.number().int().min(0).optional(),
        pctDepth: z.number().int().min(1).optional(),
        finding: z.object({ seq: z.number().int().min(1), kind: z.enum(FINDING_KINDS), what: z.string(), detail: z.string() }).strict().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
/** A count in the closing record: a non-negative integer, echoed as it reads when it is not one. */
const count0 = z.unknown().refine((v): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0, {
  error: (iss) => `expected a count (a non-negative integer), got ${JSON.stringify(iss.input) ?? String(iss.input)}`,
});
const closingSchema = z.object({ end: z.literal('svasim'), records: count0, steps: count0 }).strict();
// `s`: a name may hold any character, line breaks included (the scenario allows any non-empty name).
const addressSchema = z.string().regex(/^(user|kernel|iommu|monitor|thread:.+|mm:\d+|wq:.+|file:.+|(?!(?:user|kernel|iommu|monitor|thread|mm|wq|file):)[a-z][a-z0-9_-]*:.+)$/s, 'an actor address');
const recordSchema = z
  .object({
    seq: z.number().int().min(1),
    // svasim's types, or a registered kind's (checked against the registry with the payload).
    type: z.string().refine((t) => BUILTIN_TYPES.has(t) || /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/.test(t)),
    from: addressSchema,
    to: addressSchema,
    cause: z.number().int().min(1).optional(),
    step: z.number().int().min(0),
    copy: z.literal(true).optional(),
  })
  .passthrough();
/** The envelope's compiled, assert-only validator: the per-record fast path (about 3x the runtime parser on
 * a large log). A record it rejects is parsed again by `recordSchema` for the issue. */
const recordCheck = z.compile(recordSchema);
type RecordEnvelope = z.output<typeof recordSchema>;

/** The record's envelope, checked; a malformed one is a LogError naming the line. */
function envelope(json: unknown, source: string, lineNo: number, line: string): RecordEnvelope {
  if (recordCheck.validate(json)) return json;
  const inexact = inexactNumber(json, line);
  if (inexact !== null) throw new LogError(`${source}:${lineNo}: malformed record: ${inexact}`);
  // The type first, in one phrase with the nearest known types (zod's would list all of them).
  const typeIssue = typeof json === 'object' && json !== null && !Array.isArray(json) ? messageTypeIssue((json as { type?: unknown }).type) : null;
  if (typeIssue !== null) throw new LogError(`${source}:${lineNo}: malformed record: ${typeIssue}`);
  const r = recordSchema.safeParse(json);
  if (!r.success) throw new LogError(`${source}:${lineNo}: malformed record: ${firstIssue(r.error)}`);
  return r.data;
}

/**
 * The first number of a rejected line that no JSON number here holds exactly — 1e400 (Infinity once
 * parsed), an integer past 2^53 (rounded) — with its path and its text as written in the line: the
 * parsed value would show another number than the file has. `null` when there is none.
 */
export function inexactNumber(json: unknown, line: string): string | null {
  const path: (string | number)[] = [];
  const find = (v: unknown): boolean => {
    if (typeof v === 'number') return !Number.isFinite(v) || (Number.isInteger(v) && !Number.isSafeInteger(v));
    if (typeof v !== 'object' || v === null) return false;
    for (const [k, x] of Array.isArray(v) ? v.entries() : Object.entries(v)) {
      path.push(k);
      if (find(x)) return true;
      path.pop();
    }
    return false;
  };
  if (!find(json)) return null;
  const raw = numberText(line, path);
  return `${path.join('.')}: ${raw ?? 'a number'} is out of range (integers in a log go up to ${Number.MAX_SAFE_INTEGER} in magnitude)`;
}

/** The text of the number at `want` (keys and indexes) in the JSON text `line`; `undefined` if not found. */
function numberText(line: string, want: readonly (string | number)[]): string | undefined {
  let i = 0;
  const number = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
  const ws = (): void => {
    while (i < line.length && ' \t\r\n'.includes(line.charAt(i))) i++;
  };
  const str = (): string => {
    const start = i++;
    while (i < line.length && line.charAt(i) !== '"') i += line.charAt(i) === '\\' ? 2 : 1;
    i++;
    return JSON.parse(line.slice(start, i)) as string;
  };
  const here = (path: readonly (string | number)[]): boolean => path.length === want.length && path.every((p, k) => String(p) === String(want[k]));
  // The value at `path` starting at `i`: the number's text if it is the one wanted, else skipped.
  const value = (path: (string | number)[]): string | undefined => {
    ws();
    const c = line.charAt(i);
    if (c === '{' || c === '[') {
      i++;
      for (let n = 0; ; n++) {
        ws();
        if (line.charAt(i) === '}' || line.charAt(i) === ']') {
          i++;
          return undefined;
        }
        let key: string | number = n;
        if (c === '{') {
          key = str();
          ws();
          i++; // ':'
        }
        const got = value([...path, key]);
        if (got !== undefined) return got;
        ws();
        if (line.charAt(i) === ',') i++;
      }
    }
    if (c === '"') {
      str();
      return undefined;
    }
    number.lastIndex = i;
    const m = number.exec(line);
    if (m) {
      i += m[0].length;
      return here(path) ? m[0] : undefined;
    }
    while (i < line.length && /[a-z]/.test(line.charAt(i))) i++; // true, false, null
    return undefined;
  };
  try {
    return value([]);
  } catch {
    return undefined;
  }
}

function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  if (!i) return 'invalid';
  const path = i.path.length > 0 ? `${i.path.join('.')}: ` : '';
  return `${path}${i.message}`;
}

/** What a log's header line gives: the header, the scenario (with the run's policy), the upcasters. */
export interface LogHead {
  readonly source: string;
  readonly header: LogHeader;
  readonly scenario: Scenario;
  readonly chain: readonly Upcaster[];
  /** The log's own format ends a finished run with a closing record (format 2 on). */
  readonly closes: boolean;
  /** Its record lines are already the current format's (no upcaster changes them). */
  readonly recordsAsIs: boolean;
  /** The kinds its records may use: svasim's and those of the plugins the header names. */
  readonly kinds: Kinds;
  /** Plugins the header names whose kinds are loaded from another plugin or version. */
  readonly pluginChanges: readonly PluginChange[];
}

/** How a log is read. */
export interface ReadOptions {
  /** Accept a log cut short and read its complete prefix. */
  readonly allowTruncated?: boolean | undefined;
  /** The kinds registered by the plugins the log names (default: svasim's own only). */
  readonly kinds?: Kinds | undefined;
}

/**
 * A plugin the header names whose kinds are loaded now, but registered by another plugin or another
 * version of it: the log may still replay, but a divergence may be the plugin's change rather than the
 * model's (as `otherModel` says of svasim itself). Only plugins named on both sides are compared: kinds a
 * program registered without a plugin carry no name or version to compare.
 */
export interface PluginChange {
  /** The plugin as the header names it. */
  readonly logged: { readonly name: string; readonly version: string };
  /** The plugins its kinds are loaded from now (one, unless they were split), in the header's kind order. */
  readonly loaded: readonly { readonly name: string; readonly version: string }[];
  /** Its kinds, as the header lists them. */
  readonly kinds: readonly string[];
}

/** A name from a log as one printable line: itself, or JSON-escaped (control characters, newlines), cut at 80. */
function printable(s: string): string {
  const t = /^[\x20-\x7e]*$/.test(s) ? s : JSON.stringify(s);
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}

/**
 * The header's plugins, each with every kind it registered: a log naming one not loaded is refused.
 * Returns the plugins whose kinds are loaded from another plugin name or version.
 */
function checkPlugins(refs: readonly z.output<typeof pluginRefSchema>[] | undefined, kinds: Kinds, source: string): PluginChange[] {
  const changes: PluginChange[] = [];
  for (const p of refs ?? []) {
    const missing = p.kinds.filter((k) => {
      const kind = kinds.get(k);
      return kind === undefined || kind.builtin;
    });
    if (missing.length === 0) {
      if (p.name === undefined || p.version === undefined) continue;
      const loaded: { name: string; version: string }[] = [];
      for (const k of p.kinds) {
        const o = kinds.get(k)?.definition?.origin;
        if (o !== undefined && !loaded.some((l) => l.name === o.name && l.version === o.version)) loaded.push({ name: o.name, version: o.version });
      }
      if (loaded.some((l) => l.name !== p.name || l.version !== p.version)) changes.push({ logged: { name: p.name, version: p.version }, loaded, kinds: p.kinds });
      continue;
    }
    // Names read from a file are shown escaped when they hold anything but printable characters.
    const who = p.name !== undefined ? `plugin ${printable(p.name)}${p.version !== undefined ? ` ${printable(p.version)}` : ''}` : 'kinds registered by the program that wrote it';
    throw new LogError(
      `${source}:1: the log needs ${who} (kind${missing.length === 1 ? '' : 's'} ${missing.map(printable).join(', ')}), which ${missing.length === 1 ? 'is' : 'are'} not loaded: pass --plugin FILE (or the library's kinds option)`,
    );
  }
  return changes;
}

/**
 * Parse and check line 1 (upcasting an older format). `cutShort`: it is the file's only line and has
 * no newline — a header that is not JSON then was cut short while being written.
 */
export function parseHead(first: string | undefined, source: string, cutShort = false, kinds: Kinds = BUILTIN_KINDS_REGISTRY): LogHead {
  if (first === undefined || first === '') throw new LogError(`${source}:1: empty log: no header line`);
  let headerJson: unknown;
  try {
    headerJson = JSON.parse(first);
  } catch {
    if (cutShort && /^\s*\{\s*"log"\s*:\s*"svasim"/.test(first)) {
      throw new LogError(`${source}:1: incomplete log: its header is cut short: ${ENDED_WRITING}; there is nothing to replay`);
    }
    throw new LogError(`${source}:1: not an svasim log: line 1 is not a JSON log header${source.endsWith('.json') ? ' (a scenario file? use svasim run)' : ''}`);
  }
  let chain: Upcaster[] = [];
  let closes = true;
  if (typeof headerJson === 'object' && headerJson !== null && (headerJson as { log?: unknown }).log === 'svasim') {
    const v = (headerJson as { version?: unknown }).version;
    if (typeof v === 'number' && v < 2) closes = false;
    if (typeof v === 'number' && v !== LOG_FORMAT_VERSION) {
      const found = chainFrom(v, LOG_FORMAT_VERSION);
      if (!found) throw new LogError(`${source}:1: log format version ${v} is not supported (this svasim reads versions 0 to ${LOG_FORMAT_VERSION})`);
      chain = found;
      for (const u of chain) headerJson = u.header(headerJson as Record<string, unknown>);
    }
  }
  const h = headerSchema.safeParse(headerJson);
  if (!h.success) throw new LogError(`${source}:1: not an svasim log header: ${firstIssue(h.error)}`);
  const pluginChanges = checkPlugins(h.data.plugins, kinds, source);
  let scenario: Scenario;
  try {
    scenario = { ...scenarioFromValue(h.data.scenario, `${source}:1 (header scenario)`, undefined, { kinds }), policy: h.data.policy };
  } catch (e) {
    // The scenario's own position (in its re-serialized JSON) means nothing here: keep the JSON path.
    if (e instanceof ScenarioError) {
      const what = e.message.replace(/^.*?\(header scenario\)(:\d+:\d+)?:\s*/, '');
      throw new LogError(`${source}:1: the header's scenario is invalid: scenario.${what}`);
    }
    throw e;
  }
  return { source, header: { ...h.data, scenario } as LogHeader, scenario, chain, closes, recordsAsIs: chain.every((u) => u.sameRecords === true), kinds, pluginChanges };
}

/** A line as the parser reads it: a record (and its line in the current format), or the closing record. */
export type ParsedLine = { readonly record: Delivered; readonly line: string } | { readonly closing: ClosingRecord };

/** What a log cut short is missing, for the one line that says so. */
export interface CutLog {
  readonly ending: LogEnding;
  /** Complete records in the log. */
  readonly records: number;
  /** The highest step with a record (-1: none). */
  readonly lastStep: number;
  /** The scenario's steps. */
  readonly steps: number;
  /** Messages the model still had to deliver at the log's end (known to replay only). */
  readonly pending?: number;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** How a run that left an incomplete log ended: killed or stopped, or its log writes failed (ENOSPC…). */
const ENDED_EARLY = 'the run ended early (it was stopped, or its log writes failed)';
const ENDED_WRITING = 'the run ended while writing it (it was stopped, or a write failed)';

/**
 * What is missing from an incomplete log, in words: "it ends at seq 24,377 in step 3 of 6, with no
 * closing record: the run ended early … (steps 4..5 have no record)". The one wording of a cut log:
 * replay, --until, report, inspect and diagram all say it with this function.
 */
export function incompleteWhy(c: CutLog): string {
  const { ending, records, lastStep, steps, pending } = c;
  const more: string[] = [];
  if (records > 0) {
    // Pending messages were never delivered (or, with a buffered log, not yet written): not in the log.
    if (pending !== undefined && pending > 0) {
      more.push(`step ${count(lastStep)} still had ${count(pending)} message${pending > 1 ? 's' : ''} pending, not in the log`);
    }
    const missing = steps - 1 - lastStep;
    if (missing > 0 && ending.kind !== 'closed') more.push(missing > 1 ? `steps ${count(lastStep + 1)}..${count(steps - 1)} have no record` : `step ${count(lastStep + 1)} has no record`);
  }
  const where = records === 0 ? 'header only, no records' : `it ends at seq ${count(records)} in step ${count(lastStep)} of ${count(steps)}`;
  const detail = more.length > 0 ? ` (${more.join('; ')})` : '';
  switch (ending.kind) {
    case 'cut':
      if (ending.what === 'record') return `${where}${detail}, and its last line is cut short (a record lost): ${ENDED_WRITING}`;
      if (ending.what === 'closing') return `${where}${detail}, and its closing record is cut short: ${ENDED_WRITING}`;
      if (ending.what === 'newline') return `${where}${detail}, and its closing record has no newline: ${ENDED_WRITING}`;
      if (records === 0) return `header only: no records and no closing record, ${ENDED_EARLY}`;
      return `${where}${detail}, with no closing record: ${ENDED_EARLY}`;
    case 'closed':
      return `${where}${detail}: its closing record says the run ended after ${count(ending.steps)} of the scenario's ${count(steps)} steps`;
    case 'unmarked':
      return `${where}${detail}: ${ENDED_EARLY}; log format 1 has no closing record, and its records stop short of the scenario's end`;
  }
}

/** What a parsed log is missing (before replay: no pending count). */
export function cutOf(log: Pick<ParsedLog, 'ending' | 'records' | 'scenario'>): CutLog {
  let lastStep = -1;
  for (const r of log.records) if (r.step > lastStep) lastStep = r.step;
  return { ending: log.ending, records: log.records.length, lastStep, steps: log.scenario.steps.length };
}

/** The one line of an incomplete log (exit 2): `file: incomplete log: …; --allow-truncated …`. */
export function incompleteError(source: string, c: CutLog, does: 'replays' | 'draws' = 'replays'): LogError {
  return incompleteLine(source, incompleteWhy(c), c.records, does);
}

/**
 * The same line from what is missing in words (`why`, from `incompleteWhy`) and the records it holds;
 * `does` is what `--allow-truncated` makes the command do with them (`diagram` draws, the rest replay).
 */
export function incompleteLine(source: string, why: string, records: number, does: 'replays' | 'draws' = 'replays'): LogError {
  const prefix = records === 0 ? `${does} it as an empty prefix` : `${does} its ${count(records)} complete record${records === 1 ? '' : 's'}`;
  return new LogError(`${source}: incomplete log: ${why}; --allow-truncated ${prefix}`);
}

/**
 * Checks records one line at a time, in order: envelope and payload schemas, contiguous seqs, causes
 * that point back, and actors and devices that exist at that point. Holds only what those checks need
 * (the set of actors), so a log can be streamed through it.
 */
export class RecordParser {
  /** Records accepted so far. */
  count = 0;
  /** The highest step of those records (-1: none yet). */
  maxStep = -1;
  /** What the last line cut short (dropped with `allowTruncated`) was: a record, or the closing record. */
  cut: 'record' | 'closing' | 'newline' | null = null;
  private readonly actors: Set<string>;
  private readonly devices: Set<string>;

  /** `from`: start after `count` records, with these actors already created (resuming at a checkpoint). */
  constructor(
    private readonly head: LogHead,
    from?: { readonly count: number; readonly actors: readonly string[] },
  ) {
    // Actors that exist so far: the fixed ones, then every mm and thread as its creation message arrives.
    this.actors = new Set<string>(['user', 'kernel', 'iommu', 'monitor', ...head.scenario.devices.map((d) => `wq:${d.name}`), ...(from?.actors ?? [])]);
    for (const a of head.scenario.actors ?? []) this.actors.add(`${head.kinds.get(a.kind)?.prefix ?? a.kind}:${a.name}`);
    this.devices = new Set(head.scenario.devices.map((d) => d.name));
    this.count = from?.count ?? 0;
  }

  /**
   * The record on line `lineNo`, and its line as the current format writes it; or the closing record.
   * `cutShort`: this is the file's last line and it has no newline — if it is not JSON it was cut short
   * (`null` with `allowTruncated`, else a LogError); a closing record without its newline is cut too.
   */
  parse(line: string, lineNo: number, cutShort: boolean, allowTruncated: boolean): ParsedLine | null {
    const { source, chain } = this.head;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      if (cutShort) {
        const what = this.head.closes && /^\s*\{\s*"end"/.test(line) ? 'closing' : 'record';
        return this.cutShort(what, lineNo, allowTruncated);
      }
      throw new LogError(`${source}:${lineNo}: malformed record: not JSON`);
    }
    if (this.head.closes && typeof json === 'object' && json !== null && Object.hasOwn(json, 'end')) {
      const closing = this.closing(json, lineNo, line);
      return cutShort ? this.cutShort('newline', lineNo, allowTruncated) : { closing };
    }
    for (const u of chain) json = typeof json === 'object' && json !== null ? u.record(json as Record<string, unknown>) : json;
    const env = envelope(json, source, lineNo, line);
    const { seq, type, from, to, cause, step, copy } = env;
    // The message: `type`, then the payload (every field but the envelope's), in one pass.
    const msg: Record<string, unknown> = { type };
    for (const k in env) {
      if (k === 'seq' || k === 'type' || k === 'from' || k === 'to' || k === 'cause' || k === 'step' || k === 'copy') continue;
      const v = (env as Record<string, unknown>)[k];
      // A "__proto__" field must stay a field (and be reported as unknown), not become the prototype.
      if (k === '__proto__') Object.defineProperty(msg, k, { value: v, enumerable: true, writable: true, configurable: true });
      else msg[k] = v;
    }
    let issue = messageIssue(msg as { type: string });
    if (issue === NOT_A_TYPE) {
      if (!this.head.kinds.knows(type)) throw new LogError(`${source}:${lineNo}: malformed record: ${messageTypeIssue(type) ?? `unknown message type "${type}"`}`);
      issue = this.head.kinds.check(msg as { type: string }) ?? null;
    }
    if (issue !== null) throw new LogError(`${source}:${lineNo}: malformed record: ${type}: ${(chain.length === 0 ? inexactNumber(json, line) : null) ?? issue}`);
    if (seq !== this.count + 1) {
      throw new LogError(`${source}:${lineNo}: damaged log: seq ${seq} where ${this.count + 1} was expected (a record is missing or out of order)`);
    }
    if (cause !== undefined && cause >= seq) throw new LogError(`${source}:${lineNo}: damaged log: seq ${seq} names cause ${cause}, which is not earlier`);
    const actors = this.actors;
    if ((type === 'mm.create' && to.startsWith('mm:')) || (type === 'thread.start' && to.startsWith('thread:')) || (type === 'file.open' && to.startsWith('file:')) || (!actors.has(to) && this.head.kinds.bornBy(to, type))) actors.add(to);
    if (!actors.has(from)) throw new LogError(`${source}:${lineNo}: damaged log: seq ${seq} involves ${from}, an actor that does not exist at that point`);
    if (!actors.has(to)) throw new LogError(`${source}:${lineNo}: damaged log: seq ${seq} involves ${to}, an actor that does not exist at that point`);
    const device = msg['device'];
    if (device !== undefined && !this.devices.has(device as string)) {
      throw new LogError(`${source}:${lineNo}: damaged log: seq ${seq} names device ${JSON.stringify(device)}, which the scenario does not have`);
    }
    const thread = msg['thread'];
    if (from === 'user' && cause === undefined && to.startsWith('thread:') && thread !== to.slice('thread:'.length)) {
      throw new LogError(`${source}:${lineNo}: damaged log: seq ${seq} is a syscall of thread ${JSON.stringify(thread)} delivered to ${to}`);
    }
    this.count++;
    if (step > this.maxStep) this.maxStep = step;
    const record: Delivered = { msg: msg as unknown as Message, from: from as Address, to: to as Address, cause, step, seq, ...(copy === true ? { copy } : {}) };
    return { record, line: this.head.recordsAsIs ? line : recordLine(record) };
  }

  /**
   * Count a record that is known to be well-formed and undamaged (one the model itself would write at
   * the next seq), keeping track of the actors it creates.
   */
  accept(type: string, to: string, step: number): void {
    if ((type === 'mm.create' && to.startsWith('mm:')) || (type === 'thread.start' && to.startsWith('thread:')) || (type === 'file.open' && to.startsWith('file:')) || this.head.kinds.bornBy(to, type)) this.actors.add(to);
    this.count++;
    if (step > this.maxStep) this.maxStep = step;
  }

  /** The last line, cut short: dropped (`null`) with `allowTruncated`, else the LogError that says so. */
  private cutShort(what: 'record' | 'closing' | 'newline', lineNo: number, allowTruncated: boolean): null {
    if (allowTruncated) {
      this.cut = what;
      return null;
    }
    const c: CutLog = { ending: { kind: 'cut', what }, records: this.count, lastStep: this.maxStep, steps: this.head.scenario.steps.length };
    throw new LogError(`${this.head.source}:${lineNo}: ${incompleteError(this.head.source, c).message.slice(this.head.source.length + 2)}`);
  }

  /** The closing record, checked: well-formed, and counting the records and steps before it. */
  private closing(json: object, lineNo: number, line: string): ClosingRecord {
    const where = `${this.head.source}:${lineNo}`;
    const c = closingSchema.safeParse(json);
    if (!c.success) throw new LogError(`${where}: malformed closing record: ${inexactNumber(json, line) ?? firstIssue(c.error)}`);
    const { records, steps } = c.data;
    if (records !== this.count) {
      throw new LogError(`${where}: damaged log: the closing record counts ${count(records)} records, but ${count(this.count)} precede it`);
    }
    if (steps !== this.maxStep + 1) {
      throw new LogError(
        `${where}: damaged log: the closing record says ${count(steps)} step${steps === 1 ? '' : 's'} ran${steps > 0 ? ` (step${steps === 1 ? ' 0' : `s 0..${count(steps - 1)}`})` : ''}, but the records ${this.maxStep < 0 ? 'are of none' : `reach step ${count(this.maxStep)}`}`,
      );
    }
    return c.data;
  }

  /** How the log ends, once its last line has been read (`closing`: the closing record read, if any). */
  ending(closing: ClosingRecord | null): LogEnding {
    if (this.cut !== null) return { kind: 'cut', what: this.cut };
    if (closing !== null) return { kind: 'closed', steps: closing.steps };
    return this.head.closes ? { kind: 'cut', what: 'end' } : { kind: 'unmarked' };
  }
}

/** A line after the closing record (blank lines at the very end excepted). */
function afterClosing(source: string, lineNo: number, closingAt: number): LogError {
  return new LogError(`${source}:${lineNo}: damaged log: a line after the closing record (line ${closingAt} ends the log)`);
}


/** Parse a log's text. `allowTruncated` accepts a last line cut short (a crash mid-write). */
export function parseLog(text: string, source: string, opts: ReadOptions = {}): ParsedLog {
  // A byte order mark (an editor's) is not part of the header (streamLog drops it too).
  const raw = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split('\n');
  const endsClean = text.endsWith('\n');
  if (endsClean) raw.pop();
  // Blank lines at the very end (an editor's, a shell's) are not records; elsewhere they are malformed.
  while (endsClean && raw.length > 1 && raw[raw.length - 1] === '') raw.pop();
  const head = parseHead(raw[0], source, raw.length === 1 && !endsClean, opts.kinds);
  const parser = new RecordParser(head);
  const records: Delivered[] = [];
  const lines: string[] = [];
  let closing: ClosingRecord | null = null;
  for (let i = 1; i < raw.length; i++) {
    const got = parser.parse(raw[i] ?? '', i + 1, i === raw.length - 1 && !endsClean, opts.allowTruncated === true);
    if (got === null) break;
    if ('closing' in got) {
      if (i + 1 < raw.length) throw afterClosing(source, i + 2, i + 1);
      closing = got.closing;
      break;
    }
    records.push(got.record);
    lines.push(got.line);
  }
  return { ...logFieldsOf(head), records, lines, truncated: parser.cut === 'record' ? 1 : 0, ending: parser.ending(closing) };
}

export function logFieldsOf(head: LogHead): Pick<ParsedLog, 'source' | 'header' | 'scenario' | 'otherModel' | 'upcastFrom' | 'kinds' | 'pluginChanges'> {
  const { source, header, scenario, chain, kinds, pluginChanges } = head;
  return { source, header, scenario, otherModel: header.model !== MODEL_VERSION, upcastFrom: chain.length === 0 ? null : (chain[0]?.from ?? null), kinds, pluginChanges };
}

/** A log read as a stream: its head now, its records one at a time (nothing kept). */
export interface LogStream {
  readonly log: Pick<ParsedLog, 'source' | 'header' | 'scenario' | 'otherModel' | 'upcastFrom' | 'kinds' | 'pluginChanges'>;
  /**
   * The next record, checked as `parseLog` checks it, or `null` at the end. `guess` is the message the
   * reader of the stream expects next: when the line is byte for byte that message as the writer would
   * log it at this seq, `guess` itself is returned, unparsed (a line the model itself would write is
   * well-formed and undamaged by construction). Any other line is parsed and checked.
   */
  next(guess?: RecordFields): Delivered | RecordFields | null;
  /** The line of the record `next` returned last, as the current format writes it. */
  line(): string;
  /** Close the file (at the end of the log it already is; call it when stopping before). */
  close(): void;
  /** At the end: 1 when a last line cut short was dropped (`allowTruncated`). */
  readonly truncated: number;
  /** How the log ends (once `next` has returned `null`). */
  ending(): LogEnding;
  /** The highest step of the records read so far (-1: none). */
  lastStep(): number;
}

/** A file's lines as byte ranges of one buffer, read in 1 MiB chunks. */
class ByteLines {
  buf = Buffer.allocUnsafe(1 << 20);
  /** The current line: `buf[start, end)`, without its newline; `cutShort` when the file ended without one. */
  start = 0;
  end = 0;
  cutShort = false;
  private from = 0;
  private to = 0;
  private eof = false;

  constructor(
    private readonly fd: number,
    private readonly path: string,
  ) {}

  /** Move to the next line; `false` at the end of the file. */
  next(): boolean {
    for (;;) {
      const nl = this.from < this.to ? this.buf.indexOf(10, this.from) : -1;
      if (nl >= 0 && nl < this.to) {
        this.start = this.from;
        this.end = nl;
        this.from = nl + 1;
        return true;
      }
      if (this.eof) {
        if (this.from === this.to) return false;
        this.start = this.from;
        this.end = this.to;
        this.from = this.to;
        this.cutShort = true;
        return true;
      }
      if (this.from > 0) {
        this.buf.copyWithin(0, this.from, this.to);
        this.to -= this.from;
        this.from = 0;
      }
      if (this.to === this.buf.length) {
        const bigger = Buffer.allocUnsafe(this.buf.length * 2);
        this.buf.copy(bigger, 0, 0, this.to);
        this.buf = bigger;
      }
      let n: number;
      try {
        n = readSync(this.fd, this.buf, this.to, this.buf.length - this.to, null);
      } catch (e) {
        this.close();
        throw fsError(this.path, e);
      }
      if (n === 0) this.close();
      else this.to += n;
    }
  }

  /** The current line as text. */
  text(): string {
    return this.buf.toString('utf8', this.start, this.end);
  }

  close(): void {
    if (this.eof) return;
    this.eof = true;
    closeSync(this.fd);
  }
}

/** Open `path` as a stream of checked records. */
export function streamLog(path: string, opts: ReadOptions = {}): LogStream {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw fsError(path, e);
  }
  const lines = new ByteLines(fd, path);
  let head: LogHead;
  try {
    const first = lines.next() ? lines.text() : undefined;
    // A byte order mark (an editor's) is not part of the header.
    head = parseHead(first?.charCodeAt(0) === 0xfeff ? first.slice(1) : first, path, lines.cutShort, opts.kinds);
  } catch (e) {
    lines.close();
    throw e;
  }
  const parser = new RecordParser(head);
  // Lines can be compared with the model's records only when they are in the current format.
  const encoder = head.recordsAsIs ? new RecordEncoder() : null;
  const allowTruncated = opts.allowTruncated === true;
  let lineNo = 1;
  /** The first of a run of blank lines: fine at the very end, malformed before a record. */
  let blankAt: number | null = null;
  let last: { line: string } | RecordFields | null = null;
  let closing: ClosingRecord | null = null;
  let ended = false;
  /** After the closing record: only blank lines may follow. */
  const rest = (closingAt: number): void => {
    while (lines.next()) {
      lineNo++;
      if (lines.start !== lines.end) throw afterClosing(path, lineNo, closingAt);
    }
  };
  const stream: LogStream = {
    log: logFieldsOf(head),
    truncated: 0,
    next(guess) {
      try {
        for (;;) {
          if (ended || !lines.next()) {
            ended = true;
            return null;
          }
          lineNo++;
          if (lines.start === lines.end && !lines.cutShort) {
            blankAt ??= lineNo;
            continue;
          }
          if (blankAt !== null) throw new LogError(`${path}:${blankAt}: malformed record: not JSON`);
          if (guess !== undefined && encoder !== null && !lines.cutShort && encoder.matches(guess, parser.count + 1, lines.buf, lines.start, lines.end)) {
            parser.accept(guess.msg.type, guess.to, guess.step);
            last = guess;
            return guess;
          }
          const got = parser.parse(lines.text(), lineNo, lines.cutShort, allowTruncated);
          if (got === null || 'closing' in got) {
            if (got !== null) {
              closing = got.closing;
              rest(lineNo);
            }
            (stream as { truncated: number }).truncated = parser.cut === 'record' ? 1 : 0;
            lines.close();
            ended = true;
            return null;
          }
          last = got;
          return got.record;
        }
      } catch (e) {
        lines.close();
        throw e;
      }
    },
    close() {
      lines.close();
    },
    ending() {
      if (!ended) throw new Error('LogStream.ending() before the end of the log');
      return parser.ending(closing);
    },
    lastStep() {
      return parser.maxStep;
    },
    line() {
      if (last === null) throw new Error('LogStream.line() before a record');
      if ('line' in last) return last.line;
      return recordLine({ ...last, seq: parser.count });
    },
  };
  return stream;
}

function fsError(path: string, e: unknown): LogError {
  const code = e instanceof Error && 'code' in e ? String(e.code) : '';
  const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : code || String(e);
  return new LogError(`${path}: cannot read file: ${why}`);
}

/** The text of a log file; an unreadable file is a LogError. */
export function readLogText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw fsError(path, e);
  }
}

/** Read and check a whole log file (see {@link streamLog} to read one record at a time). */
export function readLog(path: string, opts: ReadOptions = {}): ParsedLog {
  return parseLog(readLogText(path), path, opts);
}
