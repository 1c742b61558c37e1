/**
 * Writes the event log as the run goes. Records are encoded straight into a buffer and written whole —
 * when the runner flushes at the end of every step, and whenever the buffer would pass 256 KiB — so a
 * crash leaves a valid prefix ending at a complete record, and a killed run loses at most the step it
 * was in.
 *
 * The bytes are exactly `recordLine(d)` plus a newline (test/log/writer.test.ts checks this). They are
 * built without intermediate strings: numbers are written digit by digit and the fixed parts of a record
 * (keys, type, addresses) are encoded once and copied. Besides the copying this saves, converting each new
 * seq to a string would go through V8's number-to-string cache, an old-generation table that keeps every
 * such string alive past young-generation collections.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Delivered } from '../runtime/system.ts';
import { payloadSpan, recordLine } from './format.ts';

const CHUNK = 256 * 1024;
/** Room for a record's fixed parts besides the cached pieces and the payload: seq, cause, step, brackets. */
const SLACK = 96;

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const SEQ = utf8('{"seq":');
const CAUSE = utf8(',"cause":');
const STEP = utf8(',"step":');

/** Encoded pieces that recur in every run (message types, addresses), each kept once. */
class Pieces {
  private readonly map = new Map<string, Uint8Array>();
  constructor(private readonly make: (key: string) => string) {}
  get(key: string): Uint8Array {
    let b = this.map.get(key);
    if (b === undefined) {
      b = utf8(this.make(key));
      if (this.map.size < 100_000) this.map.set(key, b);
    }
    return b;
  }
}

/** The fields of a record besides its seq (a delivered message, or a pending one about to be). */
export interface RecordFields {
  readonly msg: Delivered['msg'];
  readonly from: Delivered['from'];
  readonly to: Delivered['to'];
  readonly cause: number | undefined;
  readonly step: number;
}

/**
 * Encodes records as log lines into a buffer. The log writer writes the buffer out; replay encodes the
 * record the model would deliver next and compares it with the logged line's bytes.
 */
export class RecordEncoder {
  protected buf = Buffer.allocUnsafe(CHUNK);
  protected pos = 0;
  private readonly types = new Pieces((t) => `,"type":${JSON.stringify(t)}`);
  private readonly froms = new Pieces((a) => `,"from":${JSON.stringify(a)}`);
  private readonly tos = new Pieces((a) => `,"to":${JSON.stringify(a)}`);

  /** The buffer has no room for `n` more bytes: make some (the writer writes out what it holds). */
  protected full(n: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** Make room for `n` more bytes (records are never split across writes). */
  private room(n: number): void {
    if (this.pos + n > this.buf.length) {
      this.full(n);
      if (this.pos + n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
    }
  }

  /** Append one line. */
  protected line(text: string): void {
    this.room(text.length * 3 + 1);
    this.pos += this.buf.write(text, this.pos, 'utf8');
    this.buf[this.pos++] = 10;
  }

  private put(b: Uint8Array): void {
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < b.length; i++) buf[pos++] = b[i] as number;
    this.pos = pos;
  }

  /** A non-negative integer's decimal digits. */
  private uint(n: number): void {
    const buf = this.buf;
    let end = this.pos;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) end++;
    this.pos = end + 1;
    let t = n;
    do {
      buf[end--] = 48 + (t % 10);
      t = Math.floor(t / 10);
    } while (t > 0);
  }

  /** Append the record `d` would be at `seq`: exactly `recordLine` and a newline. */
  record(d: RecordFields, seq: number): void {
    const msg = d.msg;
    const json = JSON.stringify(msg);
    const span = payloadSpan(msg.type, json, (msg as { to?: string }).to);
    if (span === null || !Number.isSafeInteger(seq) || !Number.isSafeInteger(d.step) || (d.cause !== undefined && !Number.isSafeInteger(d.cause)) || seq < 0 || d.step < 0 || (d.cause ?? 0) < 0) {
      this.line(recordLine({ ...d, seq }));
      return;
    }
    const type = this.types.get(msg.type);
    const from = this.froms.get(d.from);
    const to = this.tos.get(d.to);
    this.room(SLACK + type.length + from.length + to.length + (span[1] - span[0]) * 3);
    this.put(SEQ);
    this.uint(seq);
    this.put(type);
    this.put(from);
    this.put(to);
    if (d.cause !== undefined) {
      this.put(CAUSE);
      this.uint(d.cause);
    }
    this.put(STEP);
    this.uint(d.step);
    if (span[1] > span[0]) this.pos += this.buf.write(json.slice(span[0], span[1]), this.pos, 'utf8');
    this.buf[this.pos++] = 125; // }
    this.buf[this.pos++] = 10;
  }

  /**
   * Whether `line[start, end)` (without its newline) is exactly the record `d` would be at `seq`. The
   * buffer holds only that record afterwards.
   */
  matches(d: RecordFields, seq: number, line: Buffer, start: number, end: number): boolean {
    this.pos = 0;
    this.record(d, seq);
    return this.pos - 1 === end - start && this.buf.compare(line, start, end, 0, this.pos - 1) === 0;
  }
}

/** Writes the event log (see the top of this file). */
export class LogWriter extends RecordEncoder {
  private readonly fd: number;
  private closed = false;
  bytes = 0;

  constructor(readonly path: string, header: string) {
    super();
    this.fd = openSync(path, 'w');
    this.line(header);
    this.flush();
  }

  protected override full(): void {
    this.flush();
  }

  write(d: Delivered): void {
    this.record(d, d.seq);
  }

  flush(): void {
    if (this.pos === 0) return;
    let off = 0;
    while (off < this.pos) off += writeSync(this.fd, this.buf, off, this.pos - off);
    this.bytes += this.pos;
    this.pos = 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    closeSync(this.fd);
  }
}
