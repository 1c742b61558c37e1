/** `svasim report`: one self-contained HTML file of a log (the inspector page with its data inlined). */
import { refuseInputs } from '../../log/io.ts';
import { parse, pluginKinds, PLUGIN_OPTION } from '../args.ts';
import { UsageError, type Command, type Io } from '../command.ts';
import { openLogSession, writeReport } from '../inspect.ts';

const HELP = `usage: svasim report <log.jsonl> [--out FILE] [--allow-truncated]

Writes one HTML file that opens from disk with no server and no network: the inspector page with the
log's sequence view, the state after each step and the final state inlined.

options:
  -o, --out FILE      the HTML file (default: the log's path with its .jsonl extension replaced by
                      .html, e.g. run.jsonl -> run.html; any other name gets .html appended)
  --allow-truncated   open the complete prefix of an incomplete log (a run killed, stopped or whose
                      writes failed): no closing record, its last line or header cut short, records
                      that stop between or inside steps, header only
  --plugin FILE       load a plugin whose kinds the log names (repeatable)
  -h, --help          this help`;

async function cmdReport(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('report', args, { out: { type: 'string', short: 'o' }, 'allow-truncated': { type: 'boolean' }, ...PLUGIN_OPTION, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('svasim report: expected one log file (see svasim report --help)');
  const path = positionals[0] ?? '';
  const out = values.out ?? `${path.replace(/\.jsonl$/, '')}.html`;
  // Refused before any work: the report must not replace the log it reads (same file, link or symlink).
  const inputs = [{ path, role: 'the log this report reads' }];
  refuseInputs(out, { what: 'report', inputs });
  const kinds = await pluginKinds(values.plugin);
  const session = openLogSession(path, values['allow-truncated'] === true, io, kinds);
  const { bytes } = await writeReport(session, out, inputs);
  io.stdout.write(`wrote ${out} (${Math.round(bytes / 1024)} KiB, ${session.lastSeq} record${session.lastSeq === 1 ? '' : 's'}): open it in a browser, no server needed\n`);
  return 0;
}

export const reportCommand: Command = {
  name: 'report',
  synopsis: [['report <log> [--out FILE]', 'one self-contained HTML file (sequence view and final state)']],
  help: HELP,
  run: cmdReport,
};
