/**
 * The built-in scenarios: every `*.json` file in this folder, by file name without the extension.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUILTIN_DIR = dirname(fileURLToPath(import.meta.url));

export function builtinNames(): string[] {
  return readdirSync(BUILTIN_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** The path of a built-in scenario, or `undefined` when there is none by that name. */
export function builtinPath(name: string): string | undefined {
  const p = join(BUILTIN_DIR, `${name}.json`);
  return /^[\w.-]+$/.test(name) && existsSync(p) ? p : undefined;
}
