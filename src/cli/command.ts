/**
 * What every `svasim` command is given and how it reports a user mistake: the contract between the
 * dispatcher (main.ts) and the commands (commands/*.ts). Kept apart from main.ts so that a command can
 * import it without importing the dispatcher that imports the command (no import cycle).
 */

export interface Io {
  readonly stdout: { write(s: string): unknown; isTTY?: boolean };
  readonly stderr: { write(s: string): unknown; isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  /** Long-running commands (inspect) stop when this resolves; by default on SIGINT/SIGTERM. */
  readonly until?: Promise<unknown>;
  /** How long `inspect --stately` waits for the online inspector to connect and take the events. */
  readonly statelyGraceMs?: number;
}

/** A user mistake: printed as one line, exit 2. */
export class UsageError extends Error {}

/**
 * One `svasim <name>` command. The dispatcher (main.ts) lists them in a table: adding a command is one
 * line there. Its help lives with it: `synopsis` goes into `svasim --help`, `help` is what
 * `svasim <name> --help` prints (the command prints it itself, after parsing its options, so that an
 * unknown option is refused even next to --help).
 */
export interface Command {
  /** The word after `svasim`. */
  readonly name: string;
  /** Its lines in `svasim --help`'s command list: how it is called, and what it does. */
  readonly synopsis: readonly (readonly [usage: string, what: string])[];
  /** `svasim <name> --help`. */
  readonly help: string;
  /**
   * Runs the command on the arguments after its name; resolves to the exit code (0, or 1 when an
   * expectation failed or a replay diverged). Bad input throws `UsageError` (or the scenario and log
   * readers' own one-line errors), which the dispatcher prints as one line, exit 2.
   */
  run(args: string[], io: Io): number | Promise<number>;
}
