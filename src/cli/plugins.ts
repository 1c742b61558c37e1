/**
 * Plugins: ES modules that register actor kinds (src/runtime/kinds.ts) for the CLI's
 * `--plugin FILE` (run, replay, inspect, report, explore) and for library users who load the same files.
 *
 * A plugin's default export (or its export named `plugin`) is `{ name, version, kinds }`, where each kind
 * is a {@link KindDefinition}; {@link definePlugin} types it. The log header names every plugin whose
 * kinds a run registered, so a replay without them is refused instead of diverging.
 *
 * Every mistake is a {@link PluginError}: one line naming the plugin file and what is wrong.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KindError, Kinds, type KindDefinition } from '../runtime/kinds.ts';

/** What a plugin module exports. */
export interface Plugin {
  /** The plugin's name as the log header records it (a package name, say). */
  readonly name: string;
  readonly version: string;
  readonly kinds: readonly KindDefinition[];
}

/** Types a plugin's default export (it returns its argument). */
export function definePlugin(plugin: Plugin): Plugin {
  return plugin;
}

/** A plugin that cannot be loaded or registered: one line naming the file. */
export class PluginError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * A plugin's name as a package name is written (npm's rules, capitals tolerated as old packages have
 * them): an optional `@scope/`, then letters, digits, `.`, `_`, `~`, `-`; at most 214 characters. It
 * is printed in messages and written into every log header, so nothing that could break a line.
 */
const PLUGIN_NAME = /^(?:@[A-Za-z0-9~-][A-Za-z0-9._~-]*\/)?[A-Za-z0-9~-][A-Za-z0-9._~-]*$/;
const PLUGIN_NAME_MAX = 214;
/** A version: printable ASCII with no blank (a semver, a date, a commit), at most 64 characters. */
const PLUGIN_VERSION = /^[\x21-\x7e]{1,64}$/;

/** A value from a plugin, quoted for a one-line message (long ones cut). */
function quoted(v: unknown): string {
  if (typeof v !== 'string') return v === undefined ? 'undefined' : (JSON.stringify(v) ?? String(v));
  return v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}… (${v.length} characters)` : JSON.stringify(v);
}

/**
 * Where a module that failed to load is wrong, as `file:line:column`, when Node says. A module that
 * imports a name its dependency lacks gets the position in its stack's first lines (`file:///…:3`, the
 * source line, a caret); a parse error in the plugin file itself carries none in Node 20, so the file
 * is parsed again by `node --check` (parsed, not run), whose report has it. `undefined`: not known.
 */
function failurePosition(e: unknown, path: string, file: string): string | undefined {
  const at = (where: string, caretLine: string | undefined, line: string): string | undefined => {
    const col = caretLine?.indexOf('^') ?? -1;
    const shown = where === path ? file : where;
    return `${shown}:${line}${col >= 0 ? `:${col + 1}` : ''}`;
  };
  if (!(e instanceof Error)) return undefined;
  const lines = (e.stack ?? '').split('\n');
  const first = /^(file:\/\/.+|\/.+):(\d+)$/.exec(lines[0] ?? '');
  if (first?.[1] !== undefined && first[2] !== undefined) {
    return at(first[1].startsWith('file:') ? fileURLToPath(first[1]) : first[1], lines[2], first[2]);
  }
  if (e.name !== 'SyntaxError') return undefined;
  const check = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8', timeout: 10_000 });
  const out = (check.stderr ?? '').split('\n');
  const where = /^(.+):(\d+)$/.exec(out[0] ?? '');
  return where?.[1] === path && where[2] !== undefined ? at(path, out[2], where[2]) : undefined;
}

/**
 * The plugin a module exports: its default export or its export `plugin`. A module with both is
 * refused (which one it meant is a guess) unless they are the same object, or the default is a
 * CommonJS module's `exports` whose `plugin` it is.
 */
function exported(m: Record<string, unknown>, file: string): unknown {
  const d = m['default'];
  const p = m['plugin'];
  if (d === undefined || p === undefined || d === p || (isObject(d) && d['plugin'] === p)) return p ?? d;
  throw new PluginError(`plugin ${file}: exports both default and plugin: export one`);
}

/**
 * Load plugin files in order and register their kinds into one registry (svasim's kinds included).
 * `files` is one path or several. A file that is missing, throws while loading (a syntax error with its
 * line and column), exports no plugin or two, has a name or version that is not one, is loaded twice,
 * or registers a kind that clashes is a PluginError naming it.
 */
export async function loadPlugins(files: string | readonly string[], into: Kinds = new Kinds()): Promise<Kinds> {
  // A JavaScript caller's mistakes, said as such (a string is one file, not its characters).
  if (typeof files !== 'string' && !Array.isArray(files)) throw new TypeError(`loadPlugins: expected a plugin file or an array of them, got ${quoted(files)}`);
  const list: readonly unknown[] = typeof files === 'string' ? [files] : files;
  if (!(into instanceof Kinds)) throw new TypeError('loadPlugins: the registry to load into must be a Kinds (new Kinds())');
  const seen = new Map<string, string>();
  /** The file each plugin name came from (in this call). */
  const names = new Map<string, string>();
  for (const file of list) {
    if (typeof file !== 'string') throw new TypeError(`loadPlugins: a plugin file is a path, got ${quoted(file)}`);
    const path = resolve(file);
    if (!existsSync(path)) throw new PluginError(`--plugin ${file}: no such file`);
    const real = realpathSync(path);
    const earlier = seen.get(real);
    if (earlier !== undefined) throw new PluginError(`plugin ${file}: loaded twice (${earlier === file ? 'named twice' : `it is ${earlier}`})`);
    seen.set(real, file);
    let mod: unknown;
    try {
      mod = await import(pathToFileURL(path).href);
    } catch (e) {
      const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
      const where = failurePosition(e, path, file);
      throw new PluginError(`plugin ${file}: failed to load: ${where === undefined ? '' : `${where}: `}${why}`);
    }
    const p = exported(mod as Record<string, unknown>, file);
    if (!isObject(p)) throw new PluginError(`plugin ${file}: exports no plugin (a default export { name, version, kinds }; see definePlugin)`);
    const { name, version, kinds } = p;
    if (typeof name !== 'string' || name === '') throw new PluginError(`plugin ${file}: its name is not a non-empty string`);
    if (!PLUGIN_NAME.test(name) || name.length > PLUGIN_NAME_MAX) {
      throw new PluginError(`plugin ${file}: its name ${quoted(name)} is not a package name (at most ${PLUGIN_NAME_MAX} of A-Z a-z 0-9 . _ ~ -, optionally @scope/)`);
    }
    if (typeof version !== 'string' || version === '') throw new PluginError(`plugin ${file} (${name}): its version is not a non-empty string`);
    if (!PLUGIN_VERSION.test(version)) throw new PluginError(`plugin ${file} (${name}): its version ${quoted(version)} is not 1 to 64 printable characters without blanks`);
    if (!Array.isArray(kinds) || kinds.length === 0) throw new PluginError(`plugin ${file} (${name}): kinds is not a non-empty array of kind definitions`);
    // The same plugin again (a copy of its file, two files re-exporting it, a program loading it twice):
    // a log header names a plugin once, so one registry holds one plugin of a name.
    const loaded = into.registered().find((d) => d.origin?.name === name)?.origin;
    if (loaded !== undefined) {
      const from = names.get(name);
      throw new PluginError(`plugin ${file}: loaded twice (plugin ${name} ${loaded.version} is already loaded${from === undefined ? '' : ` from ${from}`})`);
    }
    names.set(name, file);
    for (const [i, k] of kinds.entries()) {
      if (!isObject(k)) throw new PluginError(`plugin ${file} (${name}): kinds[${i}] is not a kind definition`);
      try {
        into.register({ ...(k as unknown as KindDefinition), origin: { name, version } });
      } catch (e) {
        if (e instanceof KindError) throw new PluginError(`plugin ${file}: ${e.message.replace(/^plugin [^:]+: /, '')}`);
        throw e;
      }
    }
  }
  return into;
}
