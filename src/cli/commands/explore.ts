/**
 * `svasim explore`: a scenario's interleavings, searched exhaustively (bfs) or sampled (random, PCT);
 * each finding written as an ordinary event log that `replay` reproduces and `inspect` opens on it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import type { ParseArgsConfig } from 'node:util';
import { lastValueFrom, tap } from 'rxjs';
import { explore, minimize, STRATEGIES, tuneGcForLanes, writeCounterexample, type ExploreProgress, type ExploreSummary, type Finding, type Strategy } from '../../explore/index.ts';
import { mergeShards, MergeError, shardResultSchema, type ShardResult } from '../../explore/merge.ts';
import { parsePolicyOverride } from '../../scenario/load.ts';
import { builtinPath } from '../../scenarios/index.ts';
import type { FindingKind } from '../../runtime/scheduler.ts';
import type { Scenario } from '../../scenario/types.ts';
import { match } from 'ts-pattern';
import { parse, parseEngine, pluginKinds, PLUGIN_HELP, PLUGIN_OPTION, resolveScenario } from '../args.ts';
import { UsageError, type Command, type Io } from '../command.ts';
import { styleFor, TracePrinter, type Style } from '../trace.ts';

const HELP = `usage: svasim explore <scenario.json|builtin-name> [options]
       svasim explore --merge DIR… [--json]

Runs each thread's steps as a concurrent program (program order kept; a step waits for its thread to
exist; spawn steps, and each device's complete steps, are programs of their own) with every message
delivery a choice (messages between the same two actors keep their order), and checks the invariants
and the scenario's forbid in every state reached. Each finding is written as an ordinary event log that
svasim replay reproduces and svasim inspect opens on the violating message. The scenario's expect is
not checked (it describes the one schedule svasim run takes); its final only with --final.
The README's "Exploring interleavings" says what is checked where, and how each strategy searches.

options:
  --strategy bfs|random|pct  bfs: exhaustive, breadth first, the shortest counterexample first (default);
                           random: seeded random schedules; pct: PCT schedules of depth --pct-depth
  --seed N                 random and pct: the seed (default 0); schedule i is reproducible from it
  --schedules N            random and pct: how many schedules (default 1000)
  --pct-depth D            pct: the bug depth it targets (default 3)
  --max-depth N            expand no state deeper than N transitions
  --max-states N           bfs: stop after N distinct states
  --time SECONDS           stop after this long
  --max-memory MB          past MB of a searching thread's memory, let go of waiting states
                           (rebuilt from their paths later), and stop 10% over it (it can only
                           lower the default: 85% and 95% of Node's old-generation limit, which
                           NODE_OPTIONS=--max-old-space-size=MB raises)
  --no-reduction           bfs without sleep sets (the unreduced search, for comparison)
  --no-minimize            do not minimize counterexamples (by default each is followed by a smaller
                           one: the scenario's steps it does not need dropped, the shortest schedule
                           of what is left, written as <name>.<what>.min.jsonl)
  --continue               keep searching after the first finding (one counterexample per invariant
                           or forbidden type)
  --final                  check the scenario's "final" in every final state (all steps run, nothing
                           pending): an interleaving that ends otherwise is a finding
  --workers N              search on N threads (default 1): this one, which starts at once, and N-1
                           worker threads, which join once loaded; bfs shares one visited set between
                           them (it grows as needed) and balances their load; random and pct split
                           the schedules
  --shard K/N              run part K of the search split N ways (0 <= K < N): random and pct, the
                           schedules i with i mod N = K; bfs, the states that fall to K once the
                           first levels are searched (by every shard alike). Writes, besides the
                           logs, <name>.shard-K-of-N.json (and .fps: its fingerprints) in --out.
                           A shard runs on one thread (not with --workers)
  --merge DIR…             combine the shard results found in the directories: the findings, and for
                           bfs the exact number of distinct states of the shards' union
  --out DIR                where counterexamples go (default: the current directory), one log each:
                           <name>.<what>.jsonl
  --policy pasid=P,lam=L   override the scenario's policy
  --engine compiled|xstate how actors are stepped (default compiled)
  --json                   print the summary and findings as JSON (progress still goes to stderr)
  --quiet                  no progress, no counterexample traces: the summary only
${PLUGIN_HELP}
  -h, --help               this help

Progress goes to stderr: a live line on a terminal, a plain line every 5 s otherwise. Ctrl-C stops the
search and prints the summary so far; a bounded or interrupted search proves nothing beyond its bound.

exit status: 0 nothing found, 1 a finding (its log written), 2 bad input`;

const OPTIONS = {
  strategy: { type: 'string' },
  seed: { type: 'string' },
  schedules: { type: 'string' },
  'pct-depth': { type: 'string' },
  'max-depth': { type: 'string' },
  'max-states': { type: 'string' },
  'max-memory': { type: 'string' },
  time: { type: 'string' },
  'no-reduction': { type: 'boolean' },
  'no-minimize': { type: 'boolean' },
  continue: { type: 'boolean' },
  final: { type: 'boolean' },
  shard: { type: 'string' },
  workers: { type: 'string' },
  merge: { type: 'boolean' },
  out: { type: 'string' },
  policy: { type: 'string' },
  engine: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  ...PLUGIN_OPTION,
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** A count option: a positive integer (`min` 0 allows 0). */
function count(name: string, v: string | undefined, min = 1, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`svasim explore: --${name} expects ${max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`}, got "${v}"`);
  }
  return n;
}

function parseShard(v: string | undefined): { k: number; n: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(v);
  const k = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (!m || !Number.isSafeInteger(k) || !Number.isSafeInteger(n) || n < 1 || k >= n) {
    throw new UsageError(`svasim explore: --shard expects K/N with 0 <= K < N (e.g. 0/4), got "${v}"`);
  }
  return { k, n };
}

/**
 * Make the output directory before searching (a search's result must not be lost to a bad --out):
 * missing directories are made one at a time from the deepest one that exists.
 */
function makeDir(dir: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  for (;;) {
    let st;
    try {
      st = statSync(d);
    } catch {
      missing.push(d);
      const up = dirname(d);
      if (up === d) break;
      d = up;
      continue;
    }
    if (!st.isDirectory()) throw new UsageError(`svasim explore: --out ${dir}: ${d} is not a directory`);
    break;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      throw new UsageError(`svasim explore: --out ${dir}: cannot make ${m} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
}

/** A file name part from a finding (`G10`, `fault.dmar`, `stuck`). */
const slug = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '-');

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtTime = (ms: number): string => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/** Resident memory, as the progress line shows it. */
const fmtMem = (bytes: number): string => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`);

function progressLine(p: ExploreProgress, strategy: Strategy): string {
  if (strategy === 'bfs') {
    return `explore: ${fmt(p.distinct)} distinct states, ${fmt(p.transitions)} transitions, ${fmt(p.rate)} states/s, depth ${p.depth}, frontier ${fmt(p.frontier)}, ${fmtMem(p.memoryBytes)}, ${fmtTime(p.elapsedMs)}`;
  }
  return `explore: ${fmt(p.schedules)} schedules, ${fmt(p.transitions)} transitions, ${fmt(p.rate)} transitions/s, ${fmtMem(p.memoryBytes)}, ${fmtTime(p.elapsedMs)}`;
}

async function cmdExplore(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('explore', args, OPTIONS);
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.merge) {
    const other = Object.keys(values).filter((k) => !['merge', 'json', 'help'].includes(k) && values[k as keyof typeof values] !== undefined);
    if (other.length > 0) throw new UsageError(`svasim explore --merge: --${other[0] ?? ''} does not apply (a merge reads the shards' results: only --json)`);
    return mergeCommand(positionals, values, io);
  }
  if (positionals.length !== 1) throw new UsageError('svasim explore: expected one scenario file or built-in name (see svasim explore --help)');
  const strategy = (values.strategy ?? 'bfs') as Strategy;
  if (!STRATEGIES.includes(strategy)) throw new UsageError(`svasim explore: --strategy expects ${STRATEGIES.join(', ')}, got "${values.strategy ?? ''}"`);
  const sampling = strategy !== 'bfs';
  for (const o of ['seed', 'schedules'] as const) {
    if (!sampling && values[o] !== undefined) throw new UsageError(`svasim explore: --${o} applies to --strategy random or pct`);
  }
  if (strategy !== 'pct' && values['pct-depth'] !== undefined) throw new UsageError('svasim explore: --pct-depth applies to --strategy pct');
  if (sampling && values['no-reduction']) throw new UsageError('svasim explore: --no-reduction applies to --strategy bfs');
  if (sampling && values['max-states'] !== undefined) throw new UsageError('svasim explore: --max-states applies to --strategy bfs (random and pct count schedules: --schedules)');
  const seed = count('seed', values.seed, 0, 0xffffffff);
  const schedules = count('schedules', values.schedules);
  const pctDepth = count('pct-depth', values['pct-depth'], 1, 64);
  const maxDepth = count('max-depth', values['max-depth']);
  const maxStates = count('max-states', values['max-states']);
  const maxMemoryMb = count('max-memory', values['max-memory']);
  const shard = parseShard(values.shard);
  const workers = count('workers', values.workers, 1, 64);
  if (workers !== undefined && workers > 1 && shard !== undefined) throw new UsageError('svasim explore: --workers and --shard exclude each other (a shard runs in one process; run more shards instead)');
  let timeMs: number | undefined;
  if (values.time !== undefined) {
    const t = Number(values.time);
    if (!/^\d+(\.\d+)?$/.test(values.time) || !(t > 0)) throw new UsageError(`svasim explore: --time expects a positive number of seconds, got "${values.time}"`);
    timeMs = t * 1000;
  }
  const override = values.policy === undefined ? {} : parsePolicyOverride(values.policy);
  const engine = parseEngine('explore', values.engine);
  const kinds = await pluginKinds(values.plugin);
  const { scenario, name } = resolveScenario(positionals[0] ?? '', override, 'explore', kinds);
  if (values.final === true && Object.keys(scenario.final.pasid).length + Object.keys(scenario.final.refs).length + Object.keys(scenario.final.msr).length === 0) {
    throw new UsageError(`svasim explore: --final: the scenario ${name} has no "final" to check`);
  }
  const out = values.out ?? '.';
  makeDir(out);
  const st = styleFor(io.stdout, io.env);
  const print = (line: string): void => {
    io.stdout.write(`${line}\n`);
  };
  const quiet = values.quiet === true;
  const json = values.json === true;
  const live = io.stderr.isTTY === true && io.env['TERM'] !== 'dumb';
  let liveShown = false;
  const clearLive = (): void => {
    if (liveShown) io.stderr.write('\r\x1b[2K');
    liveShown = false;
  };
  const progressEveryMs = live ? 250 : 5000;
  if (!json) {
    const how = strategy === 'bfs' ? `bfs${values['no-reduction'] ? ', no reduction' : ', sleep sets'}` : `${strategy}, seed ${seed ?? 0}, ${fmt(schedules ?? 1000)} schedules${strategy === 'pct' ? `, depth ${pctDepth ?? 3}` : ''}${shard ? `, shard ${shard.k}/${shard.n}` : ''}`;
    print(st.bold(`explore ${scenario.name}`));
    print(`  policy pasid=${scenario.policy.pasid} lam=${scenario.policy.lam}; ${scenario.steps.length} steps; ${how}`);
  }
  // Ctrl-C: the search stops between slices and ends with its summary.
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  if (io.until !== undefined) void io.until.then(onSignal);
  else {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const written: { finding: Finding; file: string; seq: number; minimized?: { file: string; seq: number; kept: readonly number[]; depth: number } }[] = [];
  let summary: ExploreSummary | undefined;
  // Lanes in threads of this process: young-generation collections on each lane's own thread (measured).
  if (workers !== undefined && workers > 1) tuneGcForLanes();
  const events = explore(scenario, {
    strategy, seed, schedules, pctDepth, maxDepth, maxStates, timeMs, shard, engine, kinds, pluginFiles: values.plugin, workers, maxHeapBytes: maxMemoryMb === undefined ? undefined : maxMemoryMb * 2 ** 20,
    reduction: values['no-reduction'] !== true,
    checkFinal: values.final === true,
    continueAfterFinding: values.continue === true,
    progressEveryMs,
    signal: abort.signal,
  }).pipe(
    tap((e) => {
      if (e.type === 'progress' && !quiet) {
        const line = progressLine(e.progress, strategy);
        if (live) {
          io.stderr.write(`\r\x1b[2K${line}`);
          liveShown = true;
        } else io.stderr.write(`${line}\n`);
      } else if (e.type === 'finding') {
        clearLive();
        const file = join(out, `${slug(name)}.${slug(e.finding.what)}${shard === undefined ? '' : `.shard-${shard.k}-of-${shard.n}`}.jsonl`);
        const trace = writeCounterexample(file, scenario, e.finding, { kinds, engine, strategy, seed, pctDepth });
        const entry: (typeof written)[number] = { finding: e.finding, file, seq: trace.seq };
        written.push(entry);
        if (!json) showFinding(print, st, scenario, e.finding, file, trace, quiet, values.plugin ?? []);
        if (values['no-minimize'] !== true) {
          const m = minimize(scenario, e.finding, { kinds, engine, maxStates: Math.max(20_000, 2 * (maxStates ?? 100_000)) });
          if (m.kept.length < scenario.steps.length || m.finding.depth < e.finding.depth) {
            const minFile = file.replace(/\.jsonl$/, '.min.jsonl');
            const t = writeCounterexample(minFile, m.scenario, m.finding, { kinds, engine, strategy: 'bfs' });
            entry.minimized = { file: minFile, seq: t.seq, kept: m.kept, depth: m.finding.depth };
            if (!json) {
              print(`  minimized: ${m.kept.length} of ${scenario.steps.length} steps (${m.kept.join(', ')}), ${m.finding.depth} transitions: ${minFile} (the finding is seq ${t.seq})`);
            }
          } else if (!json) print('  minimized: every step is needed, and the schedule is already the shortest');
        }
      } else if (e.type === 'done') summary = e.summary;
    }),
  );
  try {
    await lastValueFrom(events, { defaultValue: undefined });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  clearLive();
  if (summary === undefined) throw new Error('explore ended without a summary');
  if (shard !== undefined) {
    // A shard's result, for `svasim explore --merge`: its summary, its findings' logs, its fingerprints.
    const base = `${slug(name)}.shard-${shard.k}-of-${shard.n}`;
    let fpsFile: string | null = null;
    let fpsSha256: string | undefined;
    if (summary.fingerprints !== undefined) {
      fpsFile = `${base}.fps`;
      const f = summary.fingerprints;
      const bytes = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
      writeFileSync(join(out, fpsFile), bytes);
      fpsSha256 = createHash('sha256').update(bytes).digest('hex');
    }
    const result: ShardResult = {
      svasim: 'explore-shard',
      format: 1,
      scenario: scenario.name,
      policy: scenario.policy,
      strategy,
      ...(strategy === 'bfs' ? {} : { seed: seed ?? 0 }),
      shard,
      search: {
        // The policy first: a merge of shards run under different policies names it, not a hash.
        policy: `pasid=${scenario.policy.pasid} lam=${scenario.policy.lam}`,
        scenarioSha256: createHash('sha256').update(JSON.stringify(scenario)).digest('hex'),
        plugins: (values.plugin ?? []).map((p) => basename(p)).join(' '),
        engine: engine ?? 'compiled',
        schedules: schedules ?? null,
        pctDepth: pctDepth ?? null,
        maxDepth: maxDepth ?? null,
        maxStates: maxStates ?? null,
        reduction: values['no-reduction'] !== true,
        continue: values.continue === true,
        final: values.final === true,
      },
      complete: summary.complete,
      boundedBy: [...summary.boundedBy],
      stats: { ...summary.stats },
      findings: written.map((w) => ({
        kind: w.finding.kind, what: w.finding.what, detail: w.finding.detail, depth: w.finding.depth,
        ...(w.finding.schedule === undefined ? {} : { schedule: w.finding.schedule }), log: relative(out, w.file), seq: w.seq,
      })),
      fingerprints: fpsFile,
      ...(fpsSha256 === undefined ? {} : { fingerprintsSha256: fpsSha256 }),
    };
    writeFileSync(join(out, `${base}.json`), `${JSON.stringify(result, null, 2)}\n`);
    if (!json) print(`  shard result: ${join(out, `${base}.json`)} (svasim explore --merge DIR… combines the shards)`);
  }
  if (json) {
    const { fingerprints: _fps, ...plain } = summary;
    // A shard is complete only as a part: the search's verdict is --merge's (shard.complete says the part ran to its end).
    const part = shard === undefined ? {} : { complete: false, shard: { k: shard.k, n: shard.n, complete: summary.complete } };
    const findings = written.map((w) => ({ ...w.finding, log: w.file, seq: w.seq, ...(w.minimized === undefined ? {} : { minimized: { log: w.minimized.file, seq: w.minimized.seq, steps: w.minimized.kept, depth: w.minimized.depth } }) }));
    print(JSON.stringify({ name: scenario.name, policy: scenario.policy, ...plain, ...part, findings }, null, 2));
  } else {
    for (const line of summaryText(summary, st, shard, values.final === true)) print(line);
  }
  return summary.findings.length > 0 ? 1 : 0;
}

/** `--merge DIR…`: every shard result in the directories, combined into one verdict. */
function mergeCommand(dirs: readonly string[], values: { readonly json?: boolean | undefined }, io: Io): number {
  if (dirs.length === 0) throw new UsageError('svasim explore --merge: expected one or more directories holding shard results (<name>.shard-K-of-N.json)');
  const results: { result: ShardResult; where: string; fingerprints: Uint32Array | null }[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      // A scenario given with --merge (the shards' results name theirs): say so rather than "not a directory".
      const scenarioLike = dir.endsWith('.json') || builtinPath(dir) !== undefined;
      throw new UsageError(`svasim explore --merge: ${dir}: ${scenarioLike ? 'a scenario does not apply (a merge reads the directories of shard results given; each names its scenario)' : 'not a directory'}`);
    }
    for (const file of readdirSync(dir).filter((f) => /\.shard-\d+-of-\d+\.json$/.test(f)).sort()) {
      const where = join(dir, file);
      let value: unknown;
      try {
        value = JSON.parse(readFileSync(where, 'utf8'));
      } catch (e) {
        throw new UsageError(`svasim explore --merge: ${where}: not JSON (${(e as Error).message})`);
      }
      const parsed = shardResultSchema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new UsageError(`svasim explore --merge: ${where}: not a shard result: ${issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'refused'}`);
      }
      const r = parsed.data;
      let fingerprints: Uint32Array | null = null;
      if (r.fingerprints !== null) {
        const path = join(dir, r.fingerprints);
        if (!existsSync(path)) throw new UsageError(`svasim explore --merge: ${where}: its fingerprints file ${path} is missing`);
        const bytes = readFileSync(path);
        if (bytes.byteLength % 8 !== 0) throw new UsageError(`svasim explore --merge: ${path}: not a fingerprints file (${bytes.byteLength} bytes, not a multiple of 8)`);
        // A damaged or swapped file would change the count of distinct states, and the verdict with it.
        if (bytes.byteLength / 8 !== r.stats.distinct) throw new UsageError(`svasim explore --merge: ${path}: holds ${bytes.byteLength / 8} fingerprints, but ${where} says its shard saw ${r.stats.distinct} states (a damaged or swapped file)`);
        if (r.fingerprintsSha256 !== undefined && createHash('sha256').update(bytes).digest('hex') !== r.fingerprintsSha256) {
          throw new UsageError(`svasim explore --merge: ${path}: not the fingerprints ${where} wrote (its SHA-256 differs: a damaged or swapped file)`);
        }
        fingerprints = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      }
      results.push({ result: { ...r, findings: r.findings.map((f) => ({ ...f, log: join(dir, f.log) })) }, where, fingerprints });
    }
  }
  if (results.length === 0) throw new UsageError(`svasim explore --merge: no shard results (<name>.shard-K-of-N.json) in ${dirs.join(', ')}`);
  let m;
  try {
    m = mergeShards(results);
  } catch (e) {
    if (e instanceof MergeError) throw new UsageError(`svasim explore --merge: ${e.message}`);
    throw e;
  }
  const st = styleFor(io.stdout, io.env);
  const print = (line: string): void => {
    io.stdout.write(`${line}\n`);
  };
  if (values.json === true) {
    // The shape of a search's --json (name, policy, strategy, complete, boundedBy, stats, findings), with the shards' count.
    const stats = { distinct: m.distinct, transitions: m.transitions, schedules: m.schedules, workMs: m.workMs };
    print(JSON.stringify({ name: m.scenario, policy: m.policy, strategy: m.strategy, ...(m.seed === undefined ? {} : { seed: m.seed }), shards: m.shards, complete: m.complete, boundedBy: m.boundedBy, stats, findings: m.findings, collisionProbability: Math.min(1, (m.distinct * m.distinct) / 2 ** 63) }, null, 2));
    return m.findings.length > 0 ? 1 : 0;
  }
  print(st.bold(`explore ${m.scenario}: ${m.shards} shards merged (${m.strategy})`));
  for (const f of m.findings) {
    const what = findingWords(f, false);
    print(`${st.bold(st.red(`FOUND: ${what}`))} after ${f.depth} transitions (shard ${f.shard}): ${f.detail}`);
    print(`  log: ${f.log} (the finding is seq ${f.seq})`);
  }
  print('');
  print(st.bold('summary:'));
  if (m.strategy === 'bfs') print(`  ${fmt(m.distinct)} distinct states in all (shards overlap: ${fmt(m.transitions)} transitions taken over the shards)`);
  else print(`  ${fmt(m.schedules)} schedules, ${fmt(m.transitions)} transitions over the shards`);
  print(`  ${(m.workMs / 1000).toFixed(1)} s of work over the shards`);
  const bounded = m.boundedBy.filter((b) => b !== 'first-finding');
  if (m.complete) print('  complete: every shard searched its part to the end; together every reachable state was checked');
  else if (m.strategy !== 'bfs') print('  a sample of schedules: it proves nothing about the schedules it did not run');
  else print(`  ${bounded.length > 0 ? `bounded by ${bounded.join(', ')}` : 'stopped at first findings'}: it proves nothing beyond the states the shards saw`);
  if (m.findings.length > 0) print(st.bold(st.red(`FOUND: ${m.findings.length} finding(s)`)));
  else print(st.bold(st.green('NOTHING FOUND')) + (m.complete ? ': no interleaving breaks an invariant or the forbid list' : ' in the states the shards saw'));
  return m.findings.length > 0 ? 1 : 0;
}

function showFinding(print: (l: string) => void, st: Style, scenario: Scenario, f: Finding, file: string, trace: { records: readonly import('../../runtime/system.ts').Delivered[]; seq: number }, quiet: boolean, plugins: readonly string[]): void {
  const what = findingWords(f, true);
  print('');
  print(st.bold(st.red(`FOUND: ${what}`)) + ` after ${f.depth} transitions${f.schedule === undefined ? '' : ` (schedule index ${f.schedule}: the ${ordinal(f.schedule + 1)} schedule)`}`);
  print(`  ${f.detail}`);
  if (!quiet) {
    const printer = new TracePrinter(print, st);
    printer.schedule(trace.records, scenario.steps, trace.seq);
  }
  print(`  log: ${file} (${trace.records.length} records; the finding is seq ${trace.seq}${f.kind === 'invariant' ? ', the invariant.violation record' : ''})`);
  // The plugins the run loaded: the log needs them again.
  const p = plugins.map((f) => ` --plugin ${f}`).join('');
  // One command a line (each can be copied as it is).
  print(`  replay it:           svasim replay ${file}${p}`);
  print(`  every actor there:   svasim replay ${file} --until ${trace.seq}${p}`);
  print(`  see it:              svasim inspect ${file}${p}`);
}

const ordinal = (n: number): string => `${n}${n % 100 >= 11 && n % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;

/** What a finding is, in words (`long`: with what a stuck state or a final one means). */
function findingWords(f: { readonly kind: FindingKind; readonly what: string; readonly detail: string }, long: boolean): string {
  return match(f.kind)
    .with('invariant', () => `invariant ${f.what} violated`)
    .with('forbid', () => `forbidden ${f.what} delivered`)
    .with('stuck', () => (long ? 'stuck (messages pending that no actor takes)' : 'stuck'))
    .with('final', () => (long ? `a final state unlike the scenario's final (${f.what})` : `final state: ${f.what}`))
    .exhaustive();
}

/** A bound in words. */
function boundWords(b: string): string {
  switch (b) {
    case 'max-depth':
      return 'bounded by --max-depth (states that deep were not expanded; with random or pct, schedules were cut there)';
    case 'max-states':
      return 'bounded by --max-states (with --workers, a few more states may be counted: they insert at once)';
    case 'time':
      return 'stopped by --time';
    case 'interrupted':
      return 'interrupted';
    case 'first-finding':
      return 'stopped at the first finding';
    case 'memory':
      return "stopped before running out of memory (--max-memory; Node's heap limit: NODE_OPTIONS=--max-old-space-size=MB raises it)";
    default:
      return b;
  }
}

function summaryText(s: ExploreSummary, st: Style, shard: { readonly k: number; readonly n: number } | undefined, final = false): string[] {
  const p = s.stats;
  const lines: string[] = [''];
  lines.push(st.bold('summary:'));
  if (s.strategy === 'bfs') {
    lines.push(`  ${fmt(p.distinct)} distinct states, ${fmt(p.transitions)} transitions taken${p.slept > 0 ? ` (${fmt(p.slept)} more slept: sleep sets)` : ''}, depth ${p.depth}, ${fmt(p.finals)} final state${p.finals === 1 ? '' : 's'} reached (states where nothing is left to run)`);
  } else {
    lines.push(`  ${fmt(p.schedules)} schedules, ${fmt(p.transitions)} transitions, depth up to ${p.depth}`);
  }
  const unit = s.strategy === 'bfs' ? 'distinct states' : 'transitions';
  // With --workers: this thread searched from the start; the worker threads joined once loaded.
  const joined = p.startMs <= 0 ? '' : p.startMs >= p.elapsedMs ? ' (it ended before the worker thread(s) had joined)' : ` (the worker thread(s) joined after ${(p.startMs / 1000).toFixed(1)} s; this thread searched from the start)`;
  lines.push(`  ${(p.elapsedMs / 1000).toFixed(1)} s, ${fmt(p.rate)} ${unit}/s${joined}`);
  if (p.shed > 0) lines.push(`  the heap filled: waiting states were let go ${fmt(p.shed)} times, each rebuilt from its path when its turn came`);
  const bounded = s.boundedBy.filter((b) => b !== 'schedules');
  if (s.complete && shard !== undefined) {
    lines.push(`  shard ${shard.k}/${shard.n} searched its part to the end: svasim explore --merge over every shard's result gives the verdict`);
  } else if (s.complete) {
    const past = s.findings.length > 0 ? ', except past its findings (a state that breaks something is not searched further)' : '';
    lines.push(`  complete: every reachable state was checked${past} (the odds that a fingerprint collision hid one: ${s.collisionProbability.toExponential(1)})`);
  } else if (s.strategy !== 'bfs') {
    lines.push(`  a sample of schedules${bounded.length > 0 ? `, ${bounded.map(boundWords).join(', ')}` : ''}: it proves nothing about the schedules it did not run`);
  } else if (bounded.length === 1 && bounded[0] === 'first-finding' && shard === undefined) {
    lines.push('  stopped at its first finding (--continue searches on for findings of other kinds): it proves nothing about the states it did not see');
  } else {
    lines.push(`  ${bounded.map(boundWords).join(', ')}: it proves nothing beyond the states it saw`);
  }
  if (s.findings.length > 0) lines.push(st.bold(st.red(`FOUND: ${s.findings.length} finding(s)`)));
  else if (shard !== undefined) lines.push(st.bold(st.green('NOTHING FOUND')) + ` in shard ${shard.k}/${shard.n}'s part: the other shards' results and --merge decide`);
  else lines.push(st.bold(st.green('NOTHING FOUND')) + (s.complete ? `: no interleaving breaks an invariant or the forbid list${final ? ", and every one ends as the scenario's final says" : ''}` : s.boundedBy.includes('interrupted') ? ' before it was interrupted' : ' within the bound'));
  // Uniform random choices rarely let one actor run late, which is what many races need (README, Benchmark).
  if (s.findings.length === 0 && s.strategy === 'random') lines.push('  (random picks uniformly, so an actor rarely runs late; a race that needs one to is what --strategy pct finds)');
  return lines;
}

export const exploreCommand: Command = {
  name: 'explore',
  synopsis: [['explore <scenario.json|builtin-name>', 'search its interleavings; write each finding as a replayable log']],
  help: HELP,
  run: cmdExplore,
};
