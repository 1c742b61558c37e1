/**
 * The `svasim` command line (SPEC §8): the dispatcher. Each command is its own module under commands/
 * with its help text; this file holds only the table of commands, the main help and the exit codes.
 * Exit codes: 0 all expectations hold, 1 an expectation or invariant failed, 2 bad input (one line on
 * stderr, no stack trace).
 */
import { ScenarioError } from '../scenario/load.ts';
import { LOG_FORMAT_VERSION, MODEL_VERSION } from '../version.ts';
import { LogError } from '../log/reader.ts';
import { UsageError, type Command, type Io } from './command.ts';
import { PluginError } from './plugins.ts';
import { KindError } from '../runtime/kinds.ts';
import { RunawayStepError } from '../runner/run.ts';
import { runCommand } from './commands/run.ts';
import { replayCommand } from './commands/replay.ts';
import { listCommand } from './commands/list.ts';
import { diagramCommand } from './commands/diagram.ts';
import { inspectCommand } from './commands/inspect.ts';
import { reportCommand } from './commands/report.ts';
import { exploreCommand } from './commands/explore.ts';
import { schemaCommand } from './commands/schema.ts';

// The dispatcher's API as before the commands moved out (tests and tools import them from here).
export { UsageError, type Command, type Io };

/** Every command, in the order `svasim --help` lists them: adding a command is one line here. */
const COMMANDS: readonly Command[] = [runCommand, replayCommand, listCommand, diagramCommand, inspectCommand, reportCommand, exploreCommand, schemaCommand];

/** What an unknown or missing command is told to use (the commands that work, most used first). */
const EXPECTED = 'expected run, list, replay, inspect, report or diagram';

/** `svasim --help`: the commands' synopses between a fixed head and foot, in one column. */
function mainHelp(): string {
  const lines = COMMANDS.flatMap((c) => c.synopsis.map(([usage, what]) => `  ${usage.padEnd(33)}  ${what}`));
  return `svasim — event-sourced actor simulation of the x86 Linux SVA stack (PASID, IA32_PASID, ENQCMD, #GP, DMAR, LAM)

usage: svasim <command> [options]

commands:
${lines.join('\n')}

Run 'svasim <command> --help' for a command's options.`;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        throw new UsageError(`svasim: missing command (${EXPECTED}; see svasim --help)`);
      case '--version':
      case '-V':
        io.stdout.write(`svasim ${MODEL_VERSION} (log format ${LOG_FORMAT_VERSION})\n`);
        return 0;
      case '-h':
      case '--help':
      case 'help':
        io.stdout.write(`${mainHelp()}\n`);
        return 0;
    }
    const found = COMMANDS.find((c) => c.name === command);
    if (!found) throw new UsageError(`svasim: unknown command "${command}" (${EXPECTED}; see svasim --help)`);
    return await found.run(rest, io);
  } catch (e) {
    // A plugin's mistake (a bad kind, a message its schema refuses) is bad input too: one line, exit 2.
    if (e instanceof UsageError || e instanceof ScenarioError || e instanceof LogError || e instanceof PluginError || e instanceof KindError || e instanceof RunawayStepError) {
      io.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
