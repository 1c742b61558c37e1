/**
 * The log writer encodes records straight into its buffer; its bytes must be exactly `recordLine(d)`
 * plus a newline for every record (any names, any payload, with and without a cause), records are never
 * split across writes, and a buffer that fills up is flushed before the next record.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Address, Message, Outgoing } from '../../machines/protocol.ts';
import { recordLine } from '../../src/log/format.ts';
import { LogWriter, RecordEncoder } from '../../src/log/writer.ts';
import type { Delivered } from '../../src/runtime/system.ts';

/** The last byte of each write the log writer made. */
const writes: number[] = [];
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const writeSync = (fd: number, buf: Uint8Array, off: number, len: number): number => {
    writes.push(buf[off + len - 1] ?? -1);
    return fs.writeSync(fd, buf, off, len);
  };
  return { ...fs, default: { ...fs, writeSync }, writeSync };
});

const dir = mkdtempSync(join(tmpdir(), 'svasim-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function written(records: readonly Delivered[], header = '{"log":"svasim"}'): string {
  const path = join(dir, `w${n++}.jsonl`);
  const w = new LogWriter(path, header);
  for (const d of records) w.write(d);
  w.close();
  return readFileSync(path, 'utf8');
}

const expected = (records: readonly Delivered[], header = '{"log":"svasim"}'): string => [header, ...records.map(recordLine)].join('\n') + '\n';

const rec = (msg: Message | Outgoing, over: Partial<Delivered> = {}): Delivered => ({ msg, from: 'thread:a', to: 'mm:1', cause: 3, step: 2, seq: 4, ...over });

describe('LogWriter', () => {
  it('writes exactly recordLine for typical records (routed, unrouted, no cause, zero step)', () => {
    const records: Delivered[] = [
      rec({ type: 'portal.store', thread: 'a', device: 'dsa0', pasid: 1, to: 'mm:1' }),
      rec({ type: 'insn.enqcmd', thread: 'a', device: 'dsa0' }, { from: 'user', to: 'thread:a', cause: undefined, step: 0, seq: 1 }),
      rec({ type: 'sys.return', thread: 'a', errno: 'ESRCH', to: 'user' }, { seq: 1234567890, cause: 1234567889, step: 98765 }),
      rec({ type: 'wq.execute', device: 'dsa0' }, { from: 'user', to: 'wq:dsa0', cause: undefined }),
      rec({ type: 'fault.dmar', device: 'd', pasid: 7, reason: 0x59, suppressed: true, thread: 'a', to: 'wq:d' }, { seq: 10, cause: 9 }),
    ];
    expect(written(records)).toBe(expected(records));
  });

  it('writes a message whose fields are not in the usual order the general way, with the same bytes', () => {
    const odd = { to: 'mm:1', thread: 'a', type: 'trap.gp', activated: false } as unknown as Message;
    const records = [rec(odd)];
    expect(written(records)).toBe(expected(records));
    expect(written(records)).toContain('{"seq":4,"type":"trap.gp","from":"thread:a","to":"mm:1","cause":3,"step":2,"thread":"a","activated":false}');
  });

  it('property: any names and numbers give recordLine bytes', () => {
    const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            thread: name,
            device: name,
            pasid: fc.integer({ min: 0, max: 0xfffff }),
            seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
            cause: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
            step: fc.integer({ min: 0, max: 10 ** 9 }),
          }),
          { maxLength: 20 },
        ),
        (xs) => {
          const records = xs.map((x) =>
            rec({ type: 'portal.store', thread: x.thread, device: x.device, pasid: x.pasid, to: `mm:${x.pasid}` }, { from: `thread:${x.thread}`, to: `mm:${x.pasid}`, seq: x.seq, cause: x.cause, step: x.step }),
          );
          expect(written(records)).toBe(expected(records));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('property: any payload values (strings, numbers of every kind, booleans, null, nested JSON, undefined) give recordLine bytes', () => {
    const value = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.jsonValue({ maxDepth: 2 }),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), value, { maxKeys: 6 }),
        fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
        (payload, routed) => {
          const { type: _t, to: _to, ...rest } = payload as Record<string, unknown>;
          const msg = { type: 'portal.store', ...rest, ...(routed === undefined ? {} : { to: `mm:${routed}` }) } as unknown as Message;
          expect(written([rec(msg)])).toBe(expected([rec(msg)]));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: matches(record, line) is true exactly when the line is the record\'s bytes (read in place or encoded)', () => {
    const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ maxLength: 6 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.jsonValue({ maxDepth: 1 }));
    const enc = new RecordEncoder();
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 5 }), value, { maxKeys: 5 }),
        fc.string({ maxLength: 6 }),
        fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.nat(),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 255 }),
        (payload, who, cause, seq, at, how, byte) => {
          const { type: _t, to: _to, ...rest } = payload as Record<string, unknown>;
          const d = rec({ type: 'portal.store', ...rest, to: `mm:${who}` } as unknown as Message, { cause, seq, from: `thread:${who}`, to: `mm:${who}` as Address });
          const line = Buffer.from(recordLine(d), 'utf8');
          expect(enc.matches(d, seq, line, 0, line.length)).toBe(true);
          // The line inside a larger buffer.
          const framed = Buffer.concat([Buffer.from('xy'), line, Buffer.from('\nz')]);
          expect(enc.matches(d, seq, framed, 2, 2 + line.length)).toBe(true);
          expect(enc.matches(d, seq + 1, line, 0, line.length)).toBe(false);
          // A changed, cut or lengthened line.
          const i = at % line.length;
          const other =
            how === 0 ? Buffer.from(line).fill(byte, i, i + 1) : how === 1 ? line.subarray(0, i) : how === 2 ? Buffer.concat([line, Buffer.from([byte])]) : Buffer.concat([line.subarray(0, i), Buffer.from([byte]), line.subarray(i)]);
          expect(enc.matches(d, seq, other, 0, other.length)).toBe(other.equals(line));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('numbers at every digit-count and 31-bit boundary: written as recordLine has them, and matched', () => {
    const edges = [0, 1, 9, 10, 11, 99, 100, 101];
    for (let d = 3; d <= 15; d++) edges.push(10 ** d - 1, 10 ** d, 10 ** d + 1);
    edges.push(2 ** 31 - 2, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32, Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER);
    const records = edges.map((n, i) => rec({ type: 'portal.store', thread: 'a', device: 'dsa0', pasid: n, to: 'mm:1' }, { seq: n, cause: edges[edges.length - 1 - i], step: n }));
    expect(written(records)).toBe(expected(records));
    const enc = new RecordEncoder();
    for (const d of records) {
      const line = Buffer.from(recordLine(d), 'utf8');
      expect(enc.matches(d, d.seq, line, 0, line.length), recordLine(d)).toBe(true);
      expect(enc.matches({ ...d, step: d.step + 1 }, d.seq, line, 0, line.length), recordLine(d)).toBe(false);
    }
  });

  it('unusual message objects: the same bytes as recordLine (own fields only, each as JSON.stringify has it)', () => {
    const inherited = Object.assign(Object.create({ inh: 1 }) as object, { type: 'portal.store', a: 2 });
    const odd: unknown[] = [
      inherited,
      { type: 'portal.store', a: 1, toJSON: () => ({ type: 'portal.store', q: 9 }) },
      { type: 'portal.store', d: { toJSON: () => undefined }, a: 1 },
      { a: 1, type: 'portal.store', f: () => 1, s: Symbol('x'), u: undefined },
      { aaaa: 'portal.store', type: 'portal.store' },
      { type: 'portal.store', 1: 'abc', 0: 'x', to: 'mm:1' },
      { type: 'portal.store', to: 'xy', a: { b: 0, to: 'x' } },
      { type: 'a"b\\c\n\ud800' },
      { type: 'portal.store', to: () => 1 },
    ];
    const records = odd.map((m) => rec(m as Message));
    const text = written(records);
    expect(text).toBe(expected(records));
    for (const line of text.trimEnd().split('\n').slice(1)) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    expect(text).toContain('"a":2}');
    expect(text).not.toContain('inh');
    expect(text).toContain('"type":"a\\"b\\\\c\\n\\ud800"');
  });

  it('a record with a value JSON cannot hold is a programming error, and the log keeps only whole records', () => {
    const path = join(dir, 'bigint.jsonl');
    const w = new LogWriter(path, '{}');
    w.write(rec({ type: 'wq.execute', device: 'd' }, { seq: 1 }));
    expect(() => w.write(rec({ type: 'wq.execute', device: 'd', big: 1n } as unknown as Message, { seq: 2 }))).toThrow(TypeError);
    expect(() => w.write(rec({ type: 'wq.execute', device: 'd' }, { from: 5 as unknown as Address }))).toThrow(/string type, from and to/);
    expect(() => recordLine(rec({ type: 'wq.execute', device: 'd' }, { from: 5 as unknown as Address }))).toThrow(/string type, from and to/);
    w.write(rec({ type: 'wq.execute', device: 'e' }, { seq: 3 }));
    w.close();
    expect(readFileSync(path, 'utf8')).toBe(`{}\n${recordLine(rec({ type: 'wq.execute', device: 'd' }, { seq: 1 }))}\n${recordLine(rec({ type: 'wq.execute', device: 'e' }, { seq: 3 }))}\n`);
  });

  it('flushes a full buffer between records, never inside one (also a record larger than the buffer)', () => {
    const big = 'x'.repeat(5000);
    const records = Array.from({ length: 200 }, (_, i) => rec({ type: 'portal.store', thread: big, device: `d${i}`, pasid: i, to: 'mm:1' }, { seq: i + 1 }));
    records.splice(100, 0, rec({ type: 'portal.store', thread: 'y'.repeat(600 * 1024), device: 'huge', pasid: 1, to: 'mm:1' }, { seq: 1000 }));
    writes.length = 0;
    const text = written(records);
    expect(text).toBe(expected(records));
    expect(text.length).toBeGreaterThan(256 * 1024);
    // Every write ends at the end of a record.
    expect(writes.length).toBeGreaterThan(3);
    expect(writes.filter((last) => last !== 10)).toStrictEqual([]);
  });

  it("flush 'record': each record is in the file as soon as it is written; 'step' (default): at flush", () => {
    const r1 = rec({ type: 'wq.execute', device: 'd' }, { seq: 1 });
    const r2 = rec({ type: 'wq.execute', device: 'e' }, { seq: 2 });
    const each = join(dir, 'each.jsonl');
    const w = new LogWriter(each, '{}', 'record');
    w.write(r1);
    expect(readFileSync(each, 'utf8')).toBe(`{}\n${recordLine(r1)}\n`);
    w.write(r2);
    expect(readFileSync(each, 'utf8')).toBe(`{}\n${recordLine(r1)}\n${recordLine(r2)}\n`);
    w.close();
    const step = join(dir, 'step.jsonl');
    const s = new LogWriter(step, '{}');
    s.write(r1);
    expect(readFileSync(step, 'utf8')).toBe('{}\n');
    s.flush();
    expect(readFileSync(step, 'utf8')).toBe(`{}\n${recordLine(r1)}\n`);
    s.close();
  });

  it('counts the bytes it wrote', () => {
    const path = join(dir, 'bytes.jsonl');
    const w = new LogWriter(path, '{}');
    w.write(rec({ type: 'wq.execute', device: 'é' }, { to: 'wq:é' }));
    w.close();
    expect(w.bytes).toBe(readFileSync(path).length);
  });
});
