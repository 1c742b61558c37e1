/**
 * Scenario loading: JSON with positions -> schema (schema.ts) -> cross-reference checks -> defaults.
 *
 * Every user mistake in a scenario is reported, in document order, one line each:
 * `<source>:<line>:<col>: <json path>: <message>` (up to `MAX_REPORTED`, then how many more), in one
 * `ScenarioError` whose message is the lines the CLI prints — so one run shows every fix to make.
 */
import { BUILTIN_KINDS_REGISTRY, type Kinds } from '../runtime/kinds.ts';
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import {
  DEFAULT_CPU, DEFAULT_PASID_RANGE, DEFAULT_POLICY, LAM_POLICIES, MESSAGE_TYPES, PASID_MAX, PASID_POLICIES,
  type LamPolicy, type PasidPolicy, type Policy,
} from '../../machines/protocol.ts';
import { describe, FOREIGN_TYPE, orList, scenarioFileSchema, stepFields, type ScenarioFile } from './schema.ts';
import { didYouMean, nearestNames } from './suggest.ts';
import { DEFAULT_AUTO_COMPLETE, DEFAULT_WQ_SIZE, OPS, type DeviceConfig, type Scenario, type Step } from './types.ts';

export interface ScenarioErrorLocation {
  readonly source: string;
  readonly line: number;
  readonly column: number;
  /** `steps[3].device`, `(root)`; absent for invalid JSON. */
  readonly path?: string;
}

/** One mistake found in a scenario: its line as printed, and where it is. */
export interface ScenarioIssue {
  readonly message: string;
  readonly location: ScenarioErrorLocation;
}

/**
 * User mistakes in a scenario or a policy override; `message` is what to show: one line per mistake.
 * `location` is the first mistake's; `issues` holds every mistake found (also those beyond the cap).
 */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(
    message: string,
    readonly location?: ScenarioErrorLocation,
    readonly issues: readonly ScenarioIssue[] = location === undefined ? [] : [{ message, location }],
  ) {
    super(message);
  }
}

/** At most this many mistakes are printed, then "… and N more": a file of wrong shape would fill the screen. */
export const MAX_REPORTED = 20;

// ---------------------------------------------------------------------------------------------------
// JSON with positions

type Seg = string | number;

/** Where a JSON value sits in the text, and where its children do. */
interface PosNode {
  readonly start: number;
  /** Offset just past the value. */
  readonly end: number;
  readonly props?: ReadonlyMap<string, { readonly keyStart: number; readonly node: PosNode }>;
  readonly items?: readonly PosNode[];
  /**
   * A number's text as written, when the number it reads as prints otherwise (`9007199254740993`
   * reads as 9007199254740992, `1e400` as Infinity, `1.0` as 1): errors echo what the user wrote.
   */
  readonly raw?: string;
}

interface Issue {
  readonly path: readonly Seg[];
  readonly message: string;
  /** Where the line:col points. */
  readonly at: number;
  /** Document-order sort key (a missing field sorts at the end of its object, after what is in it). */
  readonly order: number;
}

class JsonSyntaxError extends Error {
  constructor(readonly offset: number, message: string) {
    super(message);
  }
}

const MAX_DEPTH = 256;
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const LITERALS: readonly (readonly [string, boolean | null])[] = [['true', true], ['false', false], ['null', null]];

/** Strict JSON (RFC 8259: no comments, no trailing commas), keeping each value's position. Duplicate keys are reported as issues; the last one wins. */
function parseJson(text: string): { value: unknown; node: PosNode; duplicates: Issue[] } {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  const duplicates: Issue[] = [];
  const fail = (message: string, at = i): never => {
    throw new JsonSyntaxError(at, message);
  };
  const skipWs = (): void => {
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    }
  };
  const isComment = (): boolean => text[i] === '/' && (text[i + 1] === '/' || text[i + 1] === '*');
  /** Fails with `message`, unless end of input or a comment explains the problem better. */
  const expected = (message: string): never => {
    if (i >= n) return fail('unexpected end of input');
    return fail(isComment() ? 'comments are not allowed' : message);
  };
  const unexpected = (): never => {
    if (i >= n) return fail('unexpected end of input');
    const c = text[i] ?? '';
    if (isComment()) return fail('comments are not allowed');
    if (c === "'") return fail('strings must use double quotes');
    const word = /[A-Za-z_$][\w$]*/y;
    word.lastIndex = i;
    const m = word.exec(text);
    if (m) return fail(`unexpected token ${JSON.stringify(m[0])}`);
    return fail(`unexpected character ${JSON.stringify(c)}`);
  };

  const parseString = (): string => {
    const start = i;
    i++; // opening quote
    let out = '';
    let chunk = i;
    for (;;) {
      if (i >= n) return fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(chunk, i);
        i++;
        return out;
      }
      if (c === 0x5c) {
        out += text.slice(chunk, i);
        const e = text[i + 1];
        if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
          out += ESCAPES[e];
          i += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          return fail('invalid escape sequence in string');
        }
        chunk = i;
        continue;
      }
      if (c === 0x0a || c === 0x0d) return fail('unterminated string', start);
      if (c < 0x20) return fail('control character in string');
      i++;
    }
  };

  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const parseNumber = (): { value: number; raw: string } => {
    const start = i;
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m || /[\d.eE+-]/.test(text[start + m[0].length] ?? '')) return fail('invalid number', start);
    i += m[0].length;
    return { value: Number(m[0]), raw: m[0] };
  };

  const parseValue = (path: Seg[], depth: number): { value: unknown; node: PosNode } => {
    if (depth > MAX_DEPTH) return fail('nesting too deep');
    const start = i;
    const c = text[i];
    if (c === '{') {
      i++;
      const entries: [string, unknown][] = [];
      const props = new Map<string, { keyStart: number; node: PosNode }>();
      skipWs();
      if (text[i] === '}') {
        i++;
        return { value: {}, node: { start, end: i, props } };
      }
      for (;;) {
        if (text[i] !== '"') return expected('expected a property name in double quotes');
        const keyStart = i;
        const key = parseString();
        skipWs();
        if (text[i] !== ':') return expected("expected ':' after property name");
        i++;
        skipWs();
        const child = parseValue([...path, key], depth + 1);
        if (props.has(key)) {
          duplicates.push({ path: [...path, key], message: `duplicate field ${JSON.stringify(key)}`, at: keyStart, order: keyStart });
        }
        props.set(key, { keyStart, node: child.node });
        entries.push([key, child.value]);
        skipWs();
        if (text[i] === ',') {
          const comma = i;
          i++;
          skipWs();
          if (text[i] === '}') return fail('trailing comma is not allowed', comma);
          continue;
        }
        if (text[i] === '}') {
          i++;
          // fromEntries defines own properties (a "__proto__" key stays a key); later duplicates win.
          return { value: Object.fromEntries(entries), node: { start, end: i, props } };
        }
        return expected("expected ',' or '}' after property value");
      }
    }
    if (c === '[') {
      i++;
      const values: unknown[] = [];
      const items: PosNode[] = [];
      skipWs();
      if (text[i] === ']') {
        i++;
        return { value: values, node: { start, end: i, items } };
      }
      for (;;) {
        const child = parseValue([...path, items.length], depth + 1);
        values.push(child.value);
        items.push(child.node);
        skipWs();
        if (text[i] === ',') {
          const comma = i;
          i++;
          skipWs();
          if (text[i] === ']') return fail('trailing comma is not allowed', comma);
          continue;
        }
        if (text[i] === ']') {
          i++;
          return { value: values, node: { start, end: i, items } };
        }
        return expected("expected ',' or ']' after array element");
      }
    }
    let value: unknown;
    if (c === '"') value = parseString();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      const num = parseNumber();
      return { value: num.value, node: String(num.value) === num.raw ? { start, end: i } : { start, end: i, raw: num.raw } };
    } else {
      const literal = LITERALS.find(([word]) => text.startsWith(word, i) && !/[\w$]/.test(text[i + word.length] ?? ''));
      if (literal === undefined) return unexpected();
      value = literal[1];
      i += literal[0].length;
    }
    return { value, node: { start, end: i } };
  };

  skipWs();
  const root = parseValue([], 0);
  skipWs();
  if (i < n) expected('unexpected content after the JSON value');
  return { ...root, duplicates };
}

/** 1-based line and column (UTF-16 units) of an offset; CRLF, LF and CR all end a line. */
function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < offset && k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(k + 1) !== 0x0a)) {
      line++;
      lineStart = k + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** `steps[3].device`, `final.refs["1"]`, `(root)`. */
export function formatPath(path: readonly Seg[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENT.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function nodeAt(root: PosNode, path: readonly Seg[]): PosNode | undefined {
  let node: PosNode | undefined = root;
  for (const seg of path) {
    if (node === undefined) return undefined;
    node = typeof seg === 'number' ? node.items?.[seg] : node.props?.get(seg)?.node;
  }
  return node;
}

function valueAt(root: unknown, path: readonly Seg[]): unknown {
  let v = root;
  for (const seg of path) {
    if (typeof seg === 'number') v = Array.isArray(v) ? v[seg] : undefined;
    else v = isObject(v) && Object.hasOwn(v, seg) ? v[seg] : undefined;
  }
  return v;
}

/** The numbers under `node` (itself included) whose text differs from how they print, in document order. */
function rawNumbers(node: PosNode | undefined, out: PosNode[] = []): PosNode[] {
  if (node === undefined) return out;
  if (node.raw !== undefined) out.push(node);
  const children = node.items ?? (node.props ? [...node.props.values()].map((p) => p.node).sort((a, b) => a.start - b.start) : []);
  for (const c of children) rawNumbers(c, out);
  return out;
}

/**
 * `message` with each number of the value at `node` echoed as written in the file, not as JavaScript
 * prints the double it reads as (`got 9007199254740993`, not `got 9007199254740992`).
 */
function asWritten(message: string, node: PosNode | undefined): string {
  let out = message;
  let from = 0;
  for (const n of rawNumbers(node)) {
    if (n.raw === undefined) continue;
    const shown = String(Number(n.raw));
    // The number where it stands alone (not inside a longer number).
    const re = new RegExp(`(?<![\\d.])${shown.replace(/[.+]/g, '\\$&')}(?![\\d.])`, 'g');
    re.lastIndex = from;
    const m = re.exec(out);
    if (m === null) continue;
    out = out.slice(0, m.index) + n.raw + out.slice(m.index + shown.length);
    from = m.index + n.raw.length;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An issue at a value (`key: false`) or at a property's key (`key: true`). */
function issueAt(root: PosNode, path: readonly Seg[], message: string, key = false): Issue {
  const last = path.at(-1);
  const parent = nodeAt(root, path.slice(0, -1));
  const at = key && typeof last === 'string' ? parent?.props?.get(last)?.keyStart : nodeAt(root, path)?.start;
  const offset = at ?? parent?.start ?? 0;
  return { path, message, at: offset, order: offset };
}

// ---------------------------------------------------------------------------------------------------
// Validation

/**
 * The schema's issues, placed in the text. A missing required field next to an unknown field that is a
 * misspelling of it (`"thred"` for `"thread"`) is one mistake: reported once, at the unknown field,
 * with the name it was meant to be.
 */
function schemaIssues(zodIssues: readonly z.core.$ZodIssue[], value: unknown, root: PosNode): Issue[] {
  const issues: Issue[] = [];
  const unknown: { parent: string; key: string; path: Seg[] }[] = [];
  const missing: { parent: string; field: string; path: Seg[] }[] = [];
  for (const iss of zodIssues) {
    const path = iss.path.map((seg): Seg => (typeof seg === 'number' ? seg : String(seg)));
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) unknown.push({ parent: JSON.stringify(path), key, path: [...path, key] });
      continue;
    }
    const last = path.at(-1);
    const parentPath = path.slice(0, -1);
    const parentValue = valueAt(value, parentPath);
    if (typeof last === 'string' && isObject(parentValue) && !Object.hasOwn(parentValue, last)) {
      missing.push({ parent: JSON.stringify(parentPath), field: last, path });
      continue;
    }
    issues.push(issueAt(root, path, iss.message));
  }
  const meant = new Map<(typeof unknown)[number], string>();
  for (const m of missing) {
    const typo = unknown.find((u) => u.parent === m.parent && !meant.has(u) && nearestNames(u.key, [m.field]).length > 0);
    if (typo !== undefined) {
      meant.set(typo, m.field);
      continue;
    }
    const parent = nodeAt(root, m.path.slice(0, -1));
    issues.push({ path: m.path, message: `missing required field ${JSON.stringify(m.field)}`, at: parent?.start ?? 0, order: (parent?.end ?? 1) - 1 });
  }
  for (const u of unknown) {
    const field = meant.get(u);
    // Not a missing required field: an optional one of a step may still be near (`cloexex`).
    const near = field === undefined ? didYouMean(u.key, optionalStepFields(value, u.path.slice(0, -1))) : ` (did you mean ${JSON.stringify(field)}?)`;
    issues.push(issueAt(root, u.path, `unknown field ${JSON.stringify(u.key)}${near}`, true));
  }
  return issues;
}

/** The fields a step at `path` takes that it does not have yet (none when `path` is not a step). */
function optionalStepFields(value: unknown, path: readonly Seg[]): readonly string[] {
  if (path.length !== 2 || path[0] !== 'steps' || typeof path[1] !== 'number') return [];
  const step = valueAt(value, path);
  return isObject(step) ? stepFields(step.op).filter((f) => !Object.hasOwn(step, f)) : [];
}

const CREATES: Readonly<Record<string, { field: 'process' | 'new'; kind: 'process' | 'thread' }>> = {
  spawn: { field: 'process', kind: 'process' },
  clone: { field: 'new', kind: 'thread' },
  fork: { field: 'new', kind: 'process' },
};

/**
 * Cross-references, checked on the raw value so that they are ordered with the schema's issues (a value
 * of the wrong type is the schema's to report and is skipped here).
 */
function referenceIssues(value: unknown, root: PosNode, kinds: Kinds): Issue[] {
  if (!isObject(value)) return [];
  const issues: Issue[] = [];
  const at = (path: Seg[], message: string, key = false): void => void issues.push(issueAt(root, path, message, key));

  const devices = new Map<string, number>();
  const rawDevices = Array.isArray(value['devices']) ? value['devices'] : [];
  rawDevices.forEach((d: unknown, i) => {
    if (!isObject(d)) return;
    const name = d['name'];
    if (typeof name === 'string') {
      const first = devices.get(name);
      if (first !== undefined) at(['devices', i, 'name'], `duplicate device ${JSON.stringify(name)} (already declared at devices[${first}])`);
      else devices.set(name, i);
    }
    const wqSize = d['wqSize'] === undefined ? DEFAULT_WQ_SIZE : d['wqSize'];
    const threshold = d['threshold'];
    if (Number.isSafeInteger(wqSize) && Number.isSafeInteger(threshold) && (threshold as number) > (wqSize as number)) {
      at(['devices', i, 'threshold'], `threshold ${String(threshold)} exceeds wqSize ${String(wqSize)}`);
    }
    const kind = d['kind'];
    if (typeof kind === 'string' && kind !== 'wq' && kinds.get(kind)?.device !== true) {
      at(['devices', i, 'kind'], unknownKind(kind, kinds, true));
    } else if (typeof kind === 'string' && kind !== 'wq') {
      const bad = kinds.checkOptions(kind, d['options']);
      if (bad) at(['devices', i, 'options', ...bad[0]], bad[1]);
    } else if (d['options'] !== undefined) {
      at(['devices', i, 'options'], "only a registered device model takes options (this device is svasim's work queue)");
    }
  });
  const rawActors = Array.isArray(value['actors']) ? value['actors'] : [];
  const actorAt = new Map<string, number>();
  rawActors.forEach((a: unknown, i) => {
    if (!isObject(a)) return;
    const kind = a['kind'];
    const k = typeof kind === 'string' ? kinds.get(kind) : undefined;
    if (typeof kind === 'string' && (k === undefined || k.builtin || k.device)) at(['actors', i, 'kind'], unknownKind(kind, kinds, false));
    else if (typeof kind === 'string') {
      const bad = kinds.checkOptions(kind, a['options']);
      if (bad) at(['actors', i, 'options', ...bad[0]], bad[1]);
    }
    const name = a['name'];
    if (typeof name === 'string' && k?.prefix !== undefined) {
      const address = `${k.prefix}:${name}`;
      const first = actorAt.get(address);
      if (first !== undefined) at(['actors', i, 'name'], `duplicate actor ${address} (already declared at actors[${first}])`);
      else actorAt.set(address, i);
    }
  });

  const steps: unknown[] = Array.isArray(value['steps']) ? value['steps'] : [];
  const created = new Map<string, { step: number; kind: 'process' | 'thread' }>();
  const knownOps: readonly string[] = OPS;
  steps.forEach((s, i) => {
    if (!isObject(s)) return;
    const op = s['op'];
    const creates = typeof op === 'string' ? CREATES[op] : undefined;
    if (creates) {
      const name = s[creates.field];
      if (typeof name !== 'string') return;
      const first = created.get(name);
      if (first !== undefined) at(['steps', i, creates.field], `duplicate name ${JSON.stringify(name)} (already created by steps[${first.step}])`);
      else created.set(name, { step: i, kind: creates.kind });
    } else if (typeof op !== 'string' || !knownOps.includes(op)) {
      // An unknown op is reported by the schema; don't also call the names it may create unknown.
      for (const field of ['process', 'new']) {
        const name = s[field];
        if (typeof name === 'string' && !created.has(name)) created.set(name, { step: i, kind: 'thread' });
      }
    }
  });
  // Message types: svasim's (the schema checked them) or a registered kind's.
  const checkTypes = (list: unknown, path: Seg[]): void => {
    if (!Array.isArray(list)) return;
    list.forEach((t: unknown, j) => {
      if (typeof t !== 'string' || kinds.knows(t) || !FOREIGN_TYPE.test(t)) return;
      const known = [...MESSAGE_TYPES, ...kinds.messageTypes()];
      const near = didYouMean(t, known);
      at([...path, j], `unknown message type ${JSON.stringify(t)}${near !== '' ? near : ` (expected one of ${known.join(', ')})`}`);
    });
  };
  checkTypes(value['forbid'], ['forbid']);
  steps.forEach((s, i) => {
    if (!isObject(s)) return;
    const e = s['expect'];
    if (isObject(e)) {
      checkTypes(e['events'], ['steps', i, 'expect', 'events']);
      checkTypes(e['noEvents'], ['steps', i, 'expect', 'noEvents']);
    }
    const thread = s['thread'];
    if (typeof thread === 'string' && !created.has(thread)) at(['steps', i, 'thread'], `unknown thread ${JSON.stringify(thread)}`);
    if (s['op'] === 'close' && (s['fd'] === undefined) === (s['device'] === undefined)) {
      at(['steps', i], s['fd'] === undefined ? 'close takes fd (a descriptor) or device (every descriptor and the portal of it): neither is given' : 'close takes fd or device, not both');
    }
    const device = s['device'];
    if (typeof device === 'string' && !devices.has(device)) at(['steps', i, 'device'], `unknown device ${JSON.stringify(device)}`);
  });

  const final = value['final'];
  if (isObject(final)) {
    const pasid = final['pasid'];
    if (isObject(pasid)) {
      for (const name of Object.keys(pasid)) {
        const c = created.get(name);
        if (c === undefined) at(['final', 'pasid', name], `unknown process ${JSON.stringify(name)}`, true);
        else if (c.kind !== 'process') at(['final', 'pasid', name], `${JSON.stringify(name)} is a thread created by clone, not a process`, true);
      }
    }
    const msr = final['msr'];
    if (isObject(msr)) {
      for (const name of Object.keys(msr)) {
        if (!created.has(name)) at(['final', 'msr', name], `unknown thread ${JSON.stringify(name)}`, true);
      }
    }
    const refs = final['refs'];
    if (isObject(refs)) {
      for (const key of Object.keys(refs)) {
        const n = /^[1-9]\d*$/.test(key) ? Number(key) : 0;
        if (n < 1 || n > PASID_MAX) {
          at(['final', 'refs', key], `invalid PASID key ${JSON.stringify(key)} (expected a decimal PASID between 1 and ${PASID_MAX})`, true);
        }
      }
    }
  }
  return issues;
}

// ---------------------------------------------------------------------------------------------------
// Normalization

function normalize(file: ScenarioFile, override: Partial<Policy> | undefined): Scenario {
  const devices = (file.devices ?? []).map((d): DeviceConfig => {
    const wqSize = d.wqSize ?? DEFAULT_WQ_SIZE;
    const config: DeviceConfig = {
      name: d.name, wqSize, threshold: d.threshold ?? wqSize, autoComplete: d.autoComplete ?? DEFAULT_AUTO_COMPLETE,
      ...(d.userSubmissionSafe === false ? { userSubmissionSafe: false } : {}),
    };
    // A device of svasim's own kind stays as it always was (logs of earlier versions compare equal).
    if (d.kind === undefined || d.kind === 'wq') return config;
    return { ...config, kind: d.kind, ...(d.options === undefined ? {} : { options: d.options }) };
  });
  const steps: Step[] = file.steps;
  return {
    scenario: 1,
    name: file.name,
    ...(file.description === undefined ? {} : { description: file.description }),
    policy: {
      pasid: override?.pasid ?? file.policy?.pasid ?? DEFAULT_POLICY.pasid,
      lam: override?.lam ?? file.policy?.lam ?? DEFAULT_POLICY.lam,
    },
    cpu: { enqcmd: file.cpu?.enqcmd ?? DEFAULT_CPU.enqcmd, lam: file.cpu?.lam ?? DEFAULT_CPU.lam },
    iommu: { pasidRange: file.iommu?.pasidRange ?? DEFAULT_PASID_RANGE },
    devices,
    ...(file.actors === undefined || file.actors.length === 0 ? {} : { actors: file.actors.map((a) => ({ name: a.name, kind: a.kind, ...(a.options === undefined ? {} : { options: a.options }) })) }),
    steps,
    final: { pasid: file.final?.pasid ?? {}, refs: file.final?.refs ?? {}, msr: file.final?.msr ?? {} },
    forbid: file.forbid ?? [],
  };
}

// ---------------------------------------------------------------------------------------------------
// Public API

/**
 * Parses and validates a scenario's text. `source` names it in errors (a path, or `builtin:<name>`);
 * `override` (a command-line `--policy`) wins over the file's policy.
 * @throws ScenarioError with every problem in document order (one line each, up to MAX_REPORTED).
 */
export function parseScenario(text: string, source: string, override?: Partial<Policy>, options: LoadOptions = {}): Scenario {
  checkPolicyOverride(override);
  return parseScenarioText(text, source, override, false, options.kinds ?? BUILTIN_KINDS_REGISTRY);
}

/** How a scenario is read. */
export interface LoadOptions {
  /** The registered kinds its devices and actors may name (default: svasim's own only). */
  readonly kinds?: Kinds | undefined;
}

function unknownKind(kind: string, kinds: Kinds, device: boolean): string {
  const fitting = kinds.registered().filter((d) => (d.device === true) === device).map((d) => d.name);
  const what = device ? 'device model' : 'actor kind';
  const hint = fitting.length > 0 ? `registered: ${fitting.join(', ')}` : `none is registered; a plugin registers kinds (--plugin FILE)`;
  return `unknown ${what} ${JSON.stringify(kind)} (${hint})`;
}

/** `firstOnly`: the message is the first problem's line alone (`issues` still holds every one). */
function parseScenarioText(text: string, source: string, override: Partial<Policy> | undefined, firstOnly: boolean, kinds: Kinds): Scenario {
  const where = (offset: number) => {
    const { line, column } = lineCol(text, offset);
    return { source, line, column };
  };
  let parsed: ReturnType<typeof parseJson>;
  try {
    parsed = parseJson(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    const loc = where(e.offset);
    throw new ScenarioError(`${source}:${loc.line}:${loc.column}: invalid JSON: ${e.message}`, loc);
  }
  const result = scenarioFileSchema.safeParse(parsed.value);
  const issues = [
    ...parsed.duplicates,
    ...(result.success ? [] : schemaIssues(result.error.issues, parsed.value, parsed.node)),
    ...referenceIssues(parsed.value, parsed.node, kinds),
  ];
  if (issues.length > 0) {
    // Document order (a stable sort keeps the order found at one place); the same report once.
    const seen = new Set<string>();
    const found: ScenarioIssue[] = [];
    for (const iss of [...issues].sort((a, b) => a.order - b.order)) {
      const path = formatPath(iss.path);
      const location = { ...where(iss.at), path };
      const message = `${source}:${location.line}:${location.column}: ${path}: ${asWritten(iss.message, nodeAt(parsed.node, iss.path))}`;
      if (seen.has(message)) continue;
      seen.add(message);
      found.push({ message, location });
    }
    const shown = firstOnly ? 1 : MAX_REPORTED;
    const lines = found.slice(0, shown).map((f) => f.message);
    if (!firstOnly && found.length > shown) lines.push(`${source}: … and ${found.length - shown} more`);
    throw new ScenarioError(lines.join('\n'), found[0]?.location, found);
  }
  if (!result.success) throw new Error('unreachable: schema failed without issues');
  return normalize(result.data, override);
}

/**
 * A scenario that is already a JSON value (a log header's): checked by the same schema and reference
 * rules. When it has a problem it is re-read from its JSON text, so the error names the same JSON path
 * as `parseScenario` would.
 */
export function scenarioFromValue(value: unknown, source: string, override?: Partial<Policy>, options: LoadOptions = {}): Scenario {
  checkPolicyOverride(override);
  const kinds = options.kinds ?? BUILTIN_KINDS_REGISTRY;
  const result = scenarioFileSchema.safeParse(value);
  // Positions are only needed to report an issue; a valid scenario never asks for one.
  if (result.success && referenceIssues(value, { start: 0, end: 0 }, kinds).length === 0) return normalize(result.data, override);
  // One line: the caller (a log's header) reports the first problem as the header's damage.
  return parseScenarioText(JSON.stringify(value), source, override, true, kinds);
}

/** Reads and parses a scenario file; errors name `path` as the source. */
export function loadScenarioFile(path: string, override?: Partial<Policy>, options: LoadOptions = {}): Scenario {
  checkPolicyOverride(override);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScenarioError(`${path}: cannot read file: ${readReason(e)}`);
  }
  return parseScenario(text, path, override, options);
}

function readReason(e: unknown): string {
  const code = isObject(e) ? e['code'] : undefined;
  const known: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EISDIR: 'is a directory',
    EACCES: 'permission denied',
    ENOTDIR: 'a component of the path is not a directory',
  };
  if (typeof code === 'string' && Object.hasOwn(known, code)) return known[code] ?? code;
  return e instanceof Error ? e.message : String(e);
}

/**
 * A policy override given by a program (TypeScript types it; JavaScript does not): only `pasid` and
 * `lam`, each one of its policies, else a {@link ScenarioError} in one line.
 */
/** A whole policy (a program may have changed a loaded scenario's): both switches, each one of its values. */
export function checkPolicy(policy: unknown): void {
  if (!isObject(policy) || policy['pasid'] === undefined || policy['lam'] === undefined) throw new ScenarioError(`policy: expected { pasid, lam }, got ${describe(policy)}`);
  checkPolicyOverride(policy, 'policy');
}

function checkPolicyOverride(override: unknown, what = 'policy override'): void {
  if (override === undefined) return;
  if (!isObject(override) || Array.isArray(override)) throw new ScenarioError(`${what}: expected an object like { pasid: 'merged' }, got ${describe(override)}`);
  for (const [k, v] of Object.entries(override)) {
    if (v === undefined) continue;
    if (k === 'pasid') {
      if (!(PASID_POLICIES as readonly unknown[]).includes(v)) throw new ScenarioError(`${what}: pasid: unknown pasid policy ${describe(v)} (expected ${orList(PASID_POLICIES)})`);
    } else if (k === 'lam') {
      if (!(LAM_POLICIES as readonly unknown[]).includes(v)) throw new ScenarioError(`${what}: lam: unknown lam policy ${describe(v)} (expected ${orList(LAM_POLICIES)})`);
    } else throw new ScenarioError(`${what}: unknown field "${k}" (expected pasid, lam)`);
  }
}

/** Parses a `--policy` value such as `pasid=merged,lam=v6.4`. */
export function parsePolicyOverride(spec: string): Partial<Policy> {
  const out: { pasid?: PasidPolicy; lam?: LamPolicy } = {};
  const fail = (message: string): never => {
    throw new ScenarioError(`--policy: ${message}`);
  };
  for (const item of spec.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) fail(`expected KEY=VALUE (e.g. pasid=merged,lam=v6.4), got ${JSON.stringify(item.trim())}`);
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === 'pasid' || key === 'lam') {
      if (out[key] !== undefined) fail(`${key} given twice`);
    }
    if (key === 'pasid') {
      const allowed: readonly string[] = PASID_POLICIES;
      if (!allowed.includes(value)) fail(`unknown pasid policy ${JSON.stringify(value)} (expected ${orList(PASID_POLICIES)})`);
      out.pasid = value as PasidPolicy;
    } else if (key === 'lam') {
      const allowed: readonly string[] = LAM_POLICIES;
      if (!allowed.includes(value)) fail(`unknown lam policy ${JSON.stringify(value)} (expected ${orList(LAM_POLICIES)})`);
      out.lam = value as LamPolicy;
    } else {
      fail(`unknown policy key ${JSON.stringify(key)} (expected pasid or lam)`);
    }
  }
  return out;
}
