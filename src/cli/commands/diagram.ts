/** `svasim diagram`: Mermaid text, a stateDiagram per machine or a sequenceDiagram of a log's records. */
import type { AnyStateMachine } from 'xstate';
import { MACHINES } from '../../../machines/index.ts';
import { cutOf, incompleteLine, incompleteWhy, readLog } from '../../log/reader.ts';
import { replay } from '../../replay/replay.ts';
import { machineDiagram, sequenceDiagram } from '../../inspect/mermaid.ts';
import { count, parse, pluginKinds, PLUGIN_OPTION, seqOption } from '../args.ts';
import { UsageError, type Command, type Io } from '../command.ts';

const HELP = `usage: svasim diagram [thread|mm|iommu|wq|file|kernel|KIND|all] [--plugin FILE]
       svasim diagram --log FILE [--from SEQ] [--to SEQ] [--allow-truncated] [--plugin FILE]

Writes Mermaid text to stdout: a stateDiagram-v2 per machine, read from the machine definitions
(arrows for transitions that change state; in-place handlers listed under each state), or a
sequenceDiagram of a log's records with one lane per actor (#GP traps, SIGSEGV and DMAR faults drawn
as lost messages). --allow-truncated draws the complete prefix of an incomplete log.
--plugin FILE (repeatable) loads a plugin: a log that names it can be drawn, and a kind it registers
whose behavior is an xstate machine is drawn by its name (and with all).`;

async function cmdDiagram(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('diagram', args, {
    log: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    'allow-truncated': { type: 'boolean' },
    ...PLUGIN_OPTION,
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  const kinds = await pluginKinds(values.plugin);
  if (values.log !== undefined) {
    if (positionals.length > 0) throw new UsageError('svasim diagram: --log takes no machine name');
    const allowTruncated = values['allow-truncated'] === true;
    // Read as a prefix whatever the flag: a cut log is refused below, in replay's words and with what
    // --allow-truncated does here (draws, not replays).
    const log = readLog(values.log, { allowTruncated: true, kinds });
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
  // svasim's machines, then the plugins' kinds that are xstate machines (a decider has no statechart).
  const machines = new Map<string, AnyStateMachine>(Object.entries(MACHINES));
  for (const d of kinds?.registered() ?? []) {
    const m = kinds?.get(d.name)?.machine;
    if (m !== undefined) machines.set(d.name, m);
  }
  const names = which === 'all' ? [...machines.keys()] : [which];
  for (const name of names) {
    const m = machines.get(name);
    if (!m) {
      if (kinds?.get(name) !== undefined) throw new UsageError(`svasim diagram: kind "${name}" is not an xstate machine (a decider): it has no statechart to draw`);
      throw new UsageError(`svasim diagram: unknown machine "${name}" (expected ${[...machines.keys()].join(', ')} or all${kinds === undefined ? '; a plugin\'s kind needs --plugin FILE' : ''})`);
    }
    io.stdout.write(`${names.length > 1 ? `%% ${name}\n` : ''}${machineDiagram(m)}`);
  }
  return 0;
}

export const diagramCommand: Command = {
  name: 'diagram',
  synopsis: [
    ['diagram [machine|all]', 'Mermaid stateDiagram of the machines (thread, mm, iommu, wq, kernel, plugin kinds)'],
    ['diagram --log FILE [--from N --to M]', 'Mermaid sequenceDiagram of log records'],
  ],
  help: HELP,
  run: cmdDiagram,
};
