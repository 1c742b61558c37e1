/**
 * Human-readable output of a run: one line per message, indented by its cause chain, then a summary and
 * each failed expectation as expected-vs-got. Colour only on a TTY and without NO_COLOR.
 */
import { describeRefusal } from '../../machines/refusals.ts';
import { payloadOf } from '../log/format.ts';
import type { Delivered } from '../runtime/system.ts';
import { describeStep, type Failure, type RunResult, type StepOutcome } from '../runner/run.ts';
import type { Step } from '../scenario/types.ts';

export interface Style {
  readonly bold: (s: string) => string;
  readonly dim: (s: string) => string;
  readonly red: (s: string) => string;
  readonly green: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly cyan: (s: string) => string;
  readonly magenta: (s: string) => string;
}

const sgr = (open: number, close: number) => (s: string): string => `\x1b[${open}m${s}\x1b[${close}m`;
export const COLOR: Style = {
  bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39), cyan: sgr(36, 39), magenta: sgr(35, 39),
};
const id = (s: string): string => s;
export const PLAIN: Style = { bold: id, dim: id, red: id, green: id, yellow: id, cyan: id, magenta: id };

/** Colour only on a terminal, and not with a non-empty NO_COLOR (no-color.org) or TERM=dumb. */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  const noColor = env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '';
  return stream.isTTY === true && !noColor && env['TERM'] !== 'dumb' ? COLOR : PLAIN;
}

/** How a message type is shown: the kernel events stand out, internal requests recede. */
function paintType(type: string, d: Delivered, st: Style): string {
  switch (type) {
    case 'trap.gp':
    case 'trap.ud':
    case 'signal.sigsegv':
    case 'signal.sigill':
      return st.bold(st.red(type));
    case 'fault.dmar':
      return 'suppressed' in d.msg && d.msg.suppressed ? st.red(type) : st.bold(st.red(type));
    case 'invariant.violation':
      return st.bold(st.magenta(type));
    case 'gp.fixup':
    case 'msr.write':
      return st.bold(st.cyan(type));
    case 'pasid.alloc':
    case 'pasid.get':
    case 'pasid.put':
    case 'pasid.free':
      return st.bold(st.yellow(type));
    case 'pasidtable.set':
    case 'pasidtable.clear':
      return st.yellow(type);
    case 'wq.accept':
    case 'wq.complete':
      return st.green(type);
    case 'wq.retry':
      return st.yellow(type);
    default:
      return type.startsWith('sys.') || type.startsWith('insn.') ? st.bold(type) : st.dim(type);
  }
}

function formatValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (typeof v === 'string') return /^[\w.:/-]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

export function formatPayload(d: Delivered): string {
  return Object.entries(payloadOf(d))
    .map(([k, v]) => `${k}=${k === 'reason' && typeof v === 'number' ? `0x${v.toString(16)}` : formatValue(v)}`)
    .join(' ');
}

/**
 * Prints each step as a tree of causes: a message is printed under the message whose handling sent it,
 * children in delivery order. (Delivery order interleaves branches, e.g. an exec's teardown and its
 * ref drops; the tree keeps every line under its real cause, and `#seq` keeps the delivery order.)
 */
export class TracePrinter {
  private records: Delivered[] = [];

  constructor(
    private readonly write: (line: string) => void,
    private readonly st: Style,
  ) {}

  /** Collect one delivered message of the current step. */
  record(d: Delivered): void {
    this.records.push(d);
  }

  /** Print the step's header, its messages as a cause tree, and its result. */
  endStep(o: StepOutcome): void {
    this.write(this.st.bold(`step ${o.index}: ${describeStep(o.step)}`));
    const children = new Map<number, Delivered[]>();
    const roots: Delivered[] = [];
    const inStep = new Set(this.records.map((d) => d.seq));
    for (const d of this.records) {
      if (d.cause === undefined || !inStep.has(d.cause)) roots.push(d);
      else {
        const list = children.get(d.cause);
        if (list) list.push(d);
        else children.set(d.cause, [d]);
      }
    }
    const walk = (d: Delivered, depth: number): void => {
      this.line(d, depth);
      for (const c of children.get(d.seq) ?? []) walk(c, depth + 1);
    };
    for (const r of roots) walk(r, 0);
    this.records = [];
    this.stepResult(o);
  }

  /**
   * Print an interleaved schedule (an exploration's counterexample) in delivery order: each input with the
   * step it runs, each other message under the line of the input or message it answers (indented one
   * level), and `mark` pointed at the record of the finding.
   */
  schedule(records: readonly Delivered[], steps: readonly Step[], mark: number): void {
    // A header each time the schedule moves to another step's messages (steps interleave): every line
    // sits under the step it belongs to; `#seq` keeps the delivery order.
    let current = -1;
    for (const d of records) {
      if (d.step !== current && d.from !== 'monitor') {
        current = d.step;
        const step = steps[d.step];
        const input = d.cause === undefined && d.from === 'user';
        this.write(this.st.bold(`step ${d.step}: ${step ? describeStep(step) : '?'}${input ? '' : ' (continued)'}`));
      }
      this.line(d, d.cause === undefined ? 0 : 1, d.seq === mark ? this.st.bold(this.st.magenta('   ◀ the finding')) : '');
    }
  }

  private line(d: Delivered, depth: number, suffix = ''): void {
    const route = this.st.dim(`${d.from} → ${d.to}`);
    const payload = formatPayload(d);
    this.write(`${'  '.repeat(depth + 1)}${this.st.dim(`#${d.seq}`)} ${paintType(d.msg.type, d, this.st)} ${route}${payload ? ` ${payload}` : ''}${suffix}`);
  }

  private stepResult(o: StepOutcome): void {
    const r = o.result;
    const painted = r === 'ok' || r === 'accepted' ? this.st.green(r) : r === 'retry' ? this.st.yellow(r) : this.st.red(r);
    const value = o.value === undefined ? '' : ` value=${formatValue(o.value)}`;
    // The kernel check that refused, from the step's sys.return (its record shows the bare code).
    const reason = o.reason === undefined ? '' : ` (${describeRefusal(o.reason)})`;
    this.write(`  = ${painted}${value}${reason}${o.pasid === null ? '' : ` (mm PASID ${o.pasid})`}`);
  }
}

export function formatFailure(f: Failure, r: RunResult): string {
  const where = f.step === null ? 'final' : `step ${f.step} (${describeStepAt(r, f.step)})`;
  return `${where}: ${f.what}: expected ${f.expected}, got ${f.got}`;
}

function describeStepAt(r: RunResult, i: number): string {
  const s = r.scenario.steps[i];
  return s ? describeStep(s) : '?';
}

/** The top-level state of an actor ("alive", "exiting", "dead"), without substates. */
const topState = (state: string): string => state.split('.')[0] ?? state;

export function summaryLines(r: RunResult, st: Style): string[] {
  const c = (t: string): number => r.counts[t] ?? 0;
  const lines: string[] = [];
  lines.push(st.bold(`summary: ${r.scenario.name}`));
  lines.push(`  policy pasid=${r.scenario.policy.pasid} lam=${r.scenario.policy.lam}; ${r.steps.length} steps, ${r.messages} messages`);
  const suppressed = r.suppressedDmar;
  lines.push(
    `  #GP traps ${c('trap.gp')}, fixups ${c('gp.fixup')}, SIGSEGV ${c('signal.sigsegv')}, ${c('signal.sigill') > 0 ? `#UD SIGILL ${c('signal.sigill')}, ` : ''}` +
      `DMAR faults ${c('fault.dmar') - suppressed} reported${suppressed > 0 ? ` + ${suppressed} suppressed (entry torn down at exit)` : ''}`,
  );
  lines.push(`  ENQCMD accepted ${c('wq.accept')} / retry ${c('wq.retry')}, completions ${c('wq.complete')}`);
  lines.push(`  PASID allocs ${c('pasid.alloc')}, gets ${c('pasid.get')}, puts ${c('pasid.put')}, frees ${c('pasid.free')}`);
  for (const p of r.processes) {
    const refs = r.scenario.policy.pasid === 'seed-2021' && p.pasid !== null ? `, refs ${p.refs ?? 0}` : '';
    const threads = p.threads
      .map((t) => (t.state === 'exited' ? `${t.name} exited` : `${t.name} IA32_PASID=${t.msr ?? 'unset'}${t.activated ? ' activated' : ''}`))
      .join('; ');
    lines.push(`  process ${p.process} (mm:${p.mm} ${topState(p.state)}): PASID ${p.pasid ?? 'none'}${refs} — ${threads}`);
  }
  return lines;
}
