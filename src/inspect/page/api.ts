/**
 * The page's only access to data. `HttpSource` talks to the inspector server (relative URLs, so the page
 * works under any prefix); `InlineSource` reads a report's `window.SVASIM_DATA` (no requests, no live
 * controls). `createSource()` picks one.
 */
import type { InlineData, LogRecord, ModelsAt, Session, StateAt, StepResult } from './types.ts';

export interface DataSource {
  /** `inline`: a static report; nothing can be fetched or stepped. */
  readonly kind: 'http' | 'inline';
  session(): Promise<Session>;
  /** Records `from`..`to` (inclusive seqs). */
  records(from: number, to: number): Promise<LogRecord[]>;
  /**
   * The state after record `seq`. An inline report may hold only some states: it answers the nearest
   * one it has (the answer's `seq` says which).
   */
  state(seq: number): Promise<StateAt>;
  /**
   * What record `seq` made its receiver do: the transitions it took and the kernel code each models
   * (computed by the server from the state before the record; a report has none).
   */
  models(seq: number): Promise<ModelsAt>;
  /** Live mode: run the next scenario step. */
  step(): Promise<StepResult>;
  /**
   * Live mode: steps run by this or another tab. `onHello` gets the server's position each time the
   * stream (re)connects (steps may have run while it was down). Returns an unsubscribe function.
   */
  subscribe(
    onStep: (s: StepResult) => void,
    onStatus?: (connected: boolean) => void,
    onHello?: (at: { lastSeq: number; nextStep: number }) => void,
  ): () => void;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function json<T>(res: Response): Promise<T> {
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: unknown };
      if (typeof body.error === 'string') msg = body.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, msg);
  }
  return (await res.json()) as T;
}

export class HttpSource implements DataSource {
  readonly kind = 'http' as const;

  async session(): Promise<Session> {
    return json<Session>(await fetch('api/session', { cache: 'no-store' }));
  }
  async records(from: number, to: number): Promise<LogRecord[]> {
    const r = await json<{ records: LogRecord[] }>(await fetch(`api/records?from=${from}&to=${to}`, { cache: 'no-store' }));
    return r.records;
  }
  async state(seq: number): Promise<StateAt> {
    return json<StateAt>(await fetch(`api/state?seq=${seq}`, { cache: 'no-store' }));
  }
  async models(seq: number): Promise<ModelsAt> {
    return json<ModelsAt>(await fetch(`api/models?seq=${seq}`, { cache: 'no-store' }));
  }
  async step(): Promise<StepResult> {
    return json<StepResult>(await fetch('api/step', { method: 'POST', cache: 'no-store' }));
  }
  subscribe(
    onStep: (s: StepResult) => void,
    onStatus?: (connected: boolean) => void,
    onHello?: (at: { lastSeq: number; nextStep: number }) => void,
  ): () => void {
    if (typeof EventSource === 'undefined') return () => undefined;
    const es = new EventSource('api/events');
    es.addEventListener('hello', (e: MessageEvent<string>) => {
      try {
        const at = JSON.parse(e.data) as { lastSeq?: unknown; nextStep?: unknown };
        if (typeof at.lastSeq === 'number' && typeof at.nextStep === 'number') onHello?.({ lastSeq: at.lastSeq, nextStep: at.nextStep });
      } catch {
        // not ours: ignore
      }
    });
    es.addEventListener('step', (e: MessageEvent<string>) => {
      try {
        onStep(JSON.parse(e.data) as StepResult);
      } catch {
        // a malformed event: ignore it, the next one carries the full new state
      }
    });
    es.addEventListener('open', () => onStatus?.(true));
    es.addEventListener('error', () => onStatus?.(false));
    return () => es.close();
  }
}

const isState = (v: unknown): v is StateAt =>
  typeof v === 'object' && v !== null && 'actors' in v && Array.isArray((v as { actors: unknown }).actors) && 'seq' in v;

export class InlineSource implements DataSource {
  readonly kind = 'inline' as const;
  private readonly seqs: number[];
  private readonly bySeq: Map<number, StateAt>;

  constructor(private readonly data: InlineData) {
    this.bySeq = new Map();
    const st = data.states;
    if (isState(st)) this.bySeq.set(st.seq, st);
    else for (const [k, v] of Object.entries(st)) if (isState(v)) this.bySeq.set(Number(k), v);
    this.seqs = [...this.bySeq.keys()].filter((n) => Number.isFinite(n)).sort((a, b) => a - b);
  }

  async session(): Promise<Session> {
    return { ...this.data.session, live: false };
  }
  async records(from: number, to: number): Promise<LogRecord[]> {
    // Records are contiguous from seq 1 (SPEC §7), so seq n is at index n - 1.
    return this.data.records.slice(Math.max(0, from - 1), Math.max(0, to));
  }
  async state(seq: number): Promise<StateAt> {
    const exact = this.bySeq.get(seq);
    if (exact) return exact;
    // The nearest state at or before seq, else the first one after it.
    let best: number | undefined;
    for (const s of this.seqs) {
      if (s <= seq) best = s;
      else {
        best ??= s;
        break;
      }
    }
    const st = best === undefined ? undefined : this.bySeq.get(best);
    if (!st) throw new ApiError(404, 'this report holds no state');
    return st;
  }
  async models(): Promise<ModelsAt> {
    // Recomputing a transition needs the model and the state before the record: the server has both.
    throw new ApiError(404, 'a report holds no kernel citations: open the log with svasim inspect to see them');
  }
  async step(): Promise<StepResult> {
    throw new ApiError(409, 'a report cannot run steps');
  }
  subscribe(): () => void {
    return () => undefined;
  }
}

export function createSource(): DataSource {
  const inline = typeof window !== 'undefined' ? window.SVASIM_DATA : undefined;
  return inline ? new InlineSource(inline) : new HttpSource();
}
