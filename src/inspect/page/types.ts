/**
 * The inspector's HTTP API as the page sees it (JSON shapes of `api/session`, `api/records`,
 * `api/state`, `api/models`, `api/step` and the `step` server-sent event), and the inline data of a report.
 */
import type { SystemState } from '../../runtime/state.ts';

// The same shapes the server sends (type-only imports: nothing of the server enters the bundle).
/** An actor's kind: one of svasim's (thread, mm, iommu, wq, kernel) or a registered kind's name. */
export type ActorKind = string;
export type { LayoutEdge, LayoutNode, MachineLayout } from '../layout.ts';
export type { ActorInfo } from '../session.ts';
import type { ActorInfo } from '../session.ts';
import type { MachineLayout } from '../layout.ts';
/** `api/models`: the transitions a record's receiver took on it, and the kernel code each models. */
export type { ModelsAt, TakenTransition } from '../models.ts';
export type { ResolvedCitation } from '../../../machines/citations.ts';

export interface Session {
  readonly title: string;
  readonly source: 'scenario' | 'log';
  readonly live: boolean;
  readonly policy: { readonly pasid: string; readonly lam: string };
  readonly steps: readonly { readonly index: number; readonly text: string }[];
  readonly nextStep: number;
  readonly lastSeq: number;
  /** The record to open on (an exploration's counterexample: its finding); `null`: the start. */
  readonly selected?: number | null;
  /** The last seq whose state can be shown (a log that diverges from the model: the seq before). */
  readonly lastShowable: number;
  /** What the page cannot show, one line each (the status line shows them). */
  readonly warnings: readonly string[];
  /** A live run stopped by a failed step: `the run stopped at step N: why` (no further step runs). */
  readonly stopped: string | null;
  readonly machines: Partial<Record<ActorKind, MachineLayout>>;
  readonly actors: readonly ActorInfo[];
}

/** One log line (SPEC §7): routing fields plus the message's payload. */
export interface LogRecord {
  readonly seq: number;
  readonly type: string;
  readonly from: string;
  readonly to: string;
  readonly cause?: number;
  readonly step: number;
  readonly [payload: string]: unknown;
}

export interface ActorState {
  readonly address: string;
  readonly kind: ActorKind;
  /** Dotted state value, e.g. `alive.idle` or `running`. */
  readonly state: string;
  readonly context: unknown;
}

export interface StateAt {
  readonly seq: number;
  readonly actors: readonly ActorState[];
  readonly system: SystemState;
}

/** `POST api/step` and the `step` server-sent event. */
export interface StepResult {
  readonly records: readonly LogRecord[];
  readonly actors: readonly ActorInfo[];
  readonly nextStep: number;
  readonly lastSeq: number;
  /** The step failed and stopped the run: why (then `records` are what it delivered before failing). */
  readonly stopped?: string | null;
}

/** What a self-contained report inlines as `window.SVASIM_DATA`. */
export interface InlineData {
  readonly session: Session;
  readonly records: readonly LogRecord[];
  /** States by seq (keys are decimal seqs), or just the final state. */
  readonly states: Readonly<Record<string, StateAt>> | StateAt;
}

/**
 * How records load: chunks of `chunk` records; logs of up to `backgroundMax` records load whole in the
 * background, larger ones as they are viewed. Tests set smaller sizes (`window.SVASIM_LOADING`, before
 * the page's script runs) to get the large-log mode from a log of a few thousand records.
 */
export interface LoadingSizes {
  readonly chunk: number;
  readonly backgroundMax: number;
}

declare global {
  interface Window {
    SVASIM_DATA?: InlineData;
    SVASIM_LOADING?: Partial<LoadingSizes>;
  }
}
