/** `svasim run`: one scenario with its trace, summary and event log, or `--all` built-ins, a verdict each. */
import type { ParseArgsConfig } from 'node:util';
import type { Policy } from '../../../machines/protocol.ts';
import { loadScenarioFile, parsePolicyOverride } from '../../scenario/load.ts';
import { runScenario, type RunResult } from '../../runner/run.ts';
import { builtinNames, builtinPath } from '../../scenarios/index.ts';
import type { EngineKind } from '../../runtime/system.ts';
import { RandomScheduler } from '../../runtime/scheduler.ts';
import { parse, parseEngine, pluginKinds, PLUGIN_HELP, PLUGIN_OPTION, resolveScenario } from '../args.ts';
import { UsageError, type Command, type Io } from '../command.ts';
import { formatFailure, styleFor, summaryLines, TracePrinter } from '../trace.ts';

const HELP = `usage: svasim run <scenario.json|builtin-name> [options]
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
  --scheduler fifo|random  the delivery order within each step: FIFO (default), or a seeded random
                           interleaving (per-channel order kept); its seed goes in the log header
  --seed N                 the random scheduler's seed (0..4294967295; default 0)
  --max-step-messages N    stop (exit 2) when one step delivers N messages without reaching
                           quiescence: an actor that loops (default 1,000,000)
  --json                   print a machine-readable result instead of the trace
  --quiet                  print only the summary and failures
  --all                    run every built-in scenario (one verdict line each)
${PLUGIN_HELP}
  -h, --help               this help

exit status: 0 all expectations hold, 1 an expectation or invariant failed, 2 bad input`;

const RUN_OPTIONS = {
  policy: { type: 'string' },
  log: { type: 'string' },
  'no-log': { type: 'boolean' },
  flush: { type: 'string' },
  engine: { type: 'string' },
  scheduler: { type: 'string' },
  seed: { type: 'string' },
  'max-step-messages': { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  all: { type: 'boolean' },
  ...PLUGIN_OPTION,
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

async function cmdRun(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('run', args, RUN_OPTIONS);
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  const override = values.policy === undefined ? {} : parsePolicyOverride(values.policy);
  const engine = parseEngine('run', values.engine);
  if (values.all) {
    if (positionals.length > 0) throw new UsageError('svasim run: --all takes no scenario argument');
    if (values.plugin !== undefined) throw new UsageError('svasim run: --all runs the built-in scenarios, which use no plugin');
    if (values.scheduler !== undefined || values.seed !== undefined) throw new UsageError('svasim run: --all runs each built-in in FIFO order; --scheduler and --seed need one scenario');
    // --all writes no logs (one verdict per built-in): a log option would be silently ignored.
    for (const o of ['log', 'flush'] as const) if (values[o] !== undefined) throw new UsageError(`svasim run: --all writes no logs; --${o} needs one scenario (svasim run <name> --${o} …)`);
    return runAll(io, override, engine, values.json === true);
  }
  if (positionals.length !== 1) throw new UsageError('svasim run: expected one scenario file or built-in name (see svasim run --help)');
  if (values.log !== undefined && values['no-log']) throw new UsageError('svasim run: --log and --no-log exclude each other');
  const flush = values.flush;
  if (flush !== undefined && flush !== 'step' && flush !== 'record') throw new UsageError(`svasim run: --flush expects step or record, got "${flush}"`);
  if (flush !== undefined && values['no-log']) throw new UsageError('svasim run: --flush needs a log (it excludes --no-log)');
  const scheduler = parseScheduler(values.scheduler, values.seed);
  const maxStep = values['max-step-messages'];
  if (maxStep !== undefined && (!/^\d+$/.test(maxStep) || Number(maxStep) < 1 || !Number.isSafeInteger(Number(maxStep)))) {
    throw new UsageError(`svasim run: --max-step-messages expects a positive integer, got "${maxStep}"`);
  }
  const kinds = await pluginKinds(values.plugin);
  const { scenario, filePolicy, name, file } = resolveScenario(positionals[0] ?? '', override, 'run', kinds);
  const log = values['no-log'] ? undefined : (values.log ?? `${name}.jsonl`);
  const st = styleFor(io.stdout, io.env);
  const out = (line: string): void => {
    io.stdout.write(`${line}\n`);
  };
  const tracing = !values.json && !values.quiet;
  const printer = new TracePrinter(out, st);
  // The log is opened (locked, refused if it is the scenario file) before the first step runs.
  const result = runScenario(scenario, {
    ...(log === undefined ? {} : { log, logInputs: [{ path: file, role: 'the scenario this run reads' }, ...(values.plugin ?? []).map((path) => ({ path, role: 'a plugin this run loads' }))] }),
    kinds,
    ...(scheduler === undefined ? {} : { scheduler }),
    ...(maxStep === undefined ? {} : { maxStepMessages: Number(maxStep) }),
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

/** `--scheduler` and `--seed`: `undefined` for FIFO (the default, not written in the header). */
function parseScheduler(name: string | undefined, seed: string | undefined): RandomScheduler | undefined {
  if (name === undefined || name === 'fifo') {
    if (seed !== undefined) throw new UsageError('svasim run: --seed applies to --scheduler random');
    return undefined;
  }
  if (name !== 'random') throw new UsageError(`svasim run: --scheduler expects fifo or random, got "${name}"`);
  if (seed === undefined) return new RandomScheduler(0);
  const n = Number(seed);
  if (!/^\d+$/.test(seed) || n > 0xffffffff) throw new UsageError(`svasim run: --seed expects an integer from 0 to 4294967295, got "${seed}"`);
  return new RandomScheduler(n);
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

export const runCommand: Command = {
  name: 'run',
  synopsis: [
    ['run <scenario.json|builtin-name>', 'run a scenario, print its trace and summary, write its event log'],
    ['run --all', 'run every built-in scenario, one verdict line each'],
  ],
  help: HELP,
  run: cmdRun,
};
