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
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
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
 * Load plugin files in order and register their kinds into one registry (svasim's kinds included).
 * A file that is missing, throws while loading, exports no plugin, or registers a kind that clashes is a
 * PluginError naming it.
 */
export async function loadPlugins(files: readonly string[], into: Kinds = new Kinds()): Promise<Kinds> {
  for (const file of files) {
    const path = resolve(file);
    if (!existsSync(path)) throw new PluginError(`--plugin ${file}: no such file`);
    let mod: unknown;
    try {
      mod = await import(pathToFileURL(path).href);
    } catch (e) {
      const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
      throw new PluginError(`plugin ${file}: failed to load: ${why}`);
    }
    const m = mod as Record<string, unknown>;
    const p = m['default'] ?? m['plugin'];
    if (!isObject(p)) throw new PluginError(`plugin ${file}: exports no plugin (a default export { name, version, kinds }; see definePlugin)`);
    const { name, version, kinds } = p;
    if (typeof name !== 'string' || name === '') throw new PluginError(`plugin ${file}: its name is not a non-empty string`);
    if (typeof version !== 'string' || version === '') throw new PluginError(`plugin ${file} (${name}): its version is not a non-empty string`);
    if (!Array.isArray(kinds) || kinds.length === 0) throw new PluginError(`plugin ${file} (${name}): kinds is not a non-empty array of kind definitions`);
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
