/**
 * Checkpoints for seeking in a log, taken at step boundaries every `every` records and kept in a sidecar
 * index `<log>.idx` next to the log. Like key frames in a video, every `KEYFRAME_EVERY`-th checkpoint
 * holds every actor; the ones between hold only the actors that changed since the previous checkpoint.
 * The index names the log's size and SHA-1 and its own body's SHA-1, and is rebuilt when it is missing,
 * stale, damaged or unreadable. It is written to a temp file in the same directory (locked: two
 * processes never write one) and renamed, so a reader never sees a torn index; it is a cache, so when
 * it cannot be written the command still answers, after a one-line warning.
 * `stateAt` composes the nearest checkpoint at or before a seq (its key frame plus the deltas after it),
 * restores it (actors stay data until a message reaches them) and replays only the records after it.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { from, type Observable } from 'rxjs';
import { LogFileError } from '../log/errors.ts';
import { warnOnStderr, writeFileAtomic } from '../log/io.ts';
import { incompleteLine, logFieldsOf, parseHead, parseLog, readLogText, RecordParser, type LogEnding, type ParsedLog } from '../log/reader.ts';
import type { Kinds } from '../runtime/kinds.ts';
import { systemState, type SystemState } from '../runtime/state.ts';
import type { MonitorState } from '../runtime/monitor.ts';
import type { Delivered, System, SystemSnapshot } from '../runtime/system.ts';
import { MODEL_VERSION } from '../version.ts';
import { replay, type Checkpoint, type ReplayResult } from './replay.ts';

export const DEFAULT_CHECKPOINT_EVERY = 2_500;
/** One full checkpoint in this many; the others are deltas. */
export const KEYFRAME_EVERY = 20;
const INDEX_KIND = 'svasim-checkpoints';
/** 7: work-queue contexts keep `inflight` as a list of { pasid, count }. 8: `incomplete`. */
const INDEX_VERSION = 8;

interface IndexHeader {
  readonly index: typeof INDEX_KIND;
  readonly version: number;
  readonly model: string;
  readonly logBytes: number;
  readonly logSha1: string;
  readonly every: number;
  /** SHA-1 of the checkpoint lines after the header: a damaged or edited checkpoint is not trusted. */
  readonly bodySha1?: string;
  /** For seeking without reading the whole log (`seekFile`): */
  readonly records?: number;
  /** The log's size, mtime and SHA-1 of its first and last 64 KiB: a cheap identity. */
  readonly quick?: QuickKey;
  /** Per checkpoint: its seq, byte offset in the log of record seq+1's line, byte offset and length of
   * the checkpoint's line in the index body, and that line's SHA-1. */
  readonly spans?: readonly (readonly [number, number, number, number, string])[];
  /** How the log ends (spans are written only for complete logs). */
  readonly ending?: LogEnding;
  /** The log is incomplete (indexed as a prefix, `allowTruncated`): what is missing, as replay said it. */
  readonly incomplete?: Incomplete;
}

/** What an incomplete log opened as a prefix is missing (replay's `incomplete`). */
export type Incomplete = NonNullable<Extract<ReplayResult, { identical: true }>['incomplete']>;

interface QuickKey {
  readonly bytes: number;
  readonly mtimeMs: number;
  readonly ends: string;
}

const ENDS = 64 * 1024;

/** The cheap identity of a log file: size, mtime and a hash of both ends. */
function quickKey(path: string): QuickKey | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    const head = Buffer.alloc(Math.min(ENDS, st.size));
    readSync(fd, head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(ENDS, st.size));
    readSync(fd, tail, 0, tail.length, st.size - tail.length);
    return { bytes: st.size, mtimeMs: st.mtimeMs, ends: createHash('sha1').update(head).update(tail).digest('hex') };
  } finally {
    closeSync(fd);
  }
}

/** Read `length` bytes of `path` at `offset`. */
function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return got === length ? buf : buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** The first line of a file (up to `max` bytes), without reading the rest. */
function firstLine(path: string, max = 16 << 20): string | null {
  const fd = openSync(path, 'r');
  try {
    let text = '';
    const buf = Buffer.alloc(64 * 1024);
    let pos = 0;
    const decoder = new TextDecoder('utf-8');
    while (pos < max) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) return null;
      text += decoder.decode(buf.subarray(0, n), { stream: true });
      pos += n;
      const nl = text.indexOf('\n');
      if (nl >= 0) return text.slice(0, nl);
    }
    return null;
  } finally {
    closeSync(fd);
  }
}

export const indexPathOf = (logPath: string): string => `${logPath}.idx`;

/** A seek past the point where the log stops matching the model. */
export class DivergenceError extends Error {
  override readonly name = 'DivergenceError';
  constructor(readonly result: Extract<ReplayResult, { identical: false }>) {
    super(`the log diverges from the model at seq ${result.seq}`);
  }
}

/**
 * Replay the whole log once and capture a checkpoint at the first step boundary after every `every`
 * records. Checkpoints stop where the log diverges (`result` says where). `allowIncomplete` accepts a
 * log that ends before the scenario does (a run in progress, or a cut log opened as a prefix).
 */
export function buildCheckpoints(
  log: ParsedLog,
  every = DEFAULT_CHECKPOINT_EVERY,
  opts: { allowIncomplete?: boolean } = {},
): { checkpoints: Checkpoint[]; result: ReplayResult } {
  const out: Checkpoint[] = [];
  let last = 0;
  // The monitor's memory only grows (sticky flags, first PASIDs): a delta keeps what was added since.
  let seen: MonitorState = { firstPasid: {}, activated: [], lockLam: [] };
  const r = replay(log, {
    allowIncomplete: opts.allowIncomplete === true,
    onBoundary: (seq, take) => {
      if (seq - last >= every) {
        const full = out.length % KEYFRAME_EVERY === 0;
        const cp = take(full);
        out.push(full ? cp : { ...cp, monitor: monitorAdded(seen, cp.monitor) });
        seen = cp.monitor;
        last = seq;
      }
    },
  });
  return { checkpoints: r.identical ? out : out.filter((c) => c.seq < r.seq), result: r };
}

/** What `now` has that `before` had not (the monitor's memory only grows). */
function monitorAdded(before: MonitorState, now: MonitorState): MonitorState {
  const had = new Set(before.activated);
  const hadLock = new Set(before.lockLam);
  const firstPasid: Record<string, number> = {};
  for (const [k, v] of Object.entries(now.firstPasid)) if (before.firstPasid[k] === undefined) firstPasid[k] = v;
  return { firstPasid, activated: now.activated.filter((t) => !had.has(t)), lockLam: now.lockLam.filter((m) => !hadLock.has(m)) };
}

/** A log opened for seeking: its records and checkpoints, with `stateAt(seq)`. */
export class SeekableLog {
  private constructor(
    readonly log: ParsedLog,
    readonly checkpoints: readonly Checkpoint[],
    /** Whether the index had to be (re)built when the log was opened. */
    readonly rebuilt: boolean,
    /** Where the log stops matching the model, if it does (seeks past it fail). */
    readonly divergence: Extract<ReplayResult, { identical: false }> | null = null,
    /** The log is incomplete and was opened as its prefix (`allowTruncated`): what is missing. */
    readonly incomplete: Incomplete | null = null,
  ) {}

  /**
   * Open `path`, using its sidecar index, or building (and writing) a new one if it is missing or stale.
   * A log cut short is a LogError ("incomplete log") unless `allowTruncated` opens it as its prefix.
   * `warn`: where a failure to write the index is said (one line; default stderr).
   */
  static open(path: string, opts: { every?: number; writeIndex?: boolean; allowTruncated?: boolean; warn?: (line: string) => void; kinds?: Kinds } = {}): SeekableLog {
    const text = readLogText(path);
    const log = parseLog(text, path, { allowTruncated: opts.allowTruncated === true, kinds: opts.kinds });
    const every = opts.every ?? DEFAULT_CHECKPOINT_EVERY;
    const header: IndexHeader = {
      index: INDEX_KIND,
      version: INDEX_VERSION,
      model: MODEL_VERSION,
      logBytes: Buffer.byteLength(text),
      logSha1: createHash('sha1').update(text).digest('hex'),
      every,
    };
    // Whether the log is complete is replay's to say (a format-1 log has no closing record; what was
    // pending at a cut is known only by replaying it): an index of this very log says what replay said.
    const cached = readIndex(indexPathOf(path), header);
    if (cached && (log.ending.kind !== 'cut' || cached.incomplete !== null)) {
      if (cached.incomplete !== null && opts.allowTruncated !== true) throw incompleteLine(path, cached.incomplete.why, log.records.length);
      return new SeekableLog(log, cached.checkpoints, false, null, cached.incomplete);
    }
    // Without allowTruncated, a log cut short is a LogError here, in replay's words.
    const { checkpoints, result } = buildCheckpoints(log, every, { allowIncomplete: opts.allowTruncated === true });
    if (!result.identical) return new SeekableLog(log, checkpoints, true, result);
    const incomplete = result.incomplete ?? null;
    if (opts.writeIndex !== false) {
      const lines = checkpoints.map((c) => `${JSON.stringify(c)}\n`);
      const body = lines.join('');
      const bodySha1 = createHash('sha1').update(body).digest('hex');
      const extra: { -readonly [K in keyof IndexHeader]?: IndexHeader[K] } = {};
      const quick = quickKey(path);
      // Byte offsets only for a complete log in the current format: seekFile reads no further than them.
      if (quick && log.upcastFrom === null && log.ending.kind === 'closed' && result.incomplete === undefined) {
        // Byte offsets of every record line in the log (line 1 is the header).
        const bytes = Buffer.from(text);
        const lineStart: number[] = [];
        for (let at = bytes.indexOf(10); at >= 0 && lineStart.length < log.records.length + 1; at = bytes.indexOf(10, at + 1)) lineStart.push(at + 1);
        let idxAt = 0;
        extra.records = log.records.length;
        extra.quick = quick;
        extra.ending = log.ending;
        extra.spans = checkpoints.map((c, i) => {
          const line = lines[i] ?? '';
          const len = Buffer.byteLength(line);
          const span = [c.seq, lineStart[c.seq] ?? bytes.length, idxAt, len, createHash('sha1').update(line).digest('hex')] as const;
          idxAt += len;
          return span;
        });
      }
      try {
        writeFileAtomic(indexPathOf(path), `${JSON.stringify({ ...header, bodySha1, ...extra, ...(incomplete ? { incomplete } : {}) })}\n${body}`, {
          what: 'index',
          onHeld: 'skip',
          ...(opts.warn ? { warn: opts.warn } : {}),
        });
      } catch (e) {
        // A cache: seeking still works from the checkpoints in memory, so the command goes on.
        if (!(e instanceof LogFileError)) throw e;
        (opts.warn ?? warnOnStderr)(`${e.message.replace(/^svasim: /, 'svasim: warning: ')}; seeking works without it, but the next command will build it again`);
      }
    }
    return new SeekableLog(log, checkpoints, true, null, incomplete);
  }

  /**
   * Read the system right after record `seq` of the log at `path` without reading the whole log: from a
   * current index, the composed checkpoint's lines are read from the index (each checked against its
   * SHA-1) and only the log's records after that checkpoint up to `seq` are read, checked and replayed.
   * The index must match the log's cheap identity (size, mtime, SHA-1 of both 64 KiB ends); `null`
   * when it does not, or has no byte offsets (then `open` reads, checks and indexes the whole log).
   */
  static seekFile<T>(path: string, seq: number, read: (sys: System) => T, kinds?: Kinds): { value: T; log: ParsedLog } | null {
    const quick = quickKey(path);
    if (!quick) return null;
    let h: IndexHeader;
    let first: string | null;
    try {
      first = firstLine(indexPathOf(path));
      if (first === null) return null;
      h = JSON.parse(first) as IndexHeader;
    } catch {
      return null;
    }
    const spans = h.spans;
    const ending = h.ending;
    if (
      h.index !== INDEX_KIND || h.version !== INDEX_VERSION || h.model !== MODEL_VERSION || !spans || h.records === undefined || !h.quick || ending?.kind !== 'closed' ||
      h.quick.bytes !== quick.bytes || h.quick.mtimeMs !== quick.mtimeMs || h.quick.ends !== quick.ends
    ) {
      return null;
    }
    const total = h.records;
    if (!Number.isInteger(seq) || seq < 0 || seq > total) throw new RangeError(`seq ${seq} is outside the log (0..${total})`);
    const logHead = firstLine(path);
    if (logHead === null) return null;
    const head = parseHead(logHead, path, false, kinds);
    if (head.chain.length > 0) return null;
    // The checkpoint at or before seq, and the key frame it builds on (every KEYFRAME_EVERY-th).
    let k = -1;
    for (let i = 0; i < spans.length && (spans[i]?.[0] ?? Infinity) <= seq; i++) k = i;
    const bodyStart = Buffer.byteLength(first) + 1;
    let from: Checkpoint | undefined;
    if (k >= 0) {
      const key = k - (k % KEYFRAME_EVERY);
      const cps: Checkpoint[] = [];
      for (let j = key; j <= k; j++) {
        const sp = spans[j];
        if (!sp) return null;
        const [, , at, len, sha1] = sp;
        const line = readAt(indexPathOf(path), bodyStart + at, len).toString('utf8');
        if (createHash('sha1').update(line).digest('hex') !== sha1) return null;
        cps.push(JSON.parse(line) as Checkpoint);
      }
      from = SeekableLog.compose(cps);
    }
    // The log's records after the checkpoint, up to seq: read, checked and laid into a sparse log.
    const start = from?.seq ?? 0;
    const offset = k >= 0 ? (spans[k]?.[1] ?? 0) : Buffer.byteLength(logHead) + 1;
    const known = from ? from.system.actors.map((a) => a.address) : [];
    const parser = new RecordParser(head, { count: start, actors: known });
    const records: Delivered[] = new Array<Delivered>(total);
    const lines: string[] = new Array<string>(total);
    let pos = offset;
    let pending = '';
    let lineNo = start + 2;
    const chunk = 1 << 20;
    for (let i = start; i < seq; ) {
      const nl = pending.indexOf('\n');
      if (nl < 0) {
        const buf = readAt(path, pos, chunk);
        if (buf.length === 0) return null;
        pos += buf.length;
        pending += buf.toString('latin1');
        continue;
      }
      const raw = Buffer.from(pending.slice(0, nl), 'latin1').toString('utf8');
      pending = pending.slice(nl + 1);
      const got = parser.parse(raw, lineNo++, false, false);
      if (got === null || !('record' in got)) return null;
      records[i] = got.record;
      lines[i] = got.line;
      i++;
    }
    const log: ParsedLog = { ...logFieldsOf(head), records, lines, truncated: 0, ending };
    let out: { value: T } | undefined;
    const r = replay(log, { ...(from ? { from } : {}), until: seq, allowIncomplete: true, onStop: (sys) => (out = { value: read(sys) }) });
    if (!r.identical) throw new DivergenceError(r);
    if (!out) return null;
    return { value: out.value, log };
  }

  /**
   * A log already in memory (no sidecar). `allowIncomplete`: the log is a run in progress (the
   * inspector's live session), not a damaged one; seeks within it are as for a complete log.
   */
  static of(log: ParsedLog, every = DEFAULT_CHECKPOINT_EVERY, opts: { allowIncomplete?: boolean } = {}): SeekableLog {
    const { checkpoints, result } = buildCheckpoints(log, every, opts);
    return new SeekableLog(log, checkpoints, true, result.identical ? null : result);
  }

  /** The whole system state right after record `seq` (0 = before the first record). */
  stateAt(seq: number): SystemState {
    return this.at(seq, systemState);
  }

  /**
   * Read the live system right after record `seq` (0 = before the first record): restored from the
   * nearest checkpoint and replayed up to `seq`. `read` must copy what it keeps; the system is discarded.
   */
  at<T>(seq: number, read: (sys: System) => T): T {
    const n = this.log.records.length;
    if (!Number.isInteger(seq) || seq < 0 || seq > n) throw new RangeError(`seq ${seq} is outside the log (0..${n})`);
    if (this.divergence && seq >= this.divergence.seq) throw new DivergenceError(this.divergence);
    const cp = this.composed(seq);
    let out: { value: T } | undefined;
    const r = replay(this.log, { ...(cp ? { from: cp } : {}), until: seq, allowIncomplete: true, onStop: (sys) => (out = { value: read(sys) }) });
    if (!r.identical) throw new DivergenceError(r);
    if (!out) throw new Error(`no state at seq ${seq}`);
    return out.value;
  }

  /** The nearest checkpoint at or before `seq`, made whole: its key frame with the deltas up to it laid over. */
  composed(seq: number): Checkpoint | undefined {
    const i = this.indexOf(seq);
    const cp = this.checkpoints[i];
    if (cp === undefined || cp.full) return cp;
    let k = i;
    while (k > 0 && !this.checkpoints[k]?.full) k--;
    return SeekableLog.compose(this.checkpoints.slice(k, i + 1));
  }

  /** A key frame and the deltas after it, in order, laid over each other into one full checkpoint. */
  static compose(cps: readonly Checkpoint[]): Checkpoint | undefined {
    const cp = cps[cps.length - 1];
    if (cp === undefined || cp.full) return cp;
    const actors = new Map<string, SystemSnapshot['actors'][number]>();
    const firstPasid: Record<string, number> = {};
    const activated: string[] = [];
    const lockLam: string[] = [];
    for (const c of cps) {
      for (const a of c.system.actors) actors.set(a.address, a);
      Object.assign(firstPasid, c.monitor.firstPasid);
      activated.push(...c.monitor.activated);
      lockLam.push(...c.monitor.lockLam);
    }
    return { ...cp, full: true, system: { ...cp.system, actors: [...actors.values()] }, monitor: { firstPasid, activated, lockLam } };
  }

  /** The last checkpoint at or before `seq` (as stored: possibly a delta). */
  nearest(seq: number): Checkpoint | undefined {
    return this.checkpoints[this.indexOf(seq)];
  }

  private indexOf(seq: number): number {
    let lo = 0;
    let hi = this.checkpoints.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = this.checkpoints[mid];
      if (c === undefined) break;
      if (c.seq <= seq) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  /** The records as an Observable (for inspectors and foreign tools). */
  records$(): Observable<Delivered> {
    return from(this.log.records);
  }
}

/** The checkpoints of a valid, current index for this log; `null` if missing, stale or unreadable. */
function readIndex(path: string, want: IndexHeader): { checkpoints: Checkpoint[]; incomplete: Incomplete | null } | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const nl = text.indexOf('\n');
  if (nl < 0) return null;
  const body = text.slice(nl + 1);
  try {
    const h = JSON.parse(text.slice(0, nl)) as Partial<IndexHeader>;
    if (
      h.index !== INDEX_KIND || h.version !== INDEX_VERSION || h.model !== want.model || h.logBytes !== want.logBytes ||
      h.logSha1 !== want.logSha1 || h.every !== want.every || h.bodySha1 !== createHash('sha1').update(body).digest('hex')
    ) {
      return null;
    }
    const checkpoints = body
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Checkpoint);
    return { checkpoints, incomplete: h.incomplete ?? null };
  } catch {
    return null;
  }
}

/** The whole system state after record `seq` of the log at `path` (using and maintaining its index). */
export function stateAt(path: string, seq: number, opts: { readonly kinds?: Kinds | undefined } = {}): SystemState {
  return SeekableLog.open(path, { kinds: opts.kinds }).stateAt(seq);
}
