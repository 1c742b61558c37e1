/**
 * The command line driven in-process (`main(argv, io)`) with captured output, for tests: what a user
 * would see on stdout and stderr, and the exit code. A stack trace on the captured stderr fails the test
 * (stack-guard.ts), as one on the process's own would.
 */
import { main, type Io } from '../../src/cli/main.ts';
import { checkOutput } from './stack-guard.ts';

export interface Ran {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export async function cli(argv: string[], opts: { tty?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  let out = '';
  let err = '';
  const io: Io = {
    stdout: { write: (s: string) => void (out += s), isTTY: opts.tty ?? false },
    stderr: { write: (s: string) => void (err += s), isTTY: opts.tty ?? false },
    env: opts.env ?? {},
  };
  const code = await main(argv, io);
  checkOutput(err, `svasim ${argv.join(' ')} (stderr)`);
  return { code, out, err };
}
