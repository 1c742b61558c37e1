/**
 * The log reader validates every record's payload by its type's schema (src/log/schema.ts): a tampered
 * field is reported as `file:line: malformed record: <type>: <path>: <zod message>`; every golden log and
 * every built-in scenario's fresh log still parses.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ERRNOS, MESSAGE_TYPES, type MessageType } from '../../machines/protocol.ts';
import { main, type Io } from '../../src/cli/main.ts';
import { LogError, parseLog, readLog } from '../../src/log/reader.ts';
import { PAYLOAD_SCHEMAS, payloadIssue } from '../../src/runtime/message-schema.ts';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { runScenario } from '../../src/runner/run.ts';
import { builtinNames, builtinPath } from '../../src/scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'svasim-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const GOLDEN = join(FIXTURES, 'golden');

/**
 * Run a built-in scenario with a log and return the header and record lines (line 0 is the header), without
 * the closing record: the records are tampered with here, not the count.
 */
function linesOf(name: string): string[] {
  const path = builtinPath(name);
  if (!path) throw new Error(`no built-in ${name}`);
  const log = join(dir, `${name}.jsonl`);
  runScenario(loadScenarioFile(path), { log });
  const ls = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '');
  if (!ls[ls.length - 1]?.startsWith('{"end":"svasim"')) throw new Error(`${name}'s log has no closing record`);
  return ls.slice(0, -1);
}
const NAMES = builtinNames();
const LOGS = new Map(NAMES.map((n) => [n, linesOf(n)]));
const logLines = (name: string): string[] => {
  const ls = LOGS.get(name);
  if (!ls) throw new Error(`no log of ${name}`);
  return ls;
};
const text = (ls: readonly string[]): string => `${ls.join('\n')}\n`;

type Rec = Record<string, unknown>;
const recordAt = (ls: readonly string[], i: number): Rec => JSON.parse(ls[i] ?? '') as Rec;

/** The log with line index `i` (0-based; line number i + 1) replaced by `edit` of its record. */
function tampered(ls: readonly string[], i: number, edit: (r: Rec) => void): string {
  const r = recordAt(ls, i);
  edit(r);
  const out = [...ls];
  out[i] = JSON.stringify(r);
  return text(out);
}

/** The message of the LogError that parsing `t` throws (fails the test when it parses or throws otherwise). */
function logError(t: string, source = 't.jsonl'): string {
  try {
    parseLog(t, source);
  } catch (e) {
    if (e instanceof LogError) return e.message;
    throw e;
  }
  throw new Error('the log parsed');
}

/** Index of the first line whose record has `type` (and passes `also`). */
function lineOf(ls: readonly string[], type: MessageType, also: (r: Rec) => boolean = () => true): number {
  const i = ls.findIndex((l, k) => k > 0 && l.includes(`"type":"${type}"`) && also(recordAt(ls, k)));
  if (i < 0) throw new Error(`no ${type} record`);
  return i;
}

/** The schema's fields that a payload must have. */
function requiredFields(type: MessageType): string[] {
  const shape = (PAYLOAD_SCHEMAS[type] as z.ZodObject).shape;
  return Object.keys(shape).filter((k) => !(shape[k] instanceof z.ZodOptional));
}

/** What zod says of the field `field` of `type` when it is absent (e.g. `Invalid input: expected number, received undefined`). */
function missingMessage(type: MessageType, field: string): string {
  const schema = (PAYLOAD_SCHEMAS[type] as z.ZodObject).shape[field];
  const r = schema?.safeParse(undefined);
  if (r === undefined || r.success) throw new Error(`${type}.${field} is not required`);
  return r.error.issues[0]?.message ?? '';
}

const ENVELOPE = new Set(['seq', 'type', 'from', 'to', 'cause', 'step']);

describe('payload validation: a tampered field is a malformed record at its line', () => {
  const ls = logLines('seed-a-unbind-dmar');

  it('a field of the wrong type ("pasid":"one")', () => {
    const i = lineOf(ls, 'msr.write');
    expect(logError(tampered(ls, i, (r) => (r['pasid'] = 'one')))).toBe(
      `t.jsonl:${i + 1}: malformed record: msr.write: pasid: Invalid input: expected number, received string`,
    );
  });

  it('a missing required field', () => {
    const i = lineOf(ls, 'pasid.put');
    expect(logError(tampered(ls, i, (r) => delete r['refs']))).toBe(
      `t.jsonl:${i + 1}: malformed record: pasid.put: refs: Invalid input: expected number, received undefined`,
    );
  });

  it('an unknown extra field', () => {
    const i = lineOf(ls, 'wq.accept');
    expect(logError(tampered(ls, i, (r) => (r['extra'] = 1)))).toBe(
      `t.jsonl:${i + 1}: malformed record: wq.accept: extra: Unrecognized key: "extra"`,
    );
  });

  it('a "__proto__" field is an unknown field, not a prototype', () => {
    const i = lineOf(ls, 'wq.accept');
    const lines = [...ls];
    lines[i] = (lines[i] ?? '').replace(/}$/, ',"__proto__":{"pasid":"x"}}');
    expect(logError(text(lines))).toBe(`t.jsonl:${i + 1}: malformed record: wq.accept: __proto__: Unrecognized key: "__proto__"`);
  });

  it('a PASID that is not an integer', () => {
    const i = lineOf(ls, 'pasid.alloc');
    expect(logError(tampered(ls, i, (r) => (r['pasid'] = 1.5)))).toBe(
      `t.jsonl:${i + 1}: malformed record: pasid.alloc: pasid: Invalid input: expected int, received number`,
    );
  });

  it('a PASID out of range, a non-positive mm id, an empty thread name', () => {
    const i = lineOf(ls, 'pasid.alloc');
    expect(logError(tampered(ls, i, (r) => (r['pasid'] = 0x100000)))).toBe(
      `t.jsonl:${i + 1}: malformed record: pasid.alloc: pasid: Too big: expected number to be <=1048575`,
    );
    expect(logError(tampered(ls, i, (r) => (r['mm'] = 0)))).toBe(
      `t.jsonl:${i + 1}: malformed record: pasid.alloc: mm: Too small: expected number to be >=1`,
    );
    const j = lineOf(ls, 'msr.write');
    expect(logError(tampered(ls, j, (r) => (r['thread'] = '')))).toBe(
      `t.jsonl:${j + 1}: malformed record: msr.write: thread: Too small: expected string to have >=1 characters`,
    );
  });

  it('an unknown errno', () => {
    const lv = logLines('lam-v6.4');
    const i = lineOf(lv, 'sys.return', (r) => r['errno'] !== undefined);
    expect(logError(tampered(lv, i, (r) => (r['errno'] = 'EWHAT')))).toBe(
      `t.jsonl:${i + 1}: malformed record: sys.return: errno: Invalid option: expected one of ${ERRNOS.map((e) => `"${e}"`).join('|')}`,
    );
  });

  it('a nested field (mm.create lam) and an array element (mm.create threads)', () => {
    const i = lineOf(ls, 'mm.create');
    expect(logError(tampered(ls, i, (r) => ((r['lam'] as Rec)['force'] = 'yes')))).toBe(
      `t.jsonl:${i + 1}: malformed record: mm.create: lam.force: Invalid input: expected boolean, received string`,
    );
    expect(logError(tampered(ls, i, (r) => (r['threads'] = ['A', 7])))).toBe(
      `t.jsonl:${i + 1}: malformed record: mm.create: threads.1: Invalid input: expected string, received number`,
    );
  });

  it('a changed type whose payload does not fit the new type is malformed (one that fits is left to replay)', () => {
    const i = lineOf(ls, 'wq.complete');
    expect(logError(tampered(ls, i, (r) => (r['type'] = 'wq.retry')))).toBe(
      `t.jsonl:${i + 1}: malformed record: wq.retry: occupancy: Invalid input: expected number, received undefined`,
    );
    expect(parseLog(tampered(ls, i, (r) => (r['type'] = 'wq.submit')), 't.jsonl').records[i - 1]?.msg.type).toBe('wq.submit');
  });

  it('the envelope is still checked first, with the same messages', () => {
    const i = lineOf(ls, 'msr.write');
    expect(logError(tampered(ls, i, (r) => (r['seq'] = 'x')))).toBe(
      `t.jsonl:${i + 1}: malformed record: seq: Invalid input: expected number, received string`,
    );
    expect(logError(tampered(ls, i, (r) => (r['type'] = 'msr.read')))).toMatch(new RegExp(`^t\\.jsonl:${i + 1}: malformed record: unknown message type "msr\\.read"`));
  });

  it('svasim replay of such a log prints that one line and exits 2', async () => {
    const i = lineOf(ls, 'msr.write');
    const file = join(dir, 'tampered.jsonl');
    writeFileSync(file, tampered(ls, i, (r) => (r['pasid'] = null)));
    let out = '';
    let err = '';
    const io: Io = { stdout: { write: (s: string) => void (out += s) }, stderr: { write: (s: string) => void (err += s) }, env: {} };
    expect(await main(['replay', file], io)).toBe(2);
    expect(err).toBe(`${file}:${i + 1}: malformed record: msr.write: pasid: Invalid input: expected number, received null\n`);
    expect(out).toBe('');
  });
});

describe('valid logs still parse', () => {
  const golden = readdirSync(GOLDEN).filter((f) => f.endsWith('.jsonl')).sort();

  it('there are golden logs', () => {
    expect(golden.length).toBeGreaterThan(0);
  });

  it.each(golden)('golden %s', (f) => {
    const log = readLog(join(GOLDEN, f));
    // The header, the records, the closing record.
    expect(log.records.length).toBe(readFileSync(join(GOLDEN, f), 'utf8').split('\n').filter((l) => l !== '').length - 2);
    expect(log.ending).toEqual({ kind: 'closed', steps: log.scenario.steps.length });
  });

  it('a format-0 log (upcast before validation)', () => {
    const log = readLog(join(FIXTURES, 'format0-seed-b.jsonl'));
    expect(log.upcastFrom).toBe(0);
    expect(log.records.length).toBeGreaterThan(0);
  });

  it.each(NAMES)('fresh log of %s', (name) => {
    const ls = logLines(name);
    expect(parseLog(text(ls), `${name}.jsonl`).records.length).toBe(ls.length - 1);
  });

  it('the built-in logs exercise many message types, each valid by its schema', () => {
    const seen = new Set<string>();
    for (const ls of LOGS.values()) for (let i = 1; i < ls.length; i++) seen.add(String(recordAt(ls, i)['type']));
    expect(seen.size).toBeGreaterThan(MESSAGE_TYPES.length / 2);
  });
});

describe('properties', () => {
  /** A random record of a random built-in scenario's log: [scenario, line index]. */
  const recordArb = fc
    .constantFrom(...NAMES)
    .chain((name) => fc.tuple(fc.constant(name), fc.integer({ min: 1, max: logLines(name).length - 1 })));

  it('every record of a built-in log parses; deleting one required payload field is reported at its line', () => {
    fc.assert(
      fc.property(recordArb, fc.nat(), ([name, i], pick) => {
        const ls = logLines(name);
        expect(parseLog(text(ls), 'p.jsonl').records.length).toBe(ls.length - 1);
        const type = recordAt(ls, i)['type'] as MessageType;
        const required = requiredFields(type);
        const field = required[pick % required.length];
        if (field === undefined) throw new Error(`${type} has no required field`);
        expect(logError(tampered(ls, i, (r) => delete r[field]), 'p.jsonl')).toBe(`p.jsonl:${i + 1}: malformed record: ${type}: ${field}: ${missingMessage(type, field)}`);
      }),
      { numRuns: 300 },
    );
  });

  it('an envelope field of the wrong kind is reported by the envelope check, as before', () => {
    const wrong = { seq: fc.oneof(fc.string(), fc.constant(0), fc.constant(1.5), fc.constant(-2), fc.constant(null)), step: fc.oneof(fc.string(), fc.constant(-1), fc.constant(0.5), fc.boolean()), cause: fc.oneof(fc.string(), fc.constant(0), fc.constant(2.5)), from: fc.oneof(fc.integer(), fc.constantFrom('mm:x', 'thread:', 'users', 'wq:', '')), to: fc.oneof(fc.integer(), fc.constantFrom('mm:', 'kernel ', 'thread:', 'iommu2')), type: fc.oneof(fc.integer(), fc.constantFrom('msr.read', 'MSR.WRITE', '')) };
    const fieldArb = fc.oneof(...Object.entries(wrong).map(([k, v]) => fc.tuple(fc.constant(k), v as fc.Arbitrary<unknown>)));
    fc.assert(
      fc.property(recordArb, fieldArb, ([name, i], [field, value]) => {
        const ls = logLines(name);
        const message = logError(tampered(ls, i, (r) => (r[field] = value)), 'p.jsonl');
        // A type that is a string but no message type is named as such (with the nearest known types).
        const what = field === 'type' && typeof value === 'string' ? `unknown message type ${JSON.stringify(value)}` : `${field}: `;
        expect(message.startsWith(`p.jsonl:${i + 1}: malformed record: ${what}`), message).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  /** Values a tampered field might hold. */
  const valueArb = fc.oneof(
    fc.integer({ min: -3, max: 0x100002 }),
    fc.double({ noNaN: false }),
    fc.string({ maxLength: 4 }),
    fc.constantFrom('0x4002', '0XFF', '0xffffffffffffffff', 'gp', 'portal', 'ESRCH', 'EWHAT', ''),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.oneof(fc.string({ maxLength: 2 }), fc.integer()), { maxLength: 2 }),
    fc.record({ enabled: fc.boolean(), lockLam: fc.oneof(fc.boolean(), fc.integer()), force: fc.boolean() }, { requiredKeys: ['enabled', 'force'] }),
  );

  it('the compiled fast path and the runtime parser agree on tampered payloads', () => {
    fc.assert(
      fc.property(recordArb, fc.string({ minLength: 1, maxLength: 8 }), valueArb, fc.boolean(), ([name, i], extraKey, value, replaceExisting) => {
        const r = recordAt(logLines(name), i);
        const type = r['type'] as MessageType;
        const payload: Rec = {};
        for (const k in r) if (!ENVELOPE.has(k)) payload[k] = r[k];
        const keys = Object.keys(payload);
        const key = replaceExisting && keys.length > 0 ? (keys[extraKey.length % keys.length] ?? extraKey) : extraKey;
        if (ENVELOPE.has(key)) return;
        payload[key] = value;
        const runtime = (PAYLOAD_SCHEMAS[type] as z.ZodType).safeParse(payload);
        const issue = payloadIssue(type, payload);
        expect(issue === null).toBe(runtime.success);
      }),
      { numRuns: 1000 },
    );
  });
});
