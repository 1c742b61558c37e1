/**
 * What several commands share: option parsing in svasim's words, a scenario named by file or built-in
 * name, `--engine`, and seq options. Mistakes are `UsageError`s (one line, exit 2).
 */
import { basename } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Policy } from '../../machines/protocol.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import type { Scenario } from '../scenario/types.ts';
import { builtinPath } from '../scenarios/index.ts';
import type { EngineKind } from '../runtime/system.ts';
import { UsageError } from './command.ts';
import { loadPlugins } from './plugins.ts';
import type { Kinds } from '../runtime/kinds.ts';
import type { PluginChange } from '../log/reader.ts';

/** `--plugin FILE` (repeatable): ES modules that register actor kinds (plugins.ts). */
export const PLUGIN_OPTION = { plugin: { type: 'string', multiple: true } } as const satisfies ParseArgsConfig['options'];
export const PLUGIN_HELP = `  --plugin FILE            load an ES module that registers actor kinds (device models, foreign
                           actors); repeatable. A log names its plugins: replay, inspect and report
                           need the same --plugin (README "Library")`;

/** The registry of the `--plugin` files (`undefined`: none given, svasim's kinds only). */
export async function pluginKinds(files: readonly string[] | undefined): Promise<Kinds | undefined> {
  return files === undefined || files.length === 0 ? undefined : loadPlugins(files);
}

/** A name or version read from a log, printable on one line (a header is input: it may hold anything). */
const shown = (s: string): string => (/^[\x21-\x7e]+$/.test(s) ? s : JSON.stringify(s));

/** `name version` of a plugin as a log header names it, safe to print. */
export const pluginLabel = (p: { readonly name: string; readonly version: string }): string => `${shown(p.name)} ${shown(p.version)}`;

/**
 * One warning per plugin the log's header names whose kinds are loaded from another version (or another
 * plugin): like the "written by svasim model X" warning, it tells a plugin change from a model change
 * before any divergence is shown.
 */
export function pluginChangeLines(source: string, changes: readonly PluginChange[]): string[] {
  return changes.map((c) => {
    const logged = pluginLabel(c.logged);
    const now = c.loaded.map(pluginLabel).join(' and ');
    const sameName = c.loaded.every((l) => l.name === c.logged.name);
    const loaded = sameName ? `loaded ${now}` : `its kind${c.kinds.length === 1 ? '' : 's'} ${c.kinds.join(', ')} ${c.kinds.length === 1 ? 'is' : 'are'} loaded from plugin ${now}`;
    return `warning: ${source} was written with plugin ${logged}; ${loaded}: a divergence may be a plugin change`;
  });
}

/**
 * `parseArgs`'s result for `options`, spelled out: node:util does not export its name, and the built
 * declarations (dist/) need one.
 */
type Parsed<O extends NonNullable<ParseArgsConfig['options']>> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/**
 * `node:util`'s `parseArgs` (strict, positionals allowed) with its errors said as one line naming the
 * command: an unknown option points at the command's --help, and an option whose value looks like
 * another option says how to pass it anyway.
 */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], options: O): Parsed<O> {
  // A negative number after an option that takes a value is that value (`--workers -1`): its own check
  // then says what is wrong with it, rather than that it looks like an option.
  const given: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const next = args[i + 1];
    if (a.startsWith('--') && !a.includes('=') && options[a.slice(2)]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      given.push(`${a}=${next}`);
      i++;
    } else given.push(a);
  }
  try {
    return parseArgs({ args: given, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
    const unknown = /^Unknown option '([^']+)'/.exec(msg);
    const ambiguous = /^Option '([^']+)' argument is ambiguous/.exec(msg);
    if (ambiguous) {
      const opt = ambiguous[1]?.split(/[ ,]/)[0] ?? '';
      const i = given.indexOf(opt);
      throw new UsageError(`svasim ${command}: ${opt} got "${given[i + 1] ?? ''}", which looks like an option (write ${opt}=VALUE if you mean it)`);
    }
    throw new UsageError(`svasim ${command}: ${unknown ? `unknown option ${unknown[1]} (see svasim ${command} --help)` : msg}`);
  }
}

/** A file path, or the name of a built-in scenario; the override applied on top of the file's policy. */
export function resolveScenario(arg: string, override: Partial<Policy>, command = 'run', kinds?: Kinds): { scenario: Scenario; filePolicy: Policy; name: string; file: string } {
  const builtin = builtinPath(arg);
  let name: string;
  let file: string;
  if (builtin && !arg.endsWith('.json')) {
    file = builtin;
    name = arg;
  } else if (!arg.endsWith('.json') && !arg.includes('/')) {
    throw new UsageError(`svasim ${command}: "${arg}" is neither a scenario file${command === 'inspect' ? ', a log' : ''} nor a built-in scenario (see svasim list)`);
  } else {
    file = arg;
    name = basename(arg).replace(/\.json$/, '');
  }
  const loaded = loadScenarioFile(file, undefined, { kinds });
  return { scenario: { ...loaded, policy: { ...loaded.policy, ...override } }, filePolicy: loaded.policy, name, file };
}

/** `--engine`: how actors are stepped (`undefined`: the default). */
export function parseEngine(command: string, value: string | undefined): EngineKind | undefined {
  if (value === undefined || value === 'compiled' || value === 'xstate') return value;
  throw new UsageError(`svasim ${command}: --engine expects compiled or xstate, got "${value}"`);
}

/** Thousands separators, as the reader's messages write counts. */
export const count = (n: number): string => n.toLocaleString('en-US');

/**
 * A seq option: digits only, within the integers a number holds exactly (a larger one would be echoed
 * rounded); `undefined` when absent. Messages echo the argument as typed.
 */
export function seqOption(cmd: string, name: string, v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`svasim ${cmd}: --${name} expects a seq ${what}, got "${v}"`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new UsageError(`svasim ${cmd}: --${name} ${v} is too large (a seq is at most ${Number.MAX_SAFE_INTEGER})`);
  return n;
}
