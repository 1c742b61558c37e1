/**
 * The event log's line format (SPEC §7): a header line, then one JSON record per delivered message:
 * `{"seq":N,"type":"…","from":"…","to":"…","cause":M,"step":K, …payload}`, then (format 2) a closing
 * record `{"end":"svasim","records":N,"steps":S}` when the run ended.
 */
import type { Scenario } from '../scenario/types.ts';
import type { Kinds } from '../runtime/kinds.ts';
import type { SchedulerDescription } from '../runtime/scheduler.ts';
import type { Delivered } from '../runtime/system.ts';
import { LOG_FORMAT_VERSION, MODEL_VERSION } from '../version.ts';

/** A log's first line: format version, model version, policy, the scenario, plugins, scheduler. */
export interface LogHeader {
  readonly log: 'svasim';
  readonly version: number;
  readonly model: string;
  readonly policy: Scenario['policy'];
  readonly scenario: Scenario;
  /**
   * The plugins (or the library program) whose kinds the run used, each with the kinds it registered:
   * a reader without them refuses the log. Absent when only svasim's own kinds ran (older logs too).
   */
  readonly plugins?: readonly PluginRef[];
  /** The schedule that chose the delivery order, when not FIFO (a seeded random one: its seed). */
  readonly scheduler?: SchedulerDescription;
}

/** A plugin as a log header names it. */
export interface PluginRef {
  readonly name?: string;
  readonly version?: string;
  readonly kinds: readonly string[];
}

/** The plugins of a registry's kinds, grouped by origin in registration order (kinds without one together). */
export function pluginRefs(kinds: Kinds): PluginRef[] {
  const out: { name?: string; version?: string; kinds: string[] }[] = [];
  for (const d of kinds.registered()) {
    const o = d.origin;
    let ref = out.find((r) => r.name === o?.name && r.version === o?.version);
    if (ref === undefined) {
      ref = o ? { name: o.name, version: o.version, kinds: [] } : { kinds: [] };
      out.push(ref);
    }
    ref.kinds.push(d.name);
  }
  return out;
}

/** The header: the scenario as written (its own policy) and the effective policy of this run. */
export function headerLine(scenario: Scenario, policy: Scenario['policy'], plugins: readonly PluginRef[] = [], scheduler?: SchedulerDescription): string {
  const header: LogHeader = {
    log: 'svasim',
    version: LOG_FORMAT_VERSION,
    model: MODEL_VERSION,
    policy,
    scenario,
    ...(plugins.length > 0 ? { plugins } : {}),
    ...(scheduler === undefined ? {} : { scheduler }),
  };
  return JSON.stringify(header);
}

/**
 * The closing record (format 2): the last line of a finished run's log, written when the run ends,
 * whatever its verdict. It is how a reader tells a complete log from one cut short (a killed run, a
 * full disk) without guessing: `records` counts the records before it, `steps` the steps that ran.
 * Nothing else is in it, so the same run still gives a byte-identical log.
 */
export interface ClosingRecord {
  readonly end: 'svasim';
  readonly records: number;
  readonly steps: number;
}

/** The closing record's line. */
export function closingLine(records: number, steps: number): string {
  const closing: ClosingRecord = { end: 'svasim', records, steps };
  return JSON.stringify(closing);
}

/** JSON string literals of addresses, cached: a run has few distinct ones and they recur constantly. */
const quoted = new Map<string, string>();
function q(a: string): string {
  let v = quoted.get(a);
  if (v === undefined) {
    v = JSON.stringify(a);
    if (quoted.size < 100_000) quoted.set(a, v);
  }
  return v;
}

/**
 * A number's decimal digits. `JSON.stringify` writes them directly, where `String(n)` or a template goes
 * through V8's number-to-string cache: a heap-wide table in the old generation that would keep every
 * new seq's string alive past young-generation collections (promoted, then collected by full GCs:
 * measured ~5 MB promoted per young collection in a long run, against ~0.1 MB without).
 */
const digits = (n: number): string => JSON.stringify(n);

/**
 * The payload fields one by one (`,"k":v…`): the message's own enumerable fields but `type` and the
 * routing `to`, in order, each value as `JSON.stringify` writes it; a field it would leave out of an
 * object (undefined, a function, a symbol) is left out.
 */
export function payloadFields(msg: object): string {
  let s = '';
  const m = msg as Record<string, unknown>;
  for (const k of Object.keys(m)) {
    if (k === 'type' || k === 'to') continue;
    const v: string | undefined = JSON.stringify(m[k]);
    if (v === undefined) continue;
    s += `,${JSON.stringify(k)}:${v}`;
  }
  return s;
}

/** A record's type and addresses are strings: anything else is a programming error. */
export function checkEnvelope(d: { readonly msg: { readonly type: unknown }; readonly from: unknown; readonly to: unknown }): void {
  if (typeof d.msg.type !== 'string' || typeof d.from !== 'string' || typeof d.to !== 'string') {
    throw new TypeError(`a log record needs a string type, from and to (got ${typeof d.msg.type}, ${typeof d.from}, ${typeof d.to})`);
  }
}

/**
 * One record as a JSON line (without the newline). Keys in the SPEC's order; payload after `step`.
 * (The log writer encodes the same bytes straight into its buffer: src/log/writer.ts.)
 */
export function recordLine(d: Delivered): string {
  checkEnvelope(d);
  let head = '{"seq":' + digits(d.seq) + ',"type":' + q(d.msg.type) + ',"from":' + q(d.from) + ',"to":' + q(d.to);
  if (d.cause !== undefined) head += ',"cause":' + digits(d.cause);
  head += ',"step":' + digits(d.step);
  if (d.copy === true) head += ',"copy":true';
  return head + payloadFields(d.msg) + '}';
}

/** The payload of a message as shown in traces: every field but `type` and the routing `to`. */
export function payloadOf(d: Delivered): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const m = d.msg as unknown as Record<string, unknown>;
  for (const k of Object.keys(m)) if (k !== 'type' && k !== 'to' && m[k] !== undefined) out[k] = m[k];
  return out;
}
