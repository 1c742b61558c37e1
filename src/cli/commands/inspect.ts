/**
 * `svasim inspect`: the offline inspector served on 127.0.0.1 for a scenario (run live) or a log (time
 * travel), or with `--stately` the run sent to Stately's online inspector.
 */
import { createSkyInspector } from '@statelyai/inspect';
import type { Policy } from '../../../machines/protocol.ts';
import { parsePolicyOverride } from '../../scenario/load.ts';
import { runScenario } from '../../runner/run.ts';
import { parseLog, readLog, type ParsedLog } from '../../log/reader.ts';
import { closingLine, headerLine, pluginRefs, recordLine } from '../../log/format.ts';
import { replay } from '../../replay/replay.ts';
import { LiveSession } from '../../inspect/session.ts';
import { sendToStately } from '../../inspect/stately.ts';
import { parse, pluginChangeLines, pluginKinds, PLUGIN_HELP, PLUGIN_OPTION, resolveScenario } from '../args.ts';
import type { Kinds } from '../../runtime/kinds.ts';
import { UsageError, type Command, type Io } from '../command.ts';
import { looksLikeLog, openLogSession, serve } from '../inspect.ts';

const HELP = `usage: svasim inspect <scenario.json|builtin-name|log.jsonl> [options]

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
${PLUGIN_HELP}
  -h, --help               this help

Ctrl-C stops the server.`;

async function cmdInspect(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('inspect', args, {
    port: { type: 'string' },
    policy: { type: 'string' },
    stately: { type: 'boolean' },
    'allow-truncated': { type: 'boolean' },
    ...PLUGIN_OPTION,
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
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
  const kinds = await pluginKinds(values.plugin);
  if (values.stately) return stately(source, isLog, override, io, kinds);
  const session = isLog
    ? openLogSession(source, values['allow-truncated'] === true, io, kinds)
    : (() => {
        const { scenario, filePolicy } = resolveScenario(source, override, 'inspect', kinds);
        return new LiveSession(scenario, filePolicy, kinds);
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

async function stately(source: string, isLog: boolean, override: Partial<Policy>, io: Io, kinds: Kinds | undefined): Promise<number> {
  let log: ParsedLog;
  if (isLog) {
    log = readLog(source, { kinds });
    for (const line of pluginChangeLines(log.source, log.pluginChanges)) io.stderr.write(`${line}\n`);
  } else {
    const { scenario, filePolicy } = resolveScenario(source, override, 'inspect', kinds);
    const lines: string[] = [];
    const r = runScenario(scenario, { onRecord: (d) => lines.push(recordLine(d)), kinds });
    // The whole run's log, as `run` would write it (closing record included: it is complete).
    const head = headerLine({ ...scenario, policy: filePolicy }, scenario.policy, kinds ? pluginRefs(kinds) : []);
    log = parseLog([head, ...lines, closingLine(r.messages, r.steps.length)].join('\n') + '\n', scenario.name, { kinds });
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

export const inspectCommand: Command = {
  name: 'inspect',
  synopsis: [['inspect <scenario|log> [--port N]', 'the offline inspector: statecharts, sequence, time travel, live steps']],
  help: HELP,
  run: cmdInspect,
};
