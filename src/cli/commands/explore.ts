/**
 * `svasim explore`: not in this version. The command exists only to say so (exit 2; `--help` exit 0),
 * pointing at the README's "Not yet implemented", which says what is planned.
 */
import { UsageError, type Command, type Io } from '../command.ts';

const HELP = `svasim explore: not in this version (planned: the README's section "Not yet implemented" says what it will do)`;

/** Any arguments: it does nothing yet, so there is nothing to parse (only --help is looked for). */
function cmdExplore(args: string[], io: Io): number {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  throw new UsageError('svasim explore: not in this version (planned: see the README\'s section "Not yet implemented")');
}

export const exploreCommand: Command = {
  name: 'explore',
  synopsis: [['explore', 'not in this version (the README\'s "Not yet implemented" says what is planned)']],
  help: HELP,
  run: cmdExplore,
};
