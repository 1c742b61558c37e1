/**
 * The `svasim` command line (SPEC §8). Exit codes: 0 all expectations hold, 1 an expectation or invariant
 * failed, 2 bad input (one line on stderr, no stack trace).
 */
import { basename } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Policy } from '../../machines/protocol.ts';
import { loadScenarioFile, parsePolicyOverride, ScenarioError } from '../scenario/load.ts';
import { runScenario, type RunResult } from '../scenario/run.ts';
import type { Scenario } from '../scenario/types.ts';
import { builtinNames, builtinPath } from '../scenarios/index.ts';
import { LOG_FORMAT_VERSION, MODEL_VERSION } from '../version.ts';
import { cutOf, incompleteLine, incompleteWhy, LogError, parseLog, readLog, type ParsedLog } from '../log/reader.ts';
import { divergenceData, replay, replayFile, type ReplayResult } from '../replay/replay.ts';
import { formatWhatIf, whatIf } from '../replay/whatif.ts';
import { formatState, systemState } from '../runtime/state.ts';
import type { EngineKind } from '../runtime/system.ts';
import type { AnyStateMachine } from 'xstate';
import { machineDiagram, sequenceDiagram } from '../inspect/mermaid.ts';
import { MACHINES } from '../../machines/index.ts';
import { DivergenceError, SeekableLog } from '../replay/checkpoints.ts';
import { looksLikeLog, serve, writeReport } from './inspect.ts';
import { LiveSession, LogSession } from '../inspect/session.ts';
import { sendToStately } from '../inspect/stately.ts';
import { createSkyInspector } from '@statelyai/inspect';
import { closingLine, headerLine, recordLine } from '../log/format.ts';
import { refuseInputs } from '../log/io.ts';
import { formatFailure, styleFor, summaryLines, TracePrinter, type Style } from './trace.ts';

export interface Io {
  readonly stdout: { write(s: string): unknown; isTTY?: boolean };
  readonly stderr: { write(s: string): unknown; isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  /** Long-running commands (inspect) stop when this resolves; by default on SIGINT/SIGTERM. */
  readonly until?: Promise<unknown>;
  /** How long `inspect --stately` waits for the online inspector to connect and take the events. */
  readonly statelyGraceMs?: number;
}

/** A user mistake: printed as one line, exit 2. */
export class UsageError extends Error {}

const HELP: Record<string, string> = {
  main: `svasim — event-sourced actor simulation of the x86 Linux SVA stack (PASID, IA32_PASID, ENQCMD, #GP, DMAR, LAM)

usage: svasim <command> [options]

commands:
  run <scenario.json|builtin-name>   run a scenario, print its trace and summary, write its event log
  run --all                          run every built-in scenario, one verdict line each
  replay <log.jsonl>                 re-execute a log in its recorded order and check every message
  list                               list the built-in scenarios
  diagram [machine|all]              Mermaid stateDiagram of the machines (thread, mm, iommu, wq, kernel)
  diagram --log FILE [--from N --to M]  Mermaid sequenceDiagram of log records
  inspect <scenario|log> [--port N]  the offline inspector: statecharts, sequence, time travel, live steps
  report <log> [--out FILE]          one self-contained HTML file (sequence view and final state)
  explore                            not in this version (the README's "Not yet implemented" says what is planned)

Run 'svasim <command> --help' for a command's options.`,
  run: `usage: svasim run <scenario.json|builtin-name> [options]
       svasim run --all [--policy ...]

Runs the scenario's steps one by one (each to quiescence, FIFO delivery), prints one line per message
indented under its cause, a summary, and every failed expectation as expected-vs-got.

options:
  --policy pasid=P,lam=L   override the scenario's policy (pasid: seed-2021|merged; lam: poc-2022|v6.4|off)
  --log FILE               write the event log to FILE (default: <name>.jsonl in the current directory)
  --no-log                 do not write an event log
  --flush step|record      when records reach the log file: at the end of each step (default: a
                           killed run loses at most that step) or each as it is delivered
  --engine compiled|xstate how actors are stepped: svasim's compiled executor of the machine
                           definitions (default) or xstate's own interpreter (same messages, slower)
  --json                   print a machine-readable result instead of the trace
  --quiet                  print only the summary and failures
  --all                    run every built-in scenario (one verdict line each)
  -h, --help               this help

exit status: 0 all expectations hold, 1 an expectation or invariant failed, 2 bad input`,
  replay: `usage: svasim replay <log.jsonl> [options]

Re-executes the log's inputs in its recorded delivery order (any interleaving) and checks that every
actor sends exactly the logged messages. On the first difference, shows the seq, the logged and the
re-executed record, and the chain of logged causes that led there.

options:
  --until SEQ         print the whole system state right after record SEQ: processes, threads (MSR,
                      activated), mms (PASID, bindings, portals, LAM), PASIDs and refs, device PASID
                      tables, work queues. Seeks from checkpoints kept in a sidecar index <log>.idx,
                      built on first use and rebuilt when the log changes
  --policy pasid=P,lam=L
                      what-if: re-run the log's scenario under another policy and show, step by step,
                      where results, traps, fixups, signals, refcounts, frees and DMAR faults differ
                      (exit 0 no difference, 1 some step differs)
  --allow-truncated   replay the complete prefix of an incomplete log (a run killed, stopped or
                      whose writes failed): no closing record, its last line or header cut short,
                      records that stop between or inside steps, header only
  --engine compiled|xstate
                      how actors are re-executed (whole-log replay): the compiled executor (default)
                      or xstate's own interpreter
  --json              print a machine-readable result (with --until: the state as JSON)
  -h, --help          this help

exit status: 0 identical, 1 diverged, 2 bad input (unreadable, malformed or damaged log)`,
  diagram: `usage: svasim diagram [thread|mm|iommu|wq|kernel|all]
       svasim diagram --log FILE [--from SEQ] [--to SEQ] [--allow-truncated]

Writes Mermaid text to stdout: a stateDiagram-v2 per machine, read from the machine definitions
(arrows for transitions that change state; in-place handlers listed under each state), or a
sequenceDiagram of a log's records with one lane per actor (#GP traps, SIGSEGV and DMAR faults drawn
as lost messages). --allow-truncated draws the complete prefix of an incomplete log.`,
  inspect: `usage: svasim inspect <scenario.json|builtin-name|log.jsonl> [options]

Serves the inspector page on 127.0.0.1 (nothing leaves the machine: no CDN, no fonts, no telemetry)
and prints its URL. The page shows every actor as its statechart with the current state and context,
a message sequence diagram (click a message for its payload and chain of causes), a timeline to step,
jump and play through the records, and filters by process, thread, device and message type.
A scenario runs live: "Next step" runs its next step and the new messages stream into open pages.
A log is scrubbed with replay's time travel (checkpoints in the sidecar <log>.idx).

options:
  --port N                 listen on port N (default: any free port)
  --policy pasid=P,lam=L   run a scenario under another policy
  --allow-truncated        open the complete prefix of an incomplete log (a run killed, stopped or
                           whose writes failed): no closing record, its last line or header cut
                           short, records that stop between or inside steps, header only
  --stately                send the run to Stately's online inspector instead (needs the internet;
                           uses @statelyai/inspect, the xstate v5 successor of @xstate/inspect)
  -h, --help               this help

Ctrl-C stops the server.`,
  report: `usage: svasim report <log.jsonl> [--out FILE] [--allow-truncated]

Writes one HTML file that opens from disk with no server and no network: the inspector page with the
log's sequence view, the state after each step and the final state inlined.

options:
  -o, --out FILE      the HTML file (default: the log's path with its .jsonl extension replaced by
                      .html, e.g. run.jsonl -> run.html; any other name gets .html appended)
  --allow-truncated   open the complete prefix of an incomplete log (a run killed, stopped or whose
                      writes failed): no closing record, its last line or header cut short, records
                      that stop between or inside steps, header only
  -h, --help          this help`,
  list: `usage: svasim list [--json]

Lists the built-in scenarios with their policies and titles.`,
};

const RUN_OPTIONS = {
  policy: { type: 'string' },
  log: { type: 'string' },
  'no-log': { type: 'boolean' },
  flush: { type: 'string' },
  engine: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  all: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

function parse<O extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
    const unknown = /^Unknown option '([^']+)'/.exec(msg);
    const ambiguous = /^Option '([^']+)' argument is ambiguous/.exec(msg);
    if (ambiguous) {
      const opt = ambiguous[1]?.split(/[ ,]/)[0] ?? '';
      const i = args.indexOf(opt);
      throw new UsageError(`svasim ${command}: ${opt} got "${args[i + 1] ?? ''}", which looks like an option (write ${opt}=VALUE if you mean it)`);
    }
    throw new UsageError(`svasim ${command}: ${unknown ? `unknown option ${unknown[1]} (see svasim ${command} --help)` : msg}`);
  }
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        throw new UsageError('svasim: missing command (expected run, list, replay, inspect, report or diagram; see svasim --help)');
      case '--version':
      case '-V':
        io.stdout.write(`svasim ${MODEL_VERSION} (log format ${LOG_FORMAT_VERSION})\n`);
        return 0;
      case '-h':
      case '--help':
      case 'help':
        io.stdout.write(`${HELP['main']}\n`);
        return 0;
      case 'run':
        return cmdRun(rest, io);
      case 'list':
        return cmdList(rest, io);
      case 'replay':
        return cmdReplay(rest, io);
      case 'diagram':
        return cmdDiagram(rest, io);
      case 'inspect':
        return await cmdInspect(rest, io);
      case 'report':
        return await cmdReport(rest, io);
      case 'explore':
        if (rest.includes('--help') || rest.includes('-h')) {
          io.stdout.write(`svasim ${command}: not in this version (planned: the README's section "Not yet implemented" says what it will do)\n`);
          return 0;
        }
        throw new UsageError(`svasim ${command}: not in this version (planned: see the README's section "Not yet implemented")`);
      default:
        throw new UsageError(`svasim: unknown command "${command}" (expected run, list, replay, inspect, report or diagram; see svasim --help)`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof ScenarioError || e instanceof LogError) {
      io.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

/** A file path, or the name of a built-in scenario; the override applied on top of the file's policy. */
function resolveScenario(arg: string, override: Partial<Policy>, command = 'run'): { scenario: Scenario; filePolicy: Policy; name: string; file: string } {
  const builtin = builtinPath(arg);
  let name: string;
  let file: string;
  if (builtin && !arg.endsWith('.json')) {
    file = builtin;
    name = arg;
  } else if (!arg.endsWith('.json') && !arg.includes('/')) {
    throw new UsageError(`svasim ${command}: "${arg}" is neither a scenario file${command === 'inspect' ? ', a log' : ''} nor a built-in scenario (see svasim list)`);
  } else {
    file = arg;
    name = basename(arg).replace(/\.json$/, '');
  }
  const loaded = loadScenarioFile(file);
  return { scenario: { ...loaded, policy: { ...loaded.policy, ...override } }, filePolicy: loaded.policy, name, file };
}

function cmdRun(args: string[], io: Io): number {
  const { values, positionals } = parse('run', args, RUN_OPTIONS);
  if (values.help) {
    io.stdout.write(`${HELP['run']}\n`);
    return 0;
  }
  const override = values.policy === undefined ? {} : parsePolicyOverride(values.policy);
  const engine = parseEngine('run', values.engine);
  if (values.all) {
    if (positionals.length > 0) throw new UsageError('svasim run: --all takes no scenario argument');
    // --all writes no logs (one verdict per built-in): a log option would be silently ignored.
    for (const o of ['log', 'flush'] as const) if (values[o] !== undefined) throw new UsageError(`svasim run: --all writes no logs; --${o} needs one scenario (svasim run <name> --${o} …)`);
    return runAll(io, override, engine, values.json === true);
  }
  if (positionals.length !== 1) throw new UsageError('svasim run: expected one scenario file or built-in name (see svasim run --help)');
  if (values.log !== undefined && values['no-log']) throw new UsageError('svasim run: --log and --no-log exclude each other');
  const flush = values.flush;
  if (flush !== undefined && flush !== 'step' && flush !== 'record') throw new UsageError(`svasim run: --flush expects step or record, got "${flush}"`);
  if (flush !== undefined && values['no-log']) throw new UsageError('svasim run: --flush needs a log (it excludes --no-log)');
  const { scenario, filePolicy, name, file } = resolveScenario(positionals[0] ?? '', override);
  const log = values['no-log'] ? undefined : (values.log ?? `${name}.jsonl`);
  const st = styleFor(io.stdout, io.env);
  const out = (line: string): void => {
    io.stdout.write(`${line}\n`);
  };
  const tracing = !values.json && !values.quiet;
  const printer = new TracePrinter(out, st);
  // The log is opened (locked, refused if it is the scenario file) before the first step runs.
  const result = runScenario(scenario, {
    ...(log === undefined ? {} : { log, logInputs: [{ path: file, role: 'the scenario this run reads' }] }),
    onWarning: (line) => io.stderr.write(`${line}\n`),
    ...(flush === undefined ? {} : { flush }),
    ...(engine === undefined ? {} : { engine }),
    filePolicy,
    onRecord: tracing ? (d) => printer.record(d) : undefined,
    onStep: tracing ? (o) => printer.endStep(o) : undefined,
  });
  if (values.json) {
    out(JSON.stringify(jsonResult(result, log), null, 2));
  } else {
    if (tracing) out('');
    for (const line of summaryLines(result, st)) out(line);
    out(log === undefined ? '  log: not written' : `  log: ${log} (${result.messages} record${result.messages === 1 ? '' : 's'})`);
    if (result.failures.length > 0) {
      out(st.bold(st.red(`FAILED: ${result.failures.length} expectation(s)`)));
      for (const f of result.failures) out(`  ${formatFailure(f, result)}`);
    } else {
      out(st.bold(st.green('PASS: every expectation holds')));
    }
  }
  return result.ok ? 0 : 1;
}

function jsonResult(r: RunResult, log: string | undefined): Record<string, unknown> {
  return {
    name: r.name,
    ok: r.ok,
    policy: r.scenario.policy,
    messages: r.messages,
    log: log ?? null,
    steps: r.steps.map((s) => ({ index: s.index, op: s.step.op, result: s.result, ...(s.value === undefined ? {} : { value: s.value }), ...(s.reason === undefined ? {} : { reason: s.reason }), pasid: s.pasid, messages: s.messages })),
    failures: r.failures,
    counts: r.counts,
    processes: r.processes,
  };
}

/** `--engine`: how actors are stepped (`undefined`: the default). */
function parseEngine(command: string, value: string | undefined): EngineKind | undefined {
  if (value === undefined || value === 'compiled' || value === 'xstate') return value;
  throw new UsageError(`svasim ${command}: --engine expects compiled or xstate, got "${value}"`);
}

/**
 * Every built-in scenario: a verdict line each, or with `json` one JSON document holding every result
 * (as `run --json` gives it, with the built-in's name under `builtin`); the exit code is the same.
 */
function runAll(io: Io, override: Partial<Policy>, engine: EngineKind | undefined, json: boolean): number {
  const st = styleFor(io.stdout, io.env);
  let failed = 0;
  const names = builtinNames();
  const results: unknown[] = [];
  for (const name of names) {
    const path = builtinPath(name);
    if (!path) continue;
    const scenario = loadScenarioFile(path, override);
    const r = runScenario(scenario, engine === undefined ? {} : { engine });
    if (!r.ok) failed++;
    if (json) {
      results.push({ builtin: name, ...jsonResult(r, undefined) });
      continue;
    }
    const verdict = r.ok ? st.green('PASS') : st.red('FAIL');
    io.stdout.write(`${verdict} ${name.padEnd(28)} ${st.dim(`pasid=${scenario.policy.pasid} lam=${scenario.policy.lam}`)}  ${scenario.name}\n`);
    if (!r.ok) {
      for (const f of r.failures) io.stdout.write(`       ${formatFailure(f, r)}\n`);
    }
  }
  if (json) io.stdout.write(`${JSON.stringify({ ok: failed === 0, passed: names.length - failed, failed, scenarios: results }, null, 2)}\n`);
  else io.stdout.write(`${names.length - failed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

function cmdReplay(args: string[], io: Io): number {
  const { values, positionals } = parse('replay', args, {
    'allow-truncated': { type: 'boolean' },
    json: { type: 'boolean' },
    until: { type: 'string' },
    policy: { type: 'string' },
    engine: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(`${HELP['replay']}\n`);
    return 0;
  }
  const engine = parseEngine('replay', values.engine);
  if (engine !== undefined && (values.until !== undefined || values.policy !== undefined)) {
    throw new UsageError('svasim replay: --engine applies to a whole-log replay (not with --until or --policy)');
  }
  if (positionals.length !== 1) throw new UsageError('svasim replay: expected one log file (see svasim replay --help)');
  if (values.policy !== undefined) {
    if (values.until !== undefined) throw new UsageError('svasim replay: --policy and --until exclude each other');
    const override = parsePolicyOverride(values.policy);
    const wlog = readLog(positionals[0] ?? '', { allowTruncated: values['allow-truncated'] === true });
    const check = replay(wlog, { allowIncomplete: values['allow-truncated'] === true });
    if (!check.identical) io.stderr.write(`warning: ${wlog.source} does not replay (diverges at seq ${check.seq}): the logged side below is what the log says, not what this model does\n`);
    const w = whatIf(wlog, override);
    io.stdout.write(values.json ? `${JSON.stringify(w, null, 2)}\n` : `${formatWhatIf(w).join('\n')}\n`);
    return w.differing === 0 ? 0 : 1;
  }
  const until = seqOption('replay', 'until', values.until, '(0 for the state before the first record)');
  const allowTruncated = values['allow-truncated'] === true;
  const st = styleFor(io.stdout, io.env);
  const out = (line: string): void => {
    io.stdout.write(`${line}\n`);
  };
  const notes = (log: Pick<ParsedLog, 'source' | 'upcastFrom' | 'otherModel' | 'header'>): void => {
    if (log.upcastFrom !== null) io.stderr.write(`note: ${log.source} is in log format ${log.upcastFrom}; converted to format ${LOG_FORMAT_VERSION}\n`);
    if (log.otherModel) {
      io.stderr.write(`warning: ${log.source} was written by svasim model ${log.header.model}; this is model ${MODEL_VERSION}: a divergence may be a model change\n`);
    }
  };
  /** An incomplete log read as its prefix: said once, in replay's words (reader.ts `incompleteWhy`). */
  const incompleteNote = (source: string, incomplete: { readonly why: string } | null | undefined): void => {
    if (incomplete) io.stderr.write(`note: ${source} is incomplete, replayed as a prefix: ${incomplete.why}\n`);
  };
  if (until !== undefined) {
    // With a current index, read only the nearest checkpoint and the records after it.
    if (!allowTruncated) {
      try {
        const fast = SeekableLog.seekFile(positionals[0] ?? '', until, systemState);
        if (fast) {
          notes(fast.log);
          io.stdout.write(values.json ? `${JSON.stringify(fast.value, null, 2)}\n` : `${formatState(fast.value).join('\n')}\n`);
          return 0;
        }
      } catch (e) {
        // Past the end, or a divergence: the full path below reports it with the whole log at hand.
        if (!(e instanceof RangeError || e instanceof DivergenceError || e instanceof LogError)) throw e;
      }
    }
    // Otherwise open the log for seeking (one read and parse; the index is built or reused).
    const seekable = SeekableLog.open(positionals[0] ?? '', { allowTruncated, warn: (line) => io.stderr.write(`${line}\n`) });
    const log = seekable.log;
    notes(log);
    incompleteNote(log.source, seekable.incomplete);
    if (until > log.records.length) throw new UsageError(`svasim replay: --until ${values.until} is past the end of ${log.source} (${count(log.records.length)} records)`);
    try {
      const state = seekable.stateAt(until);
      io.stdout.write(values.json ? `${JSON.stringify(state, null, 2)}\n` : `${formatState(state).join('\n')}\n`);
      return 0;
    } catch (e) {
      if (!(e instanceof DivergenceError)) throw e;
      if (values.json) {
        out(JSON.stringify({ log: log.source, until, ...divergenceData(e.result) }, null, 2));
        return 1;
      }
      out(st.bold(st.red(`cannot show seq ${until}: the log diverges from the model before it`)));
      printDivergence(e.result, log, out, st);
      return 1;
    }
  }
  // A whole replay streams the log: records are checked and re-executed one at a time, not kept.
  let head: Pick<ParsedLog, 'source' | 'upcastFrom' | 'otherModel' | 'header' | 'scenario'> | null = null;
  const r = replayFile(positionals[0] ?? '', { allowTruncated, ...(engine === undefined ? {} : { engine }), onHead: (h) => {
    head = h;
    notes(h);
  } });
  const log = head as Pick<ParsedLog, 'source' | 'upcastFrom' | 'otherModel' | 'header' | 'scenario'> | null;
  if (log === null) throw new Error('replayFile did not report the log header');
  if (values.json) {
    // The records as objects (a consumer should not have to parse JSON inside JSON).
    out(JSON.stringify({ log: log.source, ...(r.identical ? r : { ...divergenceData(r), truncated: r.truncated }) }, null, 2));
    return r.identical ? 0 : 1;
  }
  if (r.identical) {
    out(st.green(`identical: ${r.records} records of ${log.source} replayed (${log.scenario.name}; pasid=${log.scenario.policy.pasid} lam=${log.scenario.policy.lam})`));
    incompleteNote(log.source, r.incomplete);
    return 0;
  }
  printDivergence(r, log, out, st);
  return 1;
}

/** Thousands separators, as the reader's messages write counts. */
const count = (n: number): string => n.toLocaleString('en-US');

/**
 * A seq option: digits only, within the integers a number holds exactly (a larger one would be echoed
 * rounded); `undefined` when absent. Messages echo the argument as typed.
 */
function seqOption(cmd: string, name: string, v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`svasim ${cmd}: --${name} expects a seq ${what}, got "${v}"`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new UsageError(`svasim ${cmd}: --${name} ${v} is too large (a seq is at most ${Number.MAX_SAFE_INTEGER})`);
  return n;
}

function printDivergence(
  r: Extract<ReplayResult, { identical: false }>,
  log: Pick<ParsedLog, 'otherModel' | 'header' | 'upcastFrom'>,
  out: (line: string) => void,
  st: Style,
): void {
  out(st.bold(st.red(`diverged at seq ${r.seq}${log.otherModel ? ` (the log is from model ${log.header.model}: this may be a model change)` : ''}`)));
  // Only a complete log (its closing record) diverges at its end: a cut one, any format, is incomplete.
  const ends = '(the log ends here, complete: its closing record follows)';
  out(`  logged:   ${r.expected ?? ends}`);
  out(`  replayed: ${r.actual ?? '(nothing)'}`);
  if (r.causes.length > 0) {
    out('  caused by (logged):');
    for (const c of r.causes) out(`    ${c}`);
  }
}

function cmdDiagram(args: string[], io: Io): number {
  const { values, positionals } = parse('diagram', args, {
    log: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    'allow-truncated': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(`${HELP['diagram']}\n`);
    return 0;
  }
  if (values.log !== undefined) {
    if (positionals.length > 0) throw new UsageError('svasim diagram: --log takes no machine name');
    const allowTruncated = values['allow-truncated'] === true;
    // Read as a prefix whatever the flag: a cut log is refused below, in replay's words and with what
    // --allow-truncated does here (draws, not replays).
    const log = readLog(values.log, { allowTruncated: true });
    // A log cut short is said in replay's words: replayed as a prefix, it knows what was still pending
    // (only then: a complete log is drawn without re-executing it); --allow-truncated draws its prefix.
    const cut = cutOf(log);
    const incomplete = log.ending.kind === 'cut' || (log.ending.kind === 'unmarked' && cut.lastStep < cut.steps - 1);
    let why = '';
    if (incomplete) {
      const r = replay(log, { allowIncomplete: true });
      why = r.identical && r.incomplete !== undefined ? r.incomplete.why : incompleteWhy(cut);
      if (!allowTruncated) throw incompleteLine(log.source, why, log.records.length, 'draws');
    }
    const from = seqOption('diagram', 'from', values.from, '(a positive integer)') ?? 1;
    const to = seqOption('diagram', 'to', values.to, '(a positive integer)') ?? Number.POSITIVE_INFINITY;
    if (to < from) throw new UsageError(`svasim diagram: --to ${values.to} is before --from ${values.from ?? 1}`);
    // A header-only prefix is an empty diagram, unless a range was asked of it.
    if (from > log.records.length && (log.records.length > 0 || values.from !== undefined)) {
      throw new UsageError(`svasim diagram: --from ${values.from ?? 1} is past the end of ${log.source} (${log.records.length === 0 ? 'no records' : `${count(log.records.length)} record${log.records.length === 1 ? '' : 's'}`})`);
    }
    if (incomplete) io.stderr.write(`note: ${log.source} is incomplete, drawn as a prefix: ${why}\n`);
    io.stdout.write(sequenceDiagram(log.records, from, to));
    return 0;
  }
  if (values.from !== undefined || values.to !== undefined || values['allow-truncated'] !== undefined) {
    throw new UsageError('svasim diagram: --from/--to/--allow-truncated need --log');
  }
  const which = positionals[0] ?? 'all';
  if (positionals.length > 1) throw new UsageError('svasim diagram: expected at most one machine name');
  const names = which === 'all' ? Object.keys(MACHINES) : [which];
  for (const name of names) {
    const m = (MACHINES as Record<string, AnyStateMachine>)[name];
    if (!m) throw new UsageError(`svasim diagram: unknown machine "${name}" (expected ${Object.keys(MACHINES).join(', ')} or all)`);
    io.stdout.write(`${names.length > 1 ? `%% ${name}\n` : ''}${machineDiagram(m)}`);
  }
  return 0;
}

async function cmdInspect(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('inspect', args, {
    port: { type: 'string' },
    policy: { type: 'string' },
    stately: { type: 'boolean' },
    'allow-truncated': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(`${HELP['inspect']}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('svasim inspect: expected one scenario, built-in name or log (see svasim inspect --help)');
  const source = positionals[0] ?? '';
  let port = 0;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d{1,5}$/.test(values.port) || port > 65535) throw new UsageError(`svasim inspect: --port expects a port number (0-65535), got "${values.port}"`);
  }
  const override = values.policy === undefined ? {} : parsePolicyOverride(values.policy);
  const isLog = looksLikeLog(source);
  if (isLog && values.policy !== undefined) throw new UsageError('svasim inspect: --policy applies to a scenario, not a log (for a what-if use svasim replay --policy)');
  if (values.stately) return stately(source, isLog, override, io);
  const session = isLog
    ? openLogSession(source, values['allow-truncated'] === true, io)
    : (() => {
        const { scenario, filePolicy } = resolveScenario(source, override, 'inspect');
        return new LiveSession(scenario, filePolicy);
      })();
  try {
    return await serve(session, { port, write: (line) => io.stdout.write(`${line}\n`), ...(io.until ? { until: io.until } : {}) });
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : '';
    if (code === 'EADDRINUSE') throw new UsageError(`svasim inspect: port ${port} is already in use (--port 0 picks a free one)`);
    if (code === 'EACCES') throw new UsageError(`svasim inspect: no permission to listen on port ${port}`);
    throw e;
  }
}

/** A log for the inspector or a report; what it cannot show is said on stderr, once. */
function openLogSession(path: string, allowTruncated: boolean, io: Io): LogSession {
  const session = new LogSession(path, { allowTruncated });
  for (const w of session.warnings) io.stderr.write(`warning: ${w}\n`);
  return session;
}

async function stately(source: string, isLog: boolean, override: Partial<Policy>, io: Io): Promise<number> {
  let log: ParsedLog;
  if (isLog) log = readLog(source);
  else {
    const { scenario, filePolicy } = resolveScenario(source, override, 'inspect');
    const lines: string[] = [];
    const r = runScenario(scenario, { onRecord: (d) => lines.push(recordLine(d)) });
    // The whole run's log, as `run` would write it (closing record included: it is complete).
    log = parseLog([headerLine({ ...scenario, policy: filePolicy }, scenario.policy), ...lines, closingLine(r.messages, r.steps.length)].join('\n') + '\n', scenario.name);
  }
  // Check before sending: a log the model does not reproduce would be cut off mid-way.
  const check = replay(log, {});
  if (!check.identical) throw new UsageError(`svasim inspect --stately: ${log.source} does not replay on this model (diverges at seq ${check.seq}); see svasim replay`);
  io.stdout.write(`svasim inspect --stately: sending ${log.records.length} records of "${log.scenario.name}" to Stately's inspector (online)\n`);
  // The Sky socket reports its first failure here (it would otherwise retry and print forever).
  let failed: ((why: string) => void) | null = null;
  const failure = new Promise<string>((resolve) => (failed = resolve));
  const sky = createSkyInspector({
    onerror: (e: unknown) => {
      const err = (e as { error?: { message?: string }; message?: string }).error?.message ?? (e as { message?: string }).message ?? String(e);
      failed?.(err);
    },
  });
  const { events } = await sendToStately(log, sky.adapter);
  // Give the socket time to connect and drain (the link is printed by @statelyai/inspect when connected).
  const outcome = await Promise.race([failure, new Promise<null>((resolve) => setTimeout(() => resolve(null), io.statelyGraceMs ?? 8_000))]);
  sky.stop();
  if (outcome !== null) {
    io.stderr.write(`svasim inspect --stately: cannot reach Stately's inspector (${outcome}); --stately needs the internet — svasim inspect without it is fully offline\n`);
    return 2;
  }
  io.stdout.write(`  sent ${events} inspection events (actors, messages, snapshots) to the Sky session linked above\n`);
  return 0;
}

async function cmdReport(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('report', args, { out: { type: 'string', short: 'o' }, 'allow-truncated': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.stdout.write(`${HELP['report']}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('svasim report: expected one log file (see svasim report --help)');
  const path = positionals[0] ?? '';
  const out = values.out ?? `${path.replace(/\.jsonl$/, '')}.html`;
  // Refused before any work: the report must not replace the log it reads (same file, link or symlink).
  const inputs = [{ path, role: 'the log this report reads' }];
  refuseInputs(out, { what: 'report', inputs });
  const session = openLogSession(path, values['allow-truncated'] === true, io);
  const { bytes } = await writeReport(session, out, inputs);
  io.stdout.write(`wrote ${out} (${Math.round(bytes / 1024)} KiB, ${session.lastSeq} record${session.lastSeq === 1 ? '' : 's'}): open it in a browser, no server needed\n`);
  return 0;
}

function cmdList(args: string[], io: Io): number {
  const { values } = parse('list', args, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.stdout.write(`${HELP['list']}\n`);
    return 0;
  }
  const rows = builtinNames().map((name) => {
    const path = builtinPath(name);
    const s = path ? loadScenarioFile(path) : undefined;
    return { name, title: s?.name ?? '', policy: s?.policy, steps: s?.steps.length ?? 0 };
  });
  if (values.json) io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else for (const r of rows) io.stdout.write(`${r.name.padEnd(28)} ${(`${r.policy?.pasid}/${r.policy?.lam}`).padEnd(20)} ${r.title}\n`);
  return 0;
}
