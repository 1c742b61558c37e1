/**
 * The event log's line format (SPEC §7): a header line, then one JSON record per delivered message:
 * `{"seq":N,"type":"…","from":"…","to":"…","cause":M,"step":K, …payload}`.
 */
import type { Scenario } from '../scenario/types.ts';
import type { Delivered } from '../runtime/system.ts';
import { LOG_FORMAT_VERSION, MODEL_VERSION } from '../version.ts';

export interface LogHeader {
  readonly log: 'svasim';
  readonly version: number;
  readonly model: string;
  readonly policy: Scenario['policy'];
  readonly scenario: Scenario;
}

/** The header: the scenario as written (its own policy) and the effective policy of this run. */
export function headerLine(scenario: Scenario, policy: Scenario['policy']): string {
  const header: LogHeader = { log: 'svasim', version: LOG_FORMAT_VERSION, model: MODEL_VERSION, policy, scenario };
  return JSON.stringify(header);
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
 * Where a message's payload sits in `JSON.stringify(msg)`: messages are built with `type` first and the
 * routing `to` last, so the payload is that JSON with both ends trimmed. `null` when the message is laid
 * out otherwise (the caller then writes its fields one by one).
 */
export function payloadSpan(type: string, json: string, routedTo: string | undefined): readonly [number, number] | null {
  const suffixLength = routedTo === undefined ? 1 : q(routedTo).length + 7; // ,"to":…}
  const prefixLength = type.length + 10; // {"type":"…"
  if (
    json.charCodeAt(prefixLength - 1) === 34 &&
    json.startsWith(type, 9) &&
    (routedTo === undefined || json.lastIndexOf(',"to":') === json.length - suffixLength)
  ) {
    return [prefixLength, json.length - suffixLength];
  }
  return null;
}

/** The payload fields one by one (`,"k":v…`), for a message `payloadSpan` cannot trim. */
export function payloadFields(msg: object): string {
  let s = '';
  const m = msg as Record<string, unknown>;
  for (const k in m) {
    if (k === 'type' || k === 'to') continue;
    const v = m[k];
    if (v === undefined) continue;
    s += `,${JSON.stringify(k)}:${JSON.stringify(v)}`;
  }
  return s;
}

/**
 * One record as a JSON line (without the newline). Keys in the SPEC's order; payload after `step`.
 * (The log writer encodes the same bytes straight into its buffer: src/log/writer.ts.)
 */
export function recordLine(d: Delivered): string {
  const type = d.msg.type;
  let head = '{"seq":' + digits(d.seq) + ',"type":"' + type + '","from":' + q(d.from) + ',"to":' + q(d.to);
  if (d.cause !== undefined) head += ',"cause":' + digits(d.cause);
  head += ',"step":' + digits(d.step);
  const json = JSON.stringify(d.msg);
  const span = payloadSpan(type, json, (d.msg as { to?: string }).to);
  return head + (span ? json.slice(span[0], span[1]) : payloadFields(d.msg)) + '}';
}

/** The payload of a message as shown in traces: every field but `type` and the routing `to`. */
export function payloadOf(d: Delivered): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const m = d.msg as unknown as Record<string, unknown>;
  for (const k in m) if (k !== 'type' && k !== 'to' && m[k] !== undefined) out[k] = m[k];
  return out;
}
