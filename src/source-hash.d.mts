/** The hash of the sources under `root` (src/, machines/, tsconfig.build.json, tsconfig.json): every file's path and bytes. */
export function sourceHash(root: string): string;
/** Whether `root`'s build (dist/) was made from exactly the sources under `root` now (false when they cannot be read). */
export function builtFromSources(root: string): boolean;
/** The file of the build that records the hash of what it was built from (in dist/). */
export const SOURCE_HASH_FILE: string;
