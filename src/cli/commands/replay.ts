/**
 * `svasim replay`: re-execute a log and check every message, show the state at a seq (`--until`), or a
 * what-if under another policy (`--policy`).
 */
import { LOG_FORMAT_VERSION, MODEL_VERSION } from '../../version.ts';
import { parsePolicyOverride } from '../../scenario/load.ts';
import { LogError, readLog, type ParsedLog } from '../../log/reader.ts';
import { divergenceData, replay, replayFile, type ReplayResult } from '../../replay/replay.ts';
import { formatWhatIf, whatIf } from '../../replay/whatif.ts';
import { DivergenceError, SeekableLog } from '../../replay/checkpoints.ts';
import { formatState, systemState } from '../../runtime/state.ts';
import { count, parse, parseEngine, pluginChangeLines, pluginKinds, pluginLabel, PLUGIN_OPTION, seqOption } from '../args.ts';
import { UsageError, type Command, type Io } from '../command.ts';
import { styleFor, type Style } from '../trace.ts';

const HELP = `usage: svasim replay <log.jsonl> [options]

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
  --plugin FILE       load a plugin whose kinds the log names (repeatable); a log naming one that is
                      not loaded is refused
  -h, --help          this help

exit status: 0 identical, 1 diverged, 2 bad input (unreadable, malformed or damaged log)`;

async function cmdReplay(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('replay', args, {
    'allow-truncated': { type: 'boolean' },
    json: { type: 'boolean' },
    until: { type: 'string' },
    policy: { type: 'string' },
    engine: { type: 'string' },
    ...PLUGIN_OPTION,
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  const engine = parseEngine('replay', values.engine);
  if (engine !== undefined && (values.until !== undefined || values.policy !== undefined)) {
    throw new UsageError('svasim replay: --engine applies to a whole-log replay (not with --until or --policy)');
  }
  if (positionals.length !== 1) throw new UsageError('svasim replay: expected one log file (see svasim replay --help)');
  const kinds = await pluginKinds(values.plugin);
  if (values.policy !== undefined) {
    if (values.until !== undefined) throw new UsageError('svasim replay: --policy and --until exclude each other');
    const override = parsePolicyOverride(values.policy);
    const wlog = readLog(positionals[0] ?? '', { allowTruncated: values['allow-truncated'] === true, kinds });
    if (wlog.header.scheduler?.name === 'explore') {
      throw new UsageError(`svasim replay: ${wlog.source} is an exploration's counterexample (its steps interleaved, cut at its finding): --policy re-runs a run step by step; explore the scenario under that policy instead (svasim explore <scenario> --policy ${values.policy})`);
    }
    for (const line of pluginChangeLines(wlog.source, wlog.pluginChanges)) io.stderr.write(`${line}\n`);
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
  const notes = (log: Pick<ParsedLog, 'source' | 'upcastFrom' | 'otherModel' | 'header' | 'pluginChanges'>): void => {
    if (log.upcastFrom !== null) io.stderr.write(`note: ${log.source} is in log format ${log.upcastFrom}; converted to format ${LOG_FORMAT_VERSION}\n`);
    if (log.otherModel) {
      io.stderr.write(`warning: ${log.source} was written by svasim model ${log.header.model}; this is model ${MODEL_VERSION}: a divergence may be a model change\n`);
    }
    for (const line of pluginChangeLines(log.source, log.pluginChanges)) io.stderr.write(`${line}\n`);
  };
  /** An incomplete log read as its prefix: said once, in replay's words (reader.ts `incompleteWhy`). */
  const incompleteNote = (source: string, incomplete: { readonly why: string } | null | undefined): void => {
    if (incomplete) io.stderr.write(`note: ${source} is incomplete, replayed as a prefix: ${incomplete.why}\n`);
  };
  if (until !== undefined) {
    // With a current index, read only the nearest checkpoint and the records after it.
    if (!allowTruncated) {
      try {
        const fast = SeekableLog.seekFile(positionals[0] ?? '', until, systemState, kinds);
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
    const seekable = SeekableLog.open(positionals[0] ?? '', { allowTruncated, kinds, warn: (line) => io.stderr.write(`${line}\n`) });
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
  let head: Pick<ParsedLog, 'source' | 'upcastFrom' | 'otherModel' | 'header' | 'scenario' | 'pluginChanges'> | null = null;
  const r = replayFile(positionals[0] ?? '', { allowTruncated, ...(kinds === undefined ? {} : { kinds }), ...(engine === undefined ? {} : { engine }), onHead: (h) => {
    head = h;
    notes(h);
  } });
  const log = head as Pick<ParsedLog, 'source' | 'upcastFrom' | 'otherModel' | 'header' | 'scenario' | 'pluginChanges'> | null;
  if (log === null) throw new Error('replayFile did not report the log header');
  if (values.json) {
    // The records as objects (a consumer should not have to parse JSON inside JSON).
    out(JSON.stringify({ log: log.source, ...(r.identical ? r : { ...divergenceData(r), truncated: r.truncated }) }, null, 2));
    return r.identical ? 0 : 1;
  }
  if (r.identical) {
    out(st.green(`identical: ${r.records} records of ${log.source} replayed (${log.scenario.name}; pasid=${log.scenario.policy.pasid} lam=${log.scenario.policy.lam})`));
    // An exploration's counterexample: the same deliveries reach the same states, so its finding (named in
    // the header) is reproduced with them — a final state's mismatch too, which no record shows.
    const f = log.header.scheduler?.finding;
    if (f !== undefined) out(`  it reproduces what exploration found at seq ${f.seq}: ${f.kind} ${f.what}: ${f.detail}`);
    incompleteNote(log.source, r.incomplete);
    return 0;
  }
  printDivergence(r, log, out, st);
  return 1;
}

function printDivergence(
  r: Extract<ReplayResult, { identical: false }>,
  log: Pick<ParsedLog, 'otherModel' | 'header' | 'upcastFrom' | 'pluginChanges'>,
  out: (line: string) => void,
  st: Style,
): void {
  // What may explain it, as the warnings on stderr said: another model, another plugin version.
  const from = [...(log.otherModel ? [`model ${log.header.model}`] : []), ...log.pluginChanges.map((c) => `plugin ${pluginLabel(c.logged)}`)];
  const what = [...(log.otherModel ? ['model'] : []), ...(log.pluginChanges.length > 0 ? ['plugin'] : [])].join(' or ');
  const hint = from.length === 0 ? '' : ` (the log is from ${from.join(' and ')}: this may be a ${what} change)`;
  out(st.bold(st.red(`diverged at seq ${r.seq}${hint}`)));
  // Only a complete log (its closing record) diverges at its end: a cut one, any format, is incomplete.
  const ends = '(the log ends here, complete: its closing record follows)';
  out(`  logged:   ${r.expected ?? ends}`);
  out(`  replayed: ${r.actual ?? '(nothing)'}`);
  if (r.causes.length > 0) {
    out('  caused by (logged):');
    for (const c of r.causes) out(`    ${c}`);
  }
}

export const replayCommand: Command = {
  name: 'replay',
  synopsis: [['replay <log.jsonl>', 're-execute a log in its recorded order and check every message']],
  help: HELP,
  run: cmdReplay,
};
