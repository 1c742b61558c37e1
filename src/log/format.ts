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
 * One record as a JSON line (without the newline). Keys in the SPEC's order; payload after `step`.
 * Fast path: messages are built with `type` first and the routing `to` last, so one JSON.stringify of the
 * message gives the payload by trimming both ends; anything else takes the general path.
 */
export function recordLine(d: Delivered): string {
  const type = d.msg.type;
  let head = `{"seq":${d.seq},"type":"${type}","from":${q(d.from)},"to":${q(d.to)}`;
  if (d.cause !== undefined) head += `,"cause":${d.cause}`;
  head += `,"step":${d.step}`;
  const json = JSON.stringify(d.msg);
  const routedTo = (d.msg as { to?: string }).to;
  const suffixLength = routedTo === undefined ? 1 : q(routedTo).length + 7; // ,"to":…}
  const prefixLength = type.length + 10; // {"type":"…"
  if (
    json.charCodeAt(prefixLength - 1) === 34 &&
    json.startsWith(type, 9) &&
    (routedTo === undefined || json.lastIndexOf(',"to":') === json.length - suffixLength)
  ) {
    return head + json.slice(prefixLength, json.length - suffixLength) + '}';
  }
  let s = head;
  const m = d.msg as unknown as Record<string, unknown>;
  for (const k in m) {
    if (k === 'type' || k === 'to') continue;
    const v = m[k];
    if (v === undefined) continue;
    s += `,${JSON.stringify(k)}:${JSON.stringify(v)}`;
  }
  return s + '}';
}

/** The payload of a message as shown in traces: every field but `type` and the routing `to`. */
export function payloadOf(d: Delivered): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const m = d.msg as unknown as Record<string, unknown>;
  for (const k in m) if (k !== 'type' && k !== 'to' && m[k] !== undefined) out[k] = m[k];
  return out;
}
