/**
 * `svasim schema`: the scenario format's JSON Schema on stdout, the same document the package ships as
 * `scenario.schema.json` (both are `scenarioJsonSchemaText()`), for an editor or a validator that is not
 * given the installed file.
 */
import { scenarioJsonSchemaText } from '../../scenario/json-schema.ts';
import { parse } from '../args.ts';
import { UsageError, type Command, type Io } from '../command.ts';

const HELP = `usage: svasim schema

Prints the scenario format's JSON Schema (draft-07) on stdout: the file the package ships as
node_modules/svasim/scenario.schema.json. A scenario file whose "$schema" names it gets validation,
completion and hover text in an editor:

  { "$schema": "./node_modules/svasim/scenario.schema.json", "scenario": 1, ... }

The schema accepts everything svasim's loader accepts; its description lists what only the loader
checks (names that must resolve, min <= max, ...), which 'svasim run' reports.`;

function cmdSchema(args: string[], io: Io): number {
  const { values, positionals } = parse('schema', args, { help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [extra] = positionals;
  if (extra !== undefined) {
    throw new UsageError(`svasim schema: unexpected argument "${extra}" (it takes none; to save the schema: svasim schema > scenario.schema.json)`);
  }
  io.stdout.write(scenarioJsonSchemaText());
  return 0;
}

export const schemaCommand: Command = {
  name: 'schema',
  synopsis: [['schema', "print the scenario format's JSON Schema (for editors)"]],
  help: HELP,
  run: cmdSchema,
};
