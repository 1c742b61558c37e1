/**
 * Writes the event log as the run goes. Records are encoded straight into a buffer and written whole —
 * when the runner flushes at the end of every step, and whenever the buffer fills up — so a crash leaves
 * a valid prefix ending at a complete record, and a killed run loses at most the step it was in. Every
 * write the writer asks for ends at the end of a line, the header's included (a SIGKILL during one large
 * write can still leave only part of it on disk: a last line without its newline, which readers report
 * as a cut log). When the run ends, whatever its verdict, a closing record marks the log complete.
 *
 * The file is opened through io.ts: locked (a second writer is refused), never one of the run's inputs,
 * and an I/O error is a `LogFileError` (one line: the file and the error). A write may take fewer bytes
 * than asked (it is repeated for the rest); when a write fails, the file is cut back to its last
 * complete line, so what is on disk is still a valid prefix.
 *
 * The bytes are exactly `recordLine(d)` plus a newline (test/log/writer.test.ts checks this). They are
 * built without intermediate strings: numbers are written digit by digit, plain ASCII strings char by
 * char. Besides the copying this saves, converting each new seq to a string would go through V8's
 * number-to-string cache, an old-generation table that keeps every such string alive past
 * young-generation collections.
 */
import type { Delivered } from '../runtime/system.ts';
import type { LogFileError } from './errors.ts';
import { checkEnvelope, recordLine } from './format.ts';
import { describeIoError, NODE_FILE_OPS, openExclusive, writeAll, writeError, type FileOps, type InputFile } from './io.ts';

const CHUNK = 256 * 1024;
/** Room for the envelope's literal parts between two strings, with their safe integers. */
const SLACK = 64;
/** Room for a safe integer. */
const NUMBER = 16;

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const SEQ = utf8('{"seq":');
const CAUSE = utf8(',"cause":');
const STEP = utf8(',"step":');
const COPY = utf8(',"copy":true');
const TYPE = utf8(',"type":');
const FROM = utf8(',"from":');
const TO = utf8(',"to":');
const TRUE = utf8('true');
const FALSE = utf8('false');

/** The fields of a record besides its seq (a delivered message, or a pending one about to be). */
export interface RecordFields {
  readonly msg: Delivered['msg'];
  readonly from: Delivered['from'];
  readonly to: Delivered['to'];
  readonly cause: number | undefined;
  readonly step: number;
  /** A copy delivered to an observer (`"copy":true` after `step`). */
  readonly copy?: true | undefined;
}

const envelopeSafe = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/**
 * Encodes records as log lines into a buffer. The log writer writes the buffer out; replay encodes the
 * record the model would deliver next and compares it with the logged line's bytes.
 */
export class RecordEncoder {
  protected buf = Buffer.allocUnsafe(CHUNK);
  protected pos = 0;
  /** Where the record being encoded starts (everything before it is complete records). */
  protected mark = 0;

  /**
   * The buffer has no room for `n` more bytes: make some, keeping the record being encoded (from `mark`)
   * whole. The writer first writes out the complete records before it.
   */
  protected full(n: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  private room(n: number): void {
    if (this.pos + n > this.buf.length) this.full(n);
  }

  /** Append one line. */
  protected line(text: string): void {
    this.mark = this.pos;
    this.text(text);
    this.room(1);
    this.buf[this.pos++] = 10;
  }

  private text(text: string): void {
    this.room(text.length * 3);
    this.pos += this.buf.write(text, this.pos, 'utf8');
  }

  private put(b: Uint8Array): void {
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < b.length; i++) buf[pos++] = b[i] as number;
    this.pos = pos;
  }

  /**
   * A JSON string literal. ASCII that needs no escaping (names, types, addresses, keys: nearly every
   * string of a run) is copied char by char; anything else is written as `JSON.stringify` has it.
   */
  private str(s: string): void {
    this.room(s.length + 2);
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    buf[pos++] = 34;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 34 || c === 92 || c >= 0x80) {
        this.pos = start;
        this.text(JSON.stringify(s));
        return;
      }
      buf[pos++] = c;
    }
    buf[pos++] = 34;
    this.pos = pos;
  }

  /** `,"key":` */
  private key(k: string): void {
    this.room(1);
    this.buf[this.pos++] = 44;
    this.str(k);
    this.room(1);
    this.buf[this.pos++] = 58;
  }

  /** A non-negative integer's decimal digits. */
  private uint(n: number): void {
    const buf = this.buf;
    let end = this.pos + digitCount(n) - 1;
    this.pos = end + 1;
    if (n <= 0x7fffffff) {
      let t = n | 0;
      do {
        const next = (t / 10) | 0;
        buf[end--] = 48 + t - next * 10;
        t = next;
      } while (t > 0);
      return;
    }
    let t = n;
    do {
      buf[end--] = 48 + (t % 10);
      t = Math.floor(t / 10);
    } while (t > 0);
  }

  /**
   * Append the record `d` would be at `seq`: exactly `recordLine` and a newline. The payload is every
   * field of the message but `type` and the routing `to`, in the message's order, each value as
   * `JSON.stringify` writes it (fields it would leave out are left out).
   */
  record(d: RecordFields, seq: number): void {
    checkEnvelope(d);
    if (!envelopeSafe(seq) || !envelopeSafe(d.step) || (d.cause !== undefined && !envelopeSafe(d.cause))) {
      this.line(recordLine({ ...d, seq }));
      return;
    }
    this.mark = this.pos;
    try {
      this.fields(d, seq);
    } catch (e) {
      // A value JSON cannot hold (a BigInt, a throwing toJSON): the record is dropped whole.
      this.pos = this.mark;
      throw e;
    }
  }

  private fields(d: RecordFields, seq: number): void {
    const msg = d.msg;
    this.room(SLACK);
    this.put(SEQ);
    this.uint(seq);
    this.put(TYPE);
    this.str(msg.type);
    this.room(SLACK);
    this.put(FROM);
    this.str(d.from);
    this.room(SLACK);
    this.put(TO);
    this.str(d.to);
    this.room(SLACK);
    if (d.cause !== undefined) {
      this.put(CAUSE);
      this.uint(d.cause);
    }
    this.put(STEP);
    this.uint(d.step);
    if (d.copy === true) this.put(COPY);
    const m = msg as unknown as Record<string, unknown>;
    // Own enumerable fields, as JSON.stringify and recordLine take them.
    const keys = Object.keys(m);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      if (k === 'type' || k === 'to') continue;
      const v = m[k];
      switch (typeof v) {
        case 'string':
          this.key(k);
          this.str(v);
          break;
        case 'number':
          this.key(k);
          if (Number.isSafeInteger(v) && v >= 0) {
            this.room(NUMBER);
            this.uint(v);
          } else this.text(JSON.stringify(v));
          break;
        case 'boolean':
          this.key(k);
          this.room(5);
          this.put(v ? TRUE : FALSE);
          break;
        case 'undefined':
        case 'function':
        case 'symbol':
          break;
        default: {
          // null, arrays, objects (and a bigint, which JSON.stringify refuses as it does in recordLine).
          const json: string | undefined = JSON.stringify(v);
          if (json === undefined) break; // an object whose toJSON gives undefined: left out
          this.key(k);
          this.text(json);
        }
      }
    }
    this.room(2);
    this.buf[this.pos++] = 125; // }
    this.buf[this.pos++] = 10;
  }

  /**
   * Whether `line[start, end)` (without its newline) is exactly the record `d` would be at `seq`. Read in
   * place when every part is plain (ASCII names that need no escaping, safe integers, booleans), else by
   * encoding the record and comparing the bytes.
   */
  matches(d: RecordFields, seq: number, line: Uint8Array, start: number, end: number): boolean {
    checkEnvelope(d);
    const plain = matchPlain(d, seq, line, start, end);
    if (plain !== undefined) return plain;
    this.pos = 0;
    this.record(d, seq);
    const buf = this.buf;
    const n = this.pos - 1;
    if (n !== end - start) return false;
    for (let i = 0; i < n; i++) if (buf[i] !== line[start + i]) return false;
    return true;
  }
}

// ---- Reading a line in place against a record. Each step takes the position in the line and returns
// the position after the part, MISMATCH, or UNSURE (a part that is not plain: only encoding can tell).
const MISMATCH = -1;
const UNSURE = -2;

/** `lit`'s bytes at `p`. */
function litAt(line: Uint8Array, p: number, end: number, lit: Uint8Array): number {
  const n = lit.length;
  if (p + n > end) return MISMATCH;
  for (let i = 0; i < n; i++) if (line[p + i] !== lit[i]) return MISMATCH;
  return p + n;
}

/** A JSON string literal of `s` at `p`, when `s` is ASCII that needs no escaping. */
function strAt(line: Uint8Array, p: number, end: number, s: string): number {
  const n = s.length;
  if (p + n + 2 > end || line[p] !== 34) return MISMATCH;
  let q = p + 1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 34 || c === 92 || c >= 0x80) return UNSURE;
    if (line[q++] !== c) return MISMATCH;
  }
  return line[q] === 34 ? q + 1 : MISMATCH;
}

/** A non-negative safe integer's digits at `p`. */
function uintAt(line: Uint8Array, p: number, end: number, n: number): number {
  const digits = digitCount(n);
  let q = p + digits - 1;
  if (q >= end) return MISMATCH;
  if (n <= 0x7fffffff) {
    let t = n | 0;
    do {
      const next = (t / 10) | 0;
      if (line[q--] !== 48 + t - next * 10) return MISMATCH;
      t = next;
    } while (t > 0);
  } else {
    let t = n;
    do {
      if (line[q--] !== 48 + (t % 10)) return MISMATCH;
      t = Math.floor(t / 10);
    } while (t > 0);
  }
  return p + digits;
}

function digitCount(n: number): number {
  if (n < 10) return 1;
  if (n < 100) return 2;
  if (n < 1000) return 3;
  if (n < 10000) return 4;
  if (n < 100000) return 5;
  if (n < 1000000) return 6;
  if (n < 10000000) return 7;
  if (n < 100000000) return 8;
  let d = 9;
  for (let t = Math.floor(n / 1e9); t > 0; t = Math.floor(t / 10)) d++;
  return d;
}

/** `,"key":` at `p`. */
function keyAt(line: Uint8Array, p: number, end: number, k: string): number {
  if (p >= end || line[p] !== 44) return MISMATCH;
  const q = strAt(line, p + 1, end, k);
  if (q < 0) return q;
  return q < end && line[q] === 58 ? q + 1 : MISMATCH;
}

/** `matches`, read in place: `undefined` when some part is not plain and only encoding can tell. */
function matchPlain(d: RecordFields, seq: number, line: Uint8Array, start: number, end: number): boolean | undefined {
  if (!envelopeSafe(seq) || !envelopeSafe(d.step) || (d.cause !== undefined && !envelopeSafe(d.cause))) return undefined;
  const msg = d.msg;
  let p = litAt(line, start, end, SEQ);
  if (p >= 0) p = uintAt(line, p, end, seq);
  if (p >= 0) p = litAt(line, p, end, TYPE);
  if (p >= 0) p = strAt(line, p, end, msg.type);
  if (p >= 0) p = litAt(line, p, end, FROM);
  if (p >= 0) p = strAt(line, p, end, d.from);
  if (p >= 0) p = litAt(line, p, end, TO);
  if (p >= 0) p = strAt(line, p, end, d.to);
  if (p >= 0 && d.cause !== undefined) {
    p = litAt(line, p, end, CAUSE);
    if (p >= 0) p = uintAt(line, p, end, d.cause);
  }
  if (p >= 0) p = litAt(line, p, end, STEP);
  if (p >= 0) p = uintAt(line, p, end, d.step);
  if (p >= 0 && d.copy === true) p = litAt(line, p, end, COPY);
  const m = msg as unknown as Record<string, unknown>;
  const keys = Object.keys(m);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (p < 0) break;
    if (k === 'type' || k === 'to') continue;
    const v = m[k];
    switch (typeof v) {
      case 'string':
        p = keyAt(line, p, end, k);
        if (p >= 0) p = strAt(line, p, end, v);
        break;
      case 'number':
        if (!(Number.isSafeInteger(v) && v >= 0)) return undefined;
        p = keyAt(line, p, end, k);
        if (p >= 0) p = uintAt(line, p, end, v);
        break;
      case 'boolean':
        p = keyAt(line, p, end, k);
        if (p >= 0) p = litAt(line, p, end, v ? TRUE : FALSE);
        break;
      case 'undefined':
      case 'function':
      case 'symbol':
        break;
      default:
        return undefined;
    }
  }
  if (p === UNSURE) return undefined;
  return p >= 0 && p + 1 === end && line[p] === 125;
}

/** How the log file is opened and written (see io.ts). */
export interface LogWriterOptions {
  /** Files the run reads: the log may not be one of them. */
  readonly inputs?: readonly InputFile[];
  /** The fs calls (tests inject faults). */
  readonly fs?: FileOps;
  /** One-line warnings (no `flock` to lock the file); default: stderr. */
  readonly warn?: (line: string) => void;
}

/** Writes the event log (see the top of this file). */
export class LogWriter extends RecordEncoder {
  private fd: number;
  private readonly regular: boolean;
  private readonly fs: FileOps;
  private closed = false;
  /** The first write that failed: the file was cut back to its last complete line, nothing more is written. */
  private failure: LogFileError | null = null;
  private readonly written = { n: 0 };
  /** Bytes in the file: the end of its last complete line. */
  bytes = 0;

  /**
   * `flush`: when records reach the file. `step` (the default): the runner flushes at the end of every
   * step (a killed run loses at most the step it was in). `record`: one write per record, as it is
   * delivered (nothing delivered is lost; costs ~12% of a large run's throughput).
   */
  constructor(
    readonly path: string,
    header: string,
    private readonly flushEach: 'step' | 'record' = 'step',
    opts: LogWriterOptions = {},
  ) {
    super();
    this.fs = opts.fs ?? NODE_FILE_OPS;
    const { fd, regular } = openExclusive(path, { what: 'log', ...opts });
    this.fd = fd;
    this.regular = regular;
    this.line(header);
    this.flush();
  }

  /** Write out the complete records, move the one being encoded to the front, and grow if need be. */
  protected override full(n: number): void {
    const mark = this.mark;
    this.writeOut(mark);
    this.buf.copyWithin(0, mark, this.pos);
    this.pos -= mark;
    this.mark = 0;
    if (this.pos + n > this.buf.length) super.full(n);
  }

  /**
   * Add a delivered message. Never throws for I/O (it runs inside the bus's subscriber): a failed write
   * is kept and thrown by the next `flush`, at the end of the step.
   */
  write(d: Delivered): void {
    this.record(d, d.seq);
    if (this.flushEach === 'record') this.drain();
  }

  /** Write `buf[0, end)`, whole lines; on failure cut the file back to its last complete line. */
  private writeOut(end: number): void {
    if (this.failure !== null) return;
    try {
      writeAll(this.fs, this.fd, this.buf, 0, end, this.written);
      this.bytes += end;
    } catch (e) {
      this.fail(e, this.written.n);
    }
  }

  /** A write failed after `n` of its bytes reached the file: keep its complete lines, cut the rest, close. */
  private fail(e: unknown, n: number): void {
    const keep = this.bytes + (n > 0 ? this.buf.lastIndexOf(10, n - 1) + 1 : 0);
    const failure = writeError('log', this.path, e);
    if (this.regular && keep < this.bytes + n) {
      try {
        this.fs.truncate(this.fd, keep);
      } catch (t) {
        failure.message += `, and cutting it back to its last complete record failed too: ${describeIoError(t)}`;
      }
    }
    this.bytes = keep;
    this.failure = failure;
    this.closeFd();
  }

  private closeFd(): void {
    const fd = this.fd;
    if (fd < 0) return;
    this.fd = -1;
    try {
      this.fs.close(fd);
    } catch (e) {
      // What close reports (NFS: a deferred write error) is a failure to write the log too.
      this.failure ??= writeError('log', this.path, e);
    }
  }

  /** Write out every complete record, as a LogFileError if this or an earlier write failed. */
  flush(): void {
    this.drain();
    if (this.failure !== null) throw this.failure;
  }

  private drain(): void {
    if (this.pos === 0) return;
    this.writeOut(this.pos);
    this.pos = 0;
    this.mark = 0;
  }

  /** The run is over: write the closing record (format.ts `closingLine`) and close. */
  end(closing: string): void {
    if (this.closed) return;
    this.line(closing);
    this.close();
  }

  /** Write out what is buffered and close, without a closing record (the log then reads as cut short). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.drain();
    this.closeFd();
    if (this.failure !== null) throw this.failure;
  }

  /** Close after another error (nothing thrown: that error is the one to report). */
  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    this.drain();
    this.closeFd();
  }
}
