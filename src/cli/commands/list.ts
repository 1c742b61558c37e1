/** `svasim list`: the built-in scenarios with their policies and titles. */
import { loadScenarioFile } from '../../scenario/load.ts';
import { builtinNames, builtinPath } from '../../scenarios/index.ts';
import { parse } from '../args.ts';
import type { Command, Io } from '../command.ts';

const HELP = `usage: svasim list [--json]

Lists the built-in scenarios with their policies and titles.`;

function cmdList(args: string[], io: Io): number {
  const { values } = parse('list', args, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
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

export const listCommand: Command = {
  name: 'list',
  synopsis: [['list', 'list the built-in scenarios']],
  help: HELP,
  run: cmdList,
};
