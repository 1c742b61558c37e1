/**
 * Checkpoints for seeking in a log, taken at step boundaries every `every` records and kept in a sidecar
 * index `<log>.idx` next to the log. Like key frames in a video, every `KEYFRAME_EVERY`-th checkpoint
 * holds every actor; the ones between hold only the actors that changed since the previous checkpoint.
 * The index names the log's size and SHA-1 and its own body's SHA-1, and is rebuilt when it is missing,
 * stale, damaged or unreadable.
 * `stateAt` composes the nearest checkpoint at or before a seq (its key frame plus the deltas after it),
 * restores it (actors stay data until a message reaches them) and replays only the records after it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { from, type Observable } from 'rxjs';
import { parseLog, readLogText, type ParsedLog } from '../log/reader.ts';
import { systemState, type SystemState } from '../runtime/state.ts';
import type { MonitorState } from '../runtime/monitor.ts';
import type { Delivered, System, SystemSnapshot } from '../runtime/system.ts';
import { MODEL_VERSION } from '../version.ts';
import { replay, type Checkpoint, type ReplayResult } from './replay.ts';

export const DEFAULT_CHECKPOINT_EVERY = 2_500;
/** One full checkpoint in this many; the others are deltas. */
export const KEYFRAME_EVERY = 20;
const INDEX_KIND = 'svasim-checkpoints';
const INDEX_VERSION = 5;

interface IndexHeader {
  readonly index: typeof INDEX_KIND;
  readonly version: number;
  readonly model: string;
  readonly logBytes: number;
  readonly logSha1: string;
  readonly every: number;
  /** SHA-1 of the checkpoint lines after the header: a damaged or edited checkpoint is not trusted. */
  readonly bodySha1?: string;
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
 * records. Checkpoints stop where the log diverges (`result` says where).
 */
export function buildCheckpoints(log: ParsedLog, every = DEFAULT_CHECKPOINT_EVERY): { checkpoints: Checkpoint[]; result: ReplayResult } {
  const out: Checkpoint[] = [];
  let last = 0;
  // The monitor's memory only grows (sticky flags, first PASIDs): a delta keeps what was added since.
  let seen: MonitorState = { firstPasid: {}, activated: [], lockLam: [] };
  const r = replay(log, {
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
  ) {}

  /** Open `path`, using its sidecar index, or building (and writing) a new one if it is missing or stale. */
  static open(path: string, opts: { every?: number; writeIndex?: boolean; allowTruncated?: boolean } = {}): SeekableLog {
    const text = readLogText(path);
    const log = parseLog(text, path, { allowTruncated: opts.allowTruncated === true });
    const every = opts.every ?? DEFAULT_CHECKPOINT_EVERY;
    const header: IndexHeader = {
      index: INDEX_KIND,
      version: INDEX_VERSION,
      model: MODEL_VERSION,
      logBytes: Buffer.byteLength(text),
      logSha1: createHash('sha1').update(text).digest('hex'),
      every,
    };
    const cached = readIndex(indexPathOf(path), header);
    if (cached) return new SeekableLog(log, cached, false);
    const { checkpoints, result } = buildCheckpoints(log, every);
    if (!result.identical) return new SeekableLog(log, checkpoints, true, result);
    if (opts.writeIndex !== false) {
      try {
        const body = checkpoints.map((c) => `${JSON.stringify(c)}\n`).join('');
        const bodySha1 = createHash('sha1').update(body).digest('hex');
        writeFileSync(indexPathOf(path), `${JSON.stringify({ ...header, bodySha1 })}\n${body}`);
      } catch {
        // A read-only place: seeking still works from the checkpoints in memory.
      }
    }
    return new SeekableLog(log, checkpoints, true);
  }

  /** A log already in memory (no sidecar). */
  static of(log: ParsedLog, every = DEFAULT_CHECKPOINT_EVERY): SeekableLog {
    const { checkpoints, result } = buildCheckpoints(log, every);
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
    const actors = new Map<string, SystemSnapshot['actors'][number]>();
    const firstPasid: Record<string, number> = {};
    const activated: string[] = [];
    const lockLam: string[] = [];
    for (let j = k; j <= i; j++) {
      const c = this.checkpoints[j];
      if (!c) continue;
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
function readIndex(path: string, want: IndexHeader): Checkpoint[] | null {
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
    return body
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Checkpoint);
  } catch {
    return null;
  }
}

/** The whole system state after record `seq` of the log at `path` (using and maintaining its index). */
export function stateAt(path: string, seq: number): SystemState {
  return SeekableLog.open(path).stateAt(seq);
}
